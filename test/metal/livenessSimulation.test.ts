// The liveness protocol at 10, 100 and 1,000 nodes on a simulated network with 1% packet loss
// (test/metal/livenessSimulation.ts drives the production state machine). Times are simulated
// time, not wall-clock: they depend only on the protocol and the seeded network, so bounds on them
// are exact checks of the protocol's design. The figures are printed for the README.
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIVENESS_TIMING } from '../../src/speaker/livenessProtocol.js';
import { simulateLiveness, type SimulationResult } from './livenessSimulation.js';

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

function report(nodes: number, r: SimulationResult): { allP99: number; perNode: number } {
  const first = r.victims.map((v) => v.firstMs!);
  const all = r.victims.map((v) => v.allMs!);
  const spread = r.victims.map((v) => v.allMs! - v.firstMs!);
  console.log(
    `liveness simulation, ${nodes} nodes, 1% loss, ${r.victims.length} deaths over ${(r.simulatedMs / 1000).toFixed(0)} s simulated: ` +
      `first verdict p50 ${percentile(first, 50).toFixed(0)} ms / p99 ${percentile(first, 99).toFixed(0)} ms; ` +
      `every live node knows p50 ${percentile(all, 50).toFixed(0)} ms / p99 ${percentile(all, 99).toFixed(0)} ms; ` +
      `views differ (double announcement) at most ${Math.max(...spread).toFixed(1)} ms; ` +
      `${r.packetsPerNodePerSecond.toFixed(1)} packets/s sent per node; false suspicions ${r.falseSuspicions} (refuted ${r.refutations}); wrong views at end ${r.wrongAtEnd}`,
  );
  return { allP99: percentile(all, 99), perNode: r.packetsPerNodePerSecond };
}

describe('liveness protocol, simulated network with 1% loss', () => {
  const runs = new Map<number, { allP99: number; perNode: number }>();
  // Bound from the design: one probe interval + two ack timeouts, plus delivery of the verdict.
  const bound = DEFAULT_LIVENESS_TIMING.probeIntervalMs + 2 * DEFAULT_LIVENESS_TIMING.probeTimeoutMs + 20;

  it.each([
    [10, 5],
    [100, 10],
    [1000, 12],
  ])('%i nodes: every death is known to every live node within one interval + two timeouts; no live node ends up dead', (nodes, victims) => {
    const result = simulateLiveness({ nodes, loss: 0.01, seed: nodes, warmupMs: 3000, victims, killEveryMs: 1000 });
    for (const v of result.victims) {
      expect(v.firstMs, v.victim).toBeDefined();
      expect(v.allMs, v.victim).toBeDefined();
      expect(v.allMs!, v.victim).toBeLessThan(bound);
    }
    expect(result.wrongAtEnd).toBe(0);
    // A false suspicion is refuted, and rare: at most one per 10,000 probes sent.
    expect(result.refutations).toBeGreaterThanOrEqual(result.falseSuspicions > 0 ? 1 : 0);
    expect(result.falseSuspicions).toBeLessThanOrEqual(Math.ceil((result.packetsPerNodePerSecond * nodes * result.simulatedMs) / 1000 / 10_000));
    runs.set(nodes, report(nodes, result));
  }, 120_000);

  it('sends O(N) packets in total: per node, the rate does not grow with the node count', () => {
    expect(runs.size).toBe(3);
    const small = runs.get(10)!.perNode;
    const large = runs.get(1000)!.perNode;
    // Per node: fanout pings + acks per interval (40/s by default), a little more for the news of deaths.
    expect(large).toBeLessThan(small * 2);
    expect(large).toBeLessThan(60);
  });
});
