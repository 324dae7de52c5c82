// What the informer caches keep of each object: only the fields the controller and the speaker read.
// A Node carries its image list, capacity and conditions (kilobytes each, times thousands of nodes);
// every object carries managedFields. client-node's informers have no transform hook, but they hand
// the cached object itself to the add/update handlers, so these trim it in place, before any other
// handler runs (see startInformer's `trim`). Fields are dropped by assigning undefined, never with
// `delete`: a deleted property turns the object into a slow dictionary several times its size, and
// the caches hold thousands of them.
import type { V1Node, V1Service } from '@kubernetes/client-node';

export function trimService(service: V1Service): void {
  if (service.metadata) service.metadata.managedFields = undefined;
}

/** Only identity and type: a later change (of type included) arrives as a whole object again. */
function keepIdentityAndType(service: V1Service): void {
  const m = service.metadata ?? {};
  service.metadata = { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion };
  service.spec = { type: service.spec?.type };
  service.status = undefined;
}

/** For the speaker, which announces LoadBalancer Services only. */
export function trimServiceForSpeaker(service: V1Service): void {
  trimService(service);
  if (service.spec?.type !== 'LoadBalancer') keepIdentityAndType(service);
}

/**
 * For the controller: a Service it can have nothing to do with (not a LoadBalancer, without the
 * upstream cleanup finalizer and without ingress in its status) keeps only its identity and type.
 * Most of a cluster's Services are such; a LoadBalancer Service that just changed its type keeps
 * all of itself until its finalizer and status are cleaned up.
 */
export function trimServiceForController(service: V1Service): void {
  trimService(service);
  if (service.spec?.type === 'LoadBalancer') return;
  if ((service.metadata?.finalizers ?? []).length > 0) return;
  if ((service.status?.loadBalancer?.ingress ?? []).length > 0) return;
  keepIdentityAndType(service);
}

/** Keeps labels, taints, providerID, addresses and the NetworkUnavailable condition (the speaker's). */
export function trimNode(node: V1Node): void {
  if (node.metadata) node.metadata.managedFields = undefined;
  const status = node.status;
  if (!status) return;
  const networkUnavailable = (status.conditions ?? []).filter((c) => c.type === 'NetworkUnavailable');
  node.status = { ...(status.addresses ? { addresses: status.addresses } : {}), ...(networkUnavailable.length > 0 ? { conditions: networkUnavailable } : {}) };
}
