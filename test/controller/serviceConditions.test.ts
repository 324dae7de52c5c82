// The conditions a provider reports, applied to a Service: only the provider's types change.
import type { V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { conditionsToDrop, nextConditions } from '../../src/controller/serviceConditions.js';

const then = new Date('2026-01-01T00:00:00Z');
const now = new Date('2026-02-01T00:00:00Z');
const types = ['A', 'B'];
const service = (conditions: Array<{ type: string; status: string; reason: string; message: string }>): V1Service => ({
  metadata: { name: 's', namespace: 'default', generation: 3 },
  status: { conditions: conditions.map((c) => ({ ...c, lastTransitionTime: then, observedGeneration: 3 })) },
});
const cond = (type: string, message = 'm') => ({ type, status: 'True' as const, reason: 'GCEResourceAllocated', message });

describe('nextConditions', () => {
  it('sets the reported ones, removes the provider types no longer reported, and never names another type', () => {
    const change = nextConditions(service([cond('B'), cond('other.io/X')]), { types, current: [cond('A')] }, now);
    expect(change).toEqual({ set: [{ ...cond('A'), lastTransitionTime: now, observedGeneration: 3 }], remove: ['B'] });
  });

  it('answers nothing to write when the conditions already say so, and keeps the transition time on a message change', () => {
    expect(nextConditions(service([cond('A'), cond('B')]), { types, current: [cond('A'), cond('B')] }, now)).toBeUndefined();
    const change = nextConditions(service([cond('A')]), { types, current: [cond('A', 'renamed')] }, now);
    expect(change?.set[0]).toMatchObject({ message: 'renamed', lastTransitionTime: then });
  });
});

describe('conditionsToDrop', () => {
  it("removes only the provider's types, and answers nothing when none is left", () => {
    expect(conditionsToDrop(service([cond('A'), cond('other.io/X')]), types)).toEqual({ set: [], remove: ['A'] });
    expect(conditionsToDrop(service([cond('other.io/X')]), types)).toBeUndefined();
    expect(conditionsToDrop(service([cond('A')]), undefined)).toBeUndefined();
  });
});
