// The controller's writes to Services: the cleanup finalizer (merge patch with the resourceVersion
// as a precondition, re-read on conflict), status.loadBalancer (merge patch on /status) and our
// report annotations (merge patch of the one key).
import { CoreV1Api, PatchStrategy, setHeaderOptions, type V1Service } from '@kubernetes/client-node';
import type { ConditionsChange } from '../controller/serviceConditions.js';
import type { LoadBalancerIngress } from '../../providers/provider.js';
import { statusPatch } from '../controller/ingressStatus.js';
import type { EventType, KubeWriter } from '../controller/ports.js';
import { LOAD_BALANCER_CLEANUP_FINALIZER } from '../controller/serviceSelection.js';
import { statusOf } from './apiErrors.js';
import type { EventRecorder } from './eventRecorder.js';

const mergePatch = () => setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export class ServiceWriter implements KubeWriter {
  constructor(
    private readonly core: CoreV1Api,
    private readonly events: EventRecorder,
  ) {}

  /** Throws if the Service is gone: nothing may be provisioned for it without the finalizer. */
  addFinalizer(service: V1Service): Promise<void> {
    return this.editFinalizers(service, true, (list) => (list.includes(LOAD_BALANCER_CLEANUP_FINALIZER) ? undefined : [...list, LOAD_BALANCER_CLEANUP_FINALIZER]));
  }

  removeFinalizer(service: V1Service): Promise<void> {
    return this.editFinalizers(service, false, (list) =>
      list.includes(LOAD_BALANCER_CLEANUP_FINALIZER) ? list.filter((f) => f !== LOAD_BALANCER_CLEANUP_FINALIZER) : undefined,
    );
  }

  async patchIngress(service: V1Service, ingress: LoadBalancerIngress[], conditions?: ConditionsChange): Promise<void> {
    const target = { namespace: service.metadata?.namespace ?? 'default', name: service.metadata?.name ?? '' };
    if (!conditions) {
      await this.core.patchNamespacedServiceStatus({ ...target, body: statusPatch(ingress) }, mergePatch());
      return;
    }
    // status.conditions merges by type under a strategic merge patch: only our entries change.
    const body = { status: { ...statusPatch(ingress).status, conditions: [...conditions.set, ...conditions.remove.map((type) => ({ $patch: 'delete', type }))] } };
    await this.core.patchNamespacedServiceStatus({ ...target, body }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
  }

  async annotate(service: V1Service, name: string, value: string | null): Promise<void> {
    await this.core.patchNamespacedService(
      { namespace: service.metadata?.namespace ?? 'default', name: service.metadata?.name ?? '', body: { metadata: { annotations: { [name]: value } } } },
      mergePatch(),
    );
  }

  event(service: V1Service, type: EventType, reason: string, message: string): void {
    this.events.record(service, type, reason, message);
  }

  /** Finalizers are a list, replaced whole by a merge patch: guard it with the resourceVersion. */
  private async editFinalizers(service: V1Service, mustExist: boolean, edit: (current: string[]) => string[] | undefined): Promise<void> {
    const namespace = service.metadata?.namespace ?? 'default';
    const name = service.metadata?.name ?? '';
    const gone = () => {
      if (mustExist) throw new Error(`Service ${namespace}/${name} (uid ${service.metadata?.uid ?? ''}) no longer exists`);
    };
    let current: V1Service | undefined = service;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!current) {
        try {
          current = await this.core.readNamespacedService({ namespace, name });
        } catch (error) {
          if (statusOf(error) === 404) return gone();
          throw error;
        }
      }
      if (current.metadata?.uid !== service.metadata?.uid) return gone(); // a different Service now
      const next = edit(current.metadata?.finalizers ?? []);
      if (next === undefined) return;
      try {
        await this.core.patchNamespacedService(
          { namespace, name, body: { metadata: { finalizers: next, resourceVersion: current.metadata?.resourceVersion } } },
          mergePatch(),
        );
        return;
      } catch (error) {
        const status = statusOf(error);
        if (status === 404) return gone();
        if (status !== 409) throw error;
        current = undefined; // stale: read and try again
      }
    }
    throw new Error(`could not update finalizers of ${namespace}/${name}: kept conflicting`);
  }
}
