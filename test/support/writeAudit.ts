// The "never write to what is not ours" check, run by the controller suites: from the API server's
// own request log and Event store, every Service a controller wrote to (patch, update, delete, any
// subresource) or raised an Event on must be one it serves. Each controller talks as its own user
// (kubeConfigFor(api, user)) and records Events with its identity, so writes are attributed exactly.
import type { CoreV1Event, V1Service } from '@kubernetes/client-node';
import type { ApiServerHandle } from '../../src/apiserver/index.js';

const WRITES = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

export interface WriteAuditOptions {
  /** The kubeconfig user the controller talks as. */
  user: string;
  /** The controller's identity (its Events' reportingInstance); a pattern for a process's generated one. */
  identity: string | RegExp;
  /** Whether the controller serves this Service, judged on the object as it is now. */
  serves: (service: V1Service) => boolean;
  /** Services that may be written although they fail `serves` now (e.g. a class it served before). */
  alsoAllowed?: string[];
  /** Only writes after this point (auditMark()): for a Service that stopped being ours. */
  since?: AuditMark;
}

export interface AuditMark {
  requests: number;
  resourceVersion: number;
}

export function auditMark(api: ApiServerHandle): AuditMark {
  return { requests: api.requests.length, resourceVersion: api.store.resourceVersion };
}

/** Every Service written or evented on that the controller does not serve, as "ns/name: how". */
export function writesToServicesNotServed(api: ApiServerHandle, options: WriteAuditOptions): string[] {
  const allowed = new Set(options.alsoAllowed ?? []);
  const touched = new Map<string, string>();
  for (const r of api.requests.slice(options.since?.requests ?? 0)) {
    if (r.user !== options.user || r.resource !== 'services' || !WRITES.has(r.verb) || !r.name) continue;
    touched.set(`${r.namespace}/${r.name}`, `${r.verb}${r.subresource ? ` ${r.subresource}` : ''}`);
  }
  for (const key of api.store.keys('events')) {
    const event = api.store.get('events', key)?.obj as CoreV1Event | undefined;
    const instance = event?.reportingInstance ?? '';
    const ours = typeof options.identity === 'string' ? instance === options.identity : options.identity.test(instance);
    if (!event || !ours || event.involvedObject.kind !== 'Service') continue;
    if (Number(event.metadata?.resourceVersion ?? 0) <= (options.since?.resourceVersion ?? 0)) continue;
    touched.set(`${event.involvedObject.namespace}/${event.involvedObject.name}`, `event ${event.reason}`);
  }
  const violations: string[] = [];
  for (const [key, how] of touched) {
    if (allowed.has(key)) continue;
    const service = api.store.get('services', key)?.obj as V1Service | undefined;
    // A Service that is gone can no longer be judged; the suites check deletions explicitly.
    if (service && !options.serves(service)) violations.push(`${key}: ${how}`);
  }
  return violations.sort();
}

/** `serves` for a controller with these classes (and the class-less ones when it is the default). */
export function servesClasses(classes: readonly string[], isDefault: boolean): (service: V1Service) => boolean {
  return (service) => {
    const cls = service.spec?.loadBalancerClass;
    return cls === undefined || cls === '' ? isDefault : classes.includes(cls);
  };
}
