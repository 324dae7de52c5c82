// The edge that reads MetalLB's resources live: one informer per metallb.io kind in the provider's
// namespace. Every change hands the whole current set to `onChange` (coalesced), which builds the
// model with pure code. A kind whose CRD is not installed counts as empty, and is picked up when
// its CRD appears (the informer keeps retrying, slowly), so the provider works without CRDs.
import { ApiException, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { startInformer, type RunningInformer } from '../../src/kube/informers.js';
import type { Logger } from '../../src/observability/logger.js';
import { emptyMetallbObjects, METALLB_GROUP, METALLB_KINDS, type MetallbKindName, type MetallbObjects, type RawObject } from './metallbObjects.js';

export interface MetallbWatchOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  logger: Logger;
  onChange(objects: MetallbObjects): void;
  /** Slowest retry while a CRD is missing (default 30 s). */
  retryMaxMs?: number;
}

export class MetallbWatch {
  private readonly informers = new Map<MetallbKindName, RunningInformer<KubernetesObject>>();
  private scheduled = false;
  private stopped = false;
  private live = false;

  constructor(private readonly options: MetallbWatchOptions) {}

  /** Resolves once every kind has been listed once or found not installed. */
  async start(): Promise<void> {
    const { kubeConfig, namespace, logger } = this.options;
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const absent: MetallbKindName[] = [];
    await Promise.all(
      (Object.keys(METALLB_KINDS) as MetallbKindName[]).map(async (name) => {
        const { plural, version } = METALLB_KINDS[name];
        const list = async () =>
          (await custom.listNamespacedCustomObject({ group: METALLB_GROUP, version, namespace, plural })) as KubernetesListObject<KubernetesObject>;
        const changed = () => this.schedule();
        const informer = startInformer(kubeConfig, `/apis/${METALLB_GROUP}/${version}/namespaces/${namespace}/${plural}`, list, { add: changed, update: changed, delete: changed }, {
          logger: logger.child({ kind: name }),
          restartMaxMs: this.options.retryMaxMs ?? 30_000,
        });
        this.informers.set(name, informer);
        // Wait for the first list, unless the kind is not served at all (CRD not installed).
        const missing = list().then(
          () => new Promise<never>(() => {}),
          (error: unknown) => {
            if (error instanceof ApiException && error.code === 404) absent.push(name);
            else return new Promise<never>(() => {});
          },
        );
        await Promise.race([informer.waitForSync(), missing]);
      }),
    );
    if (absent.length > 0) logger.info({ kinds: absent.sort(), namespace }, 'metal: these metallb.io kinds are not served (CRDs not installed); reading them once they are');
    this.live = true;
    this.options.onChange(this.objects());
  }

  /** The objects as cached now. */
  objects(): MetallbObjects {
    const out = emptyMetallbObjects();
    for (const [name, informer] of this.informers) {
      out[name] = (informer.cache.list(this.options.namespace) as unknown as RawObject[]).slice().sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }

  /** Many events in one tick (a kubectl apply of several objects) make one rebuild. */
  private schedule(): void {
    if (this.scheduled || !this.live) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.stopped) this.options.onChange(this.objects());
    });
  }
}
