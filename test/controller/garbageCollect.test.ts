// The resync's garbage collection: orphans are deleted first, then each provider sweeps its
// leftovers; listing alone never deletes anything, and one provider's failed sweep spares the others.
import { describe, expect, it } from 'vitest';
import type { Provider, ServiceRef } from '../../providers/provider.js';
import { collectGarbage } from '../../src/controller/garbageCollect.js';
import type { ProviderSlot } from '../../src/controller/ports.js';

function recordingProvider(name: string, owned: ServiceRef[], log: string[], sweepFails = false): Provider {
  return {
    name,
    capabilities: { protocols: ['TCP'], mixedProtocol: false, loadBalancerIP: false, sourceRanges: false, dualStack: false, ipFamilies: ['IPv4'], annotations: [], usesNodePorts: true, followsEndpoints: false, needsProviderID: false },
    observe: async () => undefined,
    diff: (_o, d) => ({ ref: d.ref, actions: [] }),
    apply: async () => ({ state: 'ready', ingress: [] }),
    delete: async (ref) => {
      log.push(`${name}:delete:${ref.uid}`);
      return { state: 'deleted' };
    },
    listOwned: async () => {
      log.push(`${name}:list`);
      return owned;
    },
    sweep: async () => {
      log.push(`${name}:sweep`);
      if (sweepFails) throw new Error('sweep failed');
    },
  };
}

describe('collectGarbage', () => {
  it('deletes orphans, then sweeps each provider; a failed sweep is reported and the next provider still runs', async () => {
    const log: string[] = [];
    const errors: unknown[] = [];
    const slots: ProviderSlot[] = [
      { id: 'a', default: true, provider: recordingProvider('a', [{ namespace: 'ns', name: 'gone', uid: 'u1' }], log, true) },
      { id: 'b', default: false, loadBalancerClass: 'b', provider: recordingProvider('b', [], log) },
    ];
    const deleted = await collectGarbage({ service: () => undefined }, slots, { onDeleted: () => undefined, onError: (_o, e) => errors.push(e), onAwaitingCleanup: () => undefined });
    expect(deleted).toBe(1);
    expect(log).toEqual(['a:list', 'a:delete:u1', 'a:sweep', 'b:list', 'b:sweep']);
    expect(errors.map(String)).toEqual(['Error: sweep failed']);
  });
});
