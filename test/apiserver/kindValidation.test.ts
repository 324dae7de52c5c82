import { describe, expect, it } from 'vitest';
import { validateKind } from '../../src/apiserver/kindValidation.js';
import type { KubeObject } from '../../src/apiserver/objectStore.js';

const fields = (storage: string, obj: Omit<KubeObject, 'metadata'>, old?: Omit<KubeObject, 'metadata'>) =>
  validateKind(storage, { metadata: {}, ...obj }, old ? { metadata: {}, ...old } : undefined).map((e) => `${e.field}:${e.type}`);

describe('kind validation', () => {
  it('configmap keys and immutability', () => {
    expect(fields('configmaps', { data: { 'ok.key_1-x': 'v' } })).toEqual([]);
    expect(fields('configmaps', { data: { 'bad key': 'v', '..': 'v' } })).toEqual(['data[bad key]:FieldValueInvalid', 'data[..]:FieldValueInvalid']);
    expect(fields('configmaps', { data: { a: '2' }, immutable: true }, { data: { a: '1' }, immutable: true })).toEqual(['data:FieldValueForbidden']);
    expect(fields('configmaps', { data: { a: '1' } }, { data: { a: '1' }, immutable: true })).toEqual(['immutable:FieldValueForbidden']);
  });

  it('endpointslice address type, addresses and ports', () => {
    expect(fields('endpointslices', { addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'] }], ports: [{ port: 80, protocol: 'TCP' }] })).toEqual([]);
    expect(fields('endpointslices', { endpoints: [{ addresses: [] }], ports: [{ port: 0, protocol: 'ICMP' }] })).toEqual([
      'addressType:FieldValueRequired',
      'endpoints[0].addresses:FieldValueRequired',
      'ports[0].port:FieldValueInvalid',
      'ports[0].protocol:FieldValueNotSupported',
    ]);
    expect(fields('endpointslices', { addressType: 'IPv6' }, { addressType: 'IPv4' })).toEqual(['addressType:FieldValueInvalid']);
  });

  it('lease durations and node taints', () => {
    expect(fields('leases', { spec: { leaseDurationSeconds: 0 } })).toEqual(['spec.leaseDurationSeconds:FieldValueInvalid']);
    expect(fields('nodes', { spec: { taints: [{ key: 'k', effect: 'NoSchedule' }, { effect: 'Sometimes' }] } })).toEqual(['spec.taints[1].key:FieldValueRequired', 'spec.taints[1].effect:FieldValueNotSupported']);
  });
});
