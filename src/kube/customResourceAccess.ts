// The controller's side of ProviderContext.customResources: informers on the custom resources a
// provider is configured by (metal: MetalLB's metallb.io kinds in its namespace), merge patches,
// Events on those objects, and Service annotations. Providers never hold a client; this edge does.
// A kind whose CRD is not installed counts as empty, and is picked up when its CRD appears (the
// informer keeps retrying, slowly), so a provider works without the CRDs.
import { ApiException, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Namespace } from '@kubernetes/client-node';
import type { CustomResourceAccess, CustomResourceKind } from '../../providers/provider.js';
import type { Logger } from '../observability/logger.js';
import { EventRecorder } from './eventRecorder.js';
import { startInformer, type RunningInformer } from './informers.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface CustomResourceAccessOptions {
  logger: Logger;
  events: EventRecorder;
  /** Slowest retry while a CRD is missing (default 30 s). */
  retryMaxMs?: number;
}

export function customResourceAccess(kubeConfig: KubeConfig, options: CustomResourceAccessOptions): CustomResourceAccess {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return {
    watch: (namespace, kinds, onChange) => watchKinds(kubeConfig, custom, core, namespace, kinds, onChange, options),
    watchNamespaces: (onChange) => watchNamespaces(kubeConfig, core, onChange, options),
    mergePatch: async (kind, namespace, name, body, subresource) => {
      const params = { group: kind.group, version: kind.version, namespace, plural: kind.plural, name, body };
      if (subresource === 'status') await custom.patchNamespacedCustomObjectStatus(params, mergePatch);
      else await custom.patchNamespacedCustomObject(params, mergePatch);
    },
    event: (object, type, reason, message) => options.events.recordOnObject(object, type, reason, message),
    annotateService: async (ref, key, value) => {
      await core.patchNamespacedService({ namespace: ref.namespace, name: ref.name, body: { metadata: { annotations: { [key]: value ?? null } } } }, mergePatch);
    },
    flush: () => options.events.flush(),
  };
}

async function watchKinds(
  kubeConfig: KubeConfig,
  custom: CustomObjectsApi,
  coreApi: CoreV1Api,
  namespace: string,
  kinds: readonly CustomResourceKind[],
  onChange: (objects: Map<string, unknown[]>) => void,
  options: CustomResourceAccessOptions,
): Promise<{ stop(): Promise<void> }> {
  const informers = new Map<string, RunningInformer<KubernetesObject>>();
  let live = false;
  let scheduled = false;
  let stopped = false;
  const objects = () => {
    const out = new Map<string, unknown[]>();
    for (const [kind, informer] of informers) out.set(kind, [...informer.cache.list(namespace)]);
    return out;
  };
  // Many events in one tick (a kubectl apply of several objects) make one onChange.
  const changed = () => {
    if (scheduled || !live) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (!stopped) onChange(objects());
    });
  };
  const absent: string[] = [];
  const starting = Promise.all(
    kinds.map(async (k) => {
      // The core group ("") serves Secrets (BGPPeer.passwordSecret); everything else is custom.
      const core = k.group === '';
      if (core && k.plural !== 'secrets') throw new Error(`core kind ${k.kind} is not supported here`);
      const list = async () =>
        (core ? await coreApi.listNamespacedSecret({ namespace }) : await custom.listNamespacedCustomObject({ group: k.group, version: k.version, namespace, plural: k.plural })) as KubernetesListObject<KubernetesObject>;
      const path = core ? `/api/v1/namespaces/${namespace}/${k.plural}` : `/apis/${k.group}/${k.version}/namespaces/${namespace}/${k.plural}`;
      const informer = startInformer(kubeConfig, path, list, { add: changed, update: changed, delete: changed }, {
        logger: options.logger.child({ kind: k.kind }),
        restartMaxMs: options.retryMaxMs ?? 30_000,
        // A kind whose CRD is absent fails every retry with 404: said once below, not every 30 s.
        quietOn: (error) => error instanceof ApiException && error.code === 404,
      });
      informers.set(k.kind, informer);
      // Wait for the first list, unless the kind is not served at all (CRD not installed).
      // Refused outright (RBAC): stop with the reason instead of waiting forever for a first list.
      const notServed = list().then(
        () => new Promise<never>(() => {}),
        (error: unknown) => {
          if (error instanceof ApiException && error.code === 404) absent.push(k.kind);
          else if (error instanceof ApiException && error.code === 403) {
            throw new Error(`cannot list ${k.plural}${core ? '' : `.${k.group}`} in namespace ${namespace}: forbidden (403). Grant list and watch on it to this ServiceAccount (the chart's Roles do).`, { cause: error });
          } else return new Promise<never>(() => {});
        },
      );
      await Promise.race([informer.waitForSync(), notServed]);
    }),
  );
  await starting.catch(async (error: unknown) => {
    await Promise.all([...informers.values()].map((i) => i.stop()));
    throw error;
  });
  if (absent.length > 0) options.logger.info({ kinds: absent.sort(), namespace }, 'these kinds are not served (CRDs not installed); reading them once they are');
  live = true;
  onChange(objects());
  return {
    stop: async () => {
      stopped = true;
      await Promise.all([...informers.values()].map((i) => i.stop()));
    },
  };
}

/** Every Namespace's labels (for IPAddressPool namespaceSelectors), after each change, coalesced. */
async function watchNamespaces(
  kubeConfig: KubeConfig,
  core: CoreV1Api,
  onChange: (labels: Map<string, Record<string, string>>) => void,
  options: CustomResourceAccessOptions,
): Promise<{ stop(): Promise<void> }> {
  let scheduled = false;
  let live = false;
  let stopped = false;
  const labels = () => new Map(informer.cache.list().map((n) => [n.metadata?.name ?? '', n.metadata?.labels ?? {}]));
  const changed = () => {
    if (scheduled || !live) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (!stopped) onChange(labels());
    });
  };
  const informer: RunningInformer<V1Namespace> = startInformer<V1Namespace>(kubeConfig, '/api/v1/namespaces', () => core.listNamespace(), { add: changed, update: changed, delete: changed }, {
    logger: options.logger.child({ kind: 'Namespace' }),
    restartMaxMs: options.retryMaxMs ?? 30_000,
  });
  await informer.waitForSync();
  live = true;
  onChange(labels());
  return {
    stop: async () => {
      stopped = true;
      await informer.stop();
    },
  };
}
