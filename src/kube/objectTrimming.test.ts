// What the caches keep: only what the controller and the speaker read, and lists read page by page.
import type { KubernetesListObject, V1Node, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { listInPages } from './informers.js';
import { trimNode, trimServiceForController, trimServiceForSpeaker } from './objectTrimming.js';

describe('trimming', () => {
  it('keeps of a Node its labels, taints, providerID, addresses and NetworkUnavailable only', () => {
    const node: V1Node = {
      metadata: { name: 'n1', labels: { zone: 'a' }, managedFields: [{ manager: 'kubelet' }] },
      spec: { providerID: 'aws:///a/i-1', taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] },
      status: {
        addresses: [{ type: 'InternalIP', address: '10.0.0.1' }],
        conditions: [{ type: 'Ready', status: 'True' }, { type: 'NetworkUnavailable', status: 'True' }],
        images: [{ names: ['big'], sizeBytes: 1 }],
        capacity: { cpu: '2' },
      },
    };
    trimNode(node);
    expect(node).toEqual({
      metadata: { name: 'n1', labels: { zone: 'a' } },
      spec: { providerID: 'aws:///a/i-1', taints: [{ key: 'ToBeDeletedByClusterAutoscaler', effect: 'NoSchedule' }] },
      status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }], conditions: [{ type: 'NetworkUnavailable', status: 'True' }] },
    });
  });

  it('keeps all of a LoadBalancer Service for the speaker, and only identity and type of any other', () => {
    const lb: V1Service = { metadata: { name: 'a', namespace: 'ns', annotations: { x: 'y' } }, spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } };
    const copy = structuredClone(lb);
    trimServiceForSpeaker(lb);
    expect(lb).toEqual(copy);
    const plain: V1Service = { metadata: { name: 'b', namespace: 'ns', uid: 'u', resourceVersion: '7', labels: { a: 'b' } }, spec: { type: 'ClusterIP', selector: { a: 'b' } } };
    trimServiceForSpeaker(plain);
    expect(plain).toEqual({ metadata: { name: 'b', namespace: 'ns', uid: 'u', resourceVersion: '7' }, spec: { type: 'ClusterIP' } });
  });
});

describe('trimServiceForController', () => {
  const plain = (): V1Service => ({ metadata: { name: 'b', namespace: 'ns', uid: 'u', resourceVersion: '7', labels: { a: 'b' }, managedFields: [{}] }, spec: { type: 'ClusterIP', selector: { a: 'b' }, ports: [{ port: 80 }] } });

  it('keeps only identity and type of a Service it can have nothing to do with', () => {
    const s = plain();
    trimServiceForController(s);
    expect(s).toEqual({ metadata: { name: 'b', namespace: 'ns', uid: 'u', resourceVersion: '7' }, spec: { type: 'ClusterIP' } });
  });

  it('keeps a LoadBalancer whole, and a former one while it still has a finalizer or an ingress to clean up', () => {
    const lb: V1Service = { ...plain(), spec: { type: 'LoadBalancer', ports: [{ port: 80, nodePort: 30080 }] } };
    const withFinalizer: V1Service = { ...plain(), metadata: { ...plain().metadata, finalizers: ['service.kubernetes.io/load-balancer-cleanup'] } };
    const withIngress: V1Service = { ...plain(), status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } } };
    for (const s of [lb, withFinalizer, withIngress]) {
      const expected = structuredClone(s);
      delete expected.metadata!.managedFields;
      trimServiceForController(s);
      expect(s).toEqual(expected);
    }
  });
});

describe('listInPages', () => {
  it('follows continue tokens, trims every item as its page arrives, and keeps the list resourceVersion', async () => {
    const asked: Array<string | undefined> = [];
    const pages: Record<string, KubernetesListObject<V1Service>> = {
      first: { items: [{ metadata: { name: 'a', managedFields: [{}] } }], metadata: { resourceVersion: '42', _continue: 'c1' } },
      c1: { items: [{ metadata: { name: 'b', managedFields: [{}] } }], metadata: { resourceVersion: '42' } },
    };
    const list = await listInPages<V1Service>(
      async ({ limit, _continue }) => {
        expect(limit).toBe(500);
        asked.push(_continue);
        return pages[_continue ?? 'first']!;
      },
      (s) => delete s.metadata?.managedFields,
    );
    expect(asked).toEqual([undefined, 'c1']);
    expect(list.items).toEqual([{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }]);
    expect(list.metadata?.resourceVersion).toBe('42');
  });
});
