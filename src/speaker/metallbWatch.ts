// The speaker's view of MetalLB's resources: IPAddressPool, L2Advertisement, BGPPeer,
// BGPAdvertisement, BFDProfile, Community and the namespace's Secrets (BGPPeer.passwordSecret),
// read live from the metal namespace through the same informers the controller uses
// (src/kube/customResourceAccess.ts), built into the one model (src/metallb/configuration.ts).
// A change is taken at once: listeners are told, and the speaker re-evaluates.
//
// Refused objects get a Warning Event on themselves. The controller reports every problem it can
// see; it does not read Secrets, so the speakers report only what the Secrets change (a missing
// Secret, a wrong type, no password key): the same problem is not reported by the controller and
// every speaker too. Each speaker's Event names its node (source.host).
import type { KubeConfig } from '@kubernetes/client-node';
import type { CustomResourceKind } from '../../providers/provider.js';
import { buildMetallbConfiguration, type MetallbConfiguration } from '../metallb/configuration.js';
import { emptyMetallbObjects, METALLB_GROUP, METALLB_KINDS, type MetallbKindName, type ObjectProblem, type RawObject, type SecretObject } from '../metallb/objects.js';
import { customResourceAccess } from '../kube/customResourceAccess.js';
import type { EventRecorder } from '../kube/eventRecorder.js';
import type { Logger } from '../observability/logger.js';

export const INVALID_CONFIGURATION_REASON = 'InvalidConfiguration';

const SECRET_KIND: CustomResourceKind = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret' };

export interface MetallbView {
  /** The configuration built last. */
  current(): MetallbConfiguration;
  /** `listener` is called after every rebuild. */
  onChange(listener: (config: MetallbConfiguration) => void): void;
}

export interface MetallbWatch extends MetallbView {
  stop(): Promise<void>;
}

const problemKey = (p: ObjectProblem) => `${p.kind}/${p.namespace}/${p.name}/${p.uid ?? ''}/${p.field}/${p.message}`;

/** The problems only the Secrets explain: those a build without them does not have. */
export function secretProblems(withSecrets: readonly ObjectProblem[], withoutSecrets: readonly ObjectProblem[]): ObjectProblem[] {
  const seen = new Set(withoutSecrets.map(problemKey));
  return withSecrets.filter((p) => !seen.has(problemKey(p)));
}

/** A view that never changes (tests, and a speaker told not to read MetalLB's resources). */
export function fixedMetallbView(config: MetallbConfiguration): MetallbView {
  return { current: () => config, onChange: () => undefined };
}

export async function startMetallbWatch(options: { kubeConfig: KubeConfig; namespace: string; logger: Logger; events: EventRecorder }): Promise<MetallbWatch> {
  const { namespace, logger, events } = options;
  const listeners: ((config: MetallbConfiguration) => void)[] = [];
  let config = buildMetallbConfiguration(namespace, emptyMetallbObjects());
  let reported = new Set<string>();
  const access = customResourceAccess(options.kubeConfig, { logger, events });
  const kinds = [...Object.values(METALLB_KINDS).map((k) => ({ group: METALLB_GROUP, ...k })), SECRET_KIND];
  const rebuild = (byKind: Map<string, unknown[]>) => {
    const objects = emptyMetallbObjects();
    for (const name of Object.keys(objects) as MetallbKindName[]) objects[name] = (byKind.get(name) ?? []) as RawObject[];
    const secrets = (byKind.get('Secret') ?? []) as SecretObject[];
    // Pools serving before keep precedence, as on the controller.
    const serving = new Set(config.pools.map((p) => p.name));
    config = buildMetallbConfiguration(namespace, objects, { secrets, serving });
    const own = secretProblems(config.problems, buildMetallbConfiguration(namespace, objects, { serving }).problems);
    const now = new Set<string>();
    for (const p of own) {
      const key = problemKey(p);
      now.add(key);
      if (reported.has(key)) continue;
      events.recordOnObject(
        { apiVersion: `${METALLB_GROUP}/${METALLB_KINDS[p.kind].version}`, kind: p.kind, namespace: p.namespace, name: p.name, ...(p.uid ? { uid: p.uid } : {}) },
        'Warning',
        INVALID_CONFIGURATION_REASON,
        `${p.field}: ${p.message}. This ${p.kind} is left out; everything else keeps serving.`,
      );
    }
    reported = now;
    logger.info(
      { pools: config.pools.map((p) => p.name), l2: config.l2Advertisements.map((a) => a.name), peers: config.bgpPeers.map((p) => p.name), problems: config.problems.length },
      'speaker: MetalLB configuration read',
    );
    for (const listener of listeners) listener(config);
  };
  const watch = await access.watch(namespace, kinds, rebuild);
  return {
    current: () => config,
    onChange: (listener) => listeners.push(listener),
    stop: () => watch.stop(),
  };
}
