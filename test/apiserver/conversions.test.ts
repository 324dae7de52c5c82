import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/apiserver/apiErrors.js';
import { deepEqual } from '../../src/apiserver/deepEqual.js';
import { coreToEventsV1, eventsV1ToCore } from '../../src/apiserver/eventConversion.js';
import type { KubeObject } from '../../src/apiserver/objectStore.js';
import { normalizeTimes } from '../../src/apiserver/timeFields.js';

describe('event conversion', () => {
  it('round-trips events.k8s.io/v1 through the core/v1 storage shape', () => {
    const v1: KubeObject = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: 'e', namespace: 'default' },
      eventTime: '2026-01-01T00:00:00.000000Z',
      reportingController: 'kube-lb-provisioner',
      reportingInstance: 'pod-1',
      action: 'Ensure',
      reason: 'EnsuredLoadBalancer',
      note: 'done',
      type: 'Normal',
      regarding: { kind: 'Service', name: 'web', namespace: 'default' },
      deprecatedCount: 3,
    };
    const core = eventsV1ToCore(v1);
    expect(core).toMatchObject({ apiVersion: 'v1', message: 'done', reportingComponent: 'kube-lb-provisioner', involvedObject: { kind: 'Service', name: 'web' }, count: 3 });
    expect(coreToEventsV1(core)).toEqual(v1);
  });

  it('shows a core event written by an old recorder in events.k8s.io terms', () => {
    const core: KubeObject = { metadata: { name: 'old' }, involvedObject: { name: 'web' }, message: 'm', source: { component: 'service-controller', host: 'h' }, count: 2 };
    expect(coreToEventsV1(core)).toMatchObject({ reportingController: 'service-controller', reportingInstance: 'h', note: 'm', deprecatedCount: 2, deprecatedSource: { component: 'service-controller', host: 'h' } });
  });
});

describe('time fields', () => {
  it('writes MicroTime with six digits and Time with seconds, as Go does', () => {
    const ev: Record<string, unknown> = { eventTime: '2026-01-01T10:00:00.123Z', series: { count: 2, lastObservedTime: '2026-01-01T10:00:01Z' }, firstTimestamp: '2026-01-01T10:00:00.999Z' };
    normalizeTimes('events', ev);
    expect(ev).toEqual({ eventTime: '2026-01-01T10:00:00.123000Z', series: { count: 2, lastObservedTime: '2026-01-01T10:00:01.000000Z' }, firstTimestamp: '2026-01-01T10:00:00Z' });
    const lease: Record<string, unknown> = { spec: { renewTime: '2026-01-01T10:00:00.123456789+00:00' } };
    normalizeTimes('leases', lease);
    expect(lease).toEqual({ spec: { renewTime: '2026-01-01T10:00:00.123456Z' } });
  });

  it('rejects unparsable times with 400', () => {
    expect(() => normalizeTimes('leases', { spec: { renewTime: 'yesterday' } })).toThrow(ApiError);
  });
});

describe('deepEqual', () => {
  it('ignores key order and undefined members but not list order', () => {
    expect(deepEqual({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toBe(true);
    expect(deepEqual({ a: 1, x: undefined }, { a: 1 })).toBe(true);
    expect(deepEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(deepEqual({ a: null }, { a: {} })).toBe(false);
  });
});
