// The controller's memory of EndpointSlices: per slice its ready nodes, the cached object emptied.
import type { V1EndpointSlice } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { EndpointNodeIndex, podEndpointsOf } from './endpointNodeIndex.js';

const slice = (name: string, service: string, endpoints: Array<[node: string, ready: boolean | undefined]>): V1EndpointSlice => ({
  metadata: { name, namespace: 'ns', labels: { 'kubernetes.io/service-name': service, app: 'x' }, ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: service, uid: 'u' }] },
  addressType: 'IPv4',
  endpoints: endpoints.map(([nodeName, ready], i) => ({ addresses: [`10.0.0.${i}`], nodeName, conditions: ready === undefined ? {} : { ready }, targetRef: { kind: 'Pod', name: `p${i}` } })),
  ports: [{ port: 80 }],
});

describe('EndpointNodeIndex', () => {
  it('unions the ready nodes of every slice of a Service (ready unset counts), and empties the cached slice', () => {
    const index = new EndpointNodeIndex();
    const a = slice('web-a', 'web', [['n2', true], ['n1', false]]);
    const b = slice('web-b', 'web', [['n3', undefined], ['n2', true]]);
    index.absorb(a);
    index.absorb(b);
    index.absorb(slice('other-a', 'other', [['n9', true]]));
    expect(index.nodesOf('ns', 'web')).toEqual(['n2', 'n3']);
    expect(a).toEqual({ metadata: { name: 'web-a', namespace: 'ns', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [] });
    // Absorbing the same (already emptied) object again changes nothing.
    index.absorb(a);
    expect(index.nodesOf('ns', 'web')).toEqual(['n2', 'n3']);
    expect(index.fingerprint(a)).toBe('n2');
  });

  it('follows an update and a deletion of a slice', () => {
    const index = new EndpointNodeIndex();
    index.absorb(slice('web-a', 'web', [['n1', true]]));
    index.absorb(slice('web-a', 'web', [['n4', true]]));
    expect(index.nodesOf('ns', 'web')).toEqual(['n4']);
    index.forget(slice('web-a', 'web', []));
    expect(index.nodesOf('ns', 'web')).toEqual([]);
  });

  it('reports a change of a slice once, and none for an update that keeps its ready nodes', () => {
    const index = new EndpointNodeIndex();
    const first = slice('web-a', 'web', [['n1', true]]);
    index.absorb(first);
    expect(index.takeChange(first)).toBe(true);
    expect(index.takeChange(first)).toBe(false);
    const sameNodes = slice('web-a', 'web', [['n1', true], ['n2', false]]);
    index.absorb(sameNodes);
    expect(index.takeChange(sameNodes)).toBe(false);
    const moved = slice('web-a', 'web', [['n2', true]]);
    index.absorb(moved);
    expect(index.takeChange(moved)).toBe(true);
    // A slice without the Service label is not ours to follow: no change, nothing to forget.
    const unlabelled = slice('stray', 'web', [['n1', true]]);
    unlabelled.metadata!.labels = {};
    index.absorb(unlabelled);
    expect(index.takeChange(unlabelled)).toBe(false);
    expect(index.forget(unlabelled)).toBe(false);
    expect(index.forget(moved)).toBe(true);
    expect(index.nodesOf('ns', 'web')).toEqual([]);
  });

  it('keeps compact Pod endpoints only with keepPodEndpoints: addresses, conditions, node and the slice ports by name', () => {
    const plain = new EndpointNodeIndex();
    plain.absorb(slice('web-a', 'web', [['n1', true]]));
    expect(plain.podEndpointsOf('ns', 'web')).toEqual([]);

    const index = new EndpointNodeIndex(true);
    const s = slice('web-a', 'web', [['n1', true], ['n2', false]]);
    s.ports = [{ name: 'http', port: 8080 }];
    s.endpoints![1]!.conditions = { ready: false, terminating: true };
    index.absorb(s);
    expect(index.podEndpointsOf('ns', 'web')).toEqual(
      expect.arrayContaining([
        { address: '10.0.0.0', ready: true, terminating: false, nodeName: 'n1', ports: { http: 8080 } },
        { address: '10.0.0.1', ready: false, terminating: true, nodeName: 'n2', ports: { http: 8080 } },
      ]),
    );
    // A terminating endpoint changes the fingerprint even though the ready nodes do not.
    const before = index.fingerprint(s);
    const again = slice('web-a', 'web', [['n1', true], ['n2', false]]);
    again.ports = [{ name: 'http', port: 8080 }];
    index.absorb(again);
    expect(index.fingerprint(again)).not.toBe(before);
    // The cached object is emptied all the same.
    expect(s.endpoints).toEqual([]);
  });

  it('keeps the IPv6 slice of a dual-stack Service next to its IPv4 one (the AWS provider picks the family its target group needs)', () => {
    const index = new EndpointNodeIndex(true);
    const v4 = slice('web-v4', 'web', [['n1', true]]);
    const v6 = slice('web-v6', 'web', [['n1', true]]);
    v6.addressType = 'IPv6';
    v6.endpoints![0]!.addresses = ['fd00:10:244::5'];
    index.absorb(v4);
    index.absorb(v6);
    expect(index.podEndpointsOf('ns', 'web').map((e) => e.address).sort()).toEqual(['10.0.0.0', 'fd00:10:244::5']);
  });

  it('FQDN slices carry no Pod IPs', () => {
    const s = slice('web-f', 'web', [['n1', true]]);
    s.addressType = 'FQDN';
    expect(podEndpointsOf(s)).toEqual([]);
  });
});
