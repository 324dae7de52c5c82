// Failover by the speakers' own liveness probes, in network namespaces: each speaker runs inside
// its node's namespace (as a hostNetwork pod does), so its UDP probes cross the lab's bridge and
// a killed process, a link taken down or a partition are real to it. Leases are renewed every
// 10 s and lapse after 40 s here (the defaults): every failover below completes while the dead
// owner's Lease is still live, so it came from the probes. Needs root (CI is root).
import { describe, afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { CoreV1Api } from '@kubernetes/client-node';
import { SERVICE_PORT, NODE_PORT, pollUntil, setIngress, startSpeakerLab, type CurlLoopResult, type LabNode, type SpeakerLab } from './l2Lab.js';

const VIP = '198.51.100.201';
const VIP6 = '2001:db8:100::203';
// Behaviour, not speed: a loaded 2-core machine may stall a speaker for 100 ms.
const SPEAKER_ARGS = ['--probe-timeout-ms', '150', '--address-lifetime-seconds', '4'];

describe('metal L2 failover by liveness probes (speakers inside the node namespaces)', () => {
  let env: SpeakerLab;
  let core: CoreV1Api;
  const node = (name: string): LabNode => env.lab.nodes.find((n) => n.name === name)!;

  async function meshed(nodes: LabNode[]): Promise<void> {
    const want = env.lab.nodes.filter((n) => n.speaker).length - 1;
    for (const n of nodes) {
      await pollUntil(async () => new RegExp(`^kube_lb_speaker_liveness_peers_alive ${want}$`, 'm').test(await env.lab.speakerMetrics(n).catch(() => '')), 30_000, `${n.name} probing ${want} peers`, 200);
    }
  }

  /** After a heal, the rendezvous owner takes its address back (a rejoin takes up to a refresh). */
  async function ownerAgain(ip: string, owner: string): Promise<void> {
    await pollUntil(async () => (await soleOwner(ip)) === owner, 30_000, `${owner} holding ${ip} again, alone`);
  }

  async function soleOwner(ip: string): Promise<string> {
    let owner = '';
    await pollUntil(
      async () => {
        const holders = await env.lab.holders(ip);
        owner = holders[0] ?? '';
        // A fresh client: a neighbour entry left from before would reach the old node (its DNAT
        // answers too), and IPv6 gets only the kernel's one unsolicited NA.
        await env.lab.forgetNeighbour(ip);
        return holders.length === 1 && (await env.lab.curl(ip)) === owner;
      },
      20_000,
      `one node holding ${ip} and answering`,
    );
    return owner;
  }

  /** Waits until a client that resolves afresh is answered by a node other than `from`. */
  async function movedAway(ip: string, from: string): Promise<string> {
    let to = '';
    await pollUntil(
      async () => {
        await env.lab.forgetNeighbour(ip);
        const answer = await env.lab.curl(ip, SERVICE_PORT, 0.3);
        if (answer && answer !== from) to = answer;
        return to !== '';
      },
      15_000, // far below the 40 s Lease lapse: only the probes can have moved it
      `${ip} answered by a node other than ${from}`,
    );
    return to;
  }

  /** No request found no one; at most one connection cut per move of the address. */
  function expectServedThroughout(result: CurlLoopResult, moves: number): void {
    const shown = JSON.stringify({ ...result, answers: [...result.answers] });
    expect(result.unanswered, shown).toBe(0);
    expect(result.cut, shown).toBeLessThanOrEqual(moves);
  }

  /** Reads who holds `ip`, round after round; counts the rounds in which no node held it. */
  function holderWatch(ip: string): { stop: () => Promise<{ rounds: number; empty: number }> } {
    let running = true;
    const result = { rounds: 0, empty: 0 };
    const loop = (async () => {
      while (running) {
        const holders = await env.lab.holders(ip);
        result.rounds++;
        if (holders.length === 0) result.empty++;
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return result;
      },
    };
  }

  async function restart(n: LabNode): Promise<void> {
    env.lab.startSpeakerInNetns(n, env.kubeconfigPath, SPEAKER_ARGS);
    await meshed(env.lab.nodes.filter((x) => x.speaker));
  }

  beforeAll(async () => {
    env = await startSpeakerLab(['node-a', 'node-b', 'node-c'], [], { inNetns: true, speakerArgs: SPEAKER_ARGS });
    core = env.core;
    // (The lab's DNAT sends both to NODE_PORT; the Service's own nodePort only has to be unique.)
    for (const [name, ips, family, nodePort] of [
      ['web', [VIP], 'IPv4', NODE_PORT],
      ['web6', [VIP6], 'IPv6', NODE_PORT + 1],
    ] as const) {
      await core.createNamespacedService({
        namespace: 'default',
        body: { metadata: { name }, spec: { type: 'LoadBalancer', ipFamilies: [family], selector: { app: name }, ports: [{ port: SERVICE_PORT, nodePort, protocol: 'TCP' }] } },
      });
      await setIngress(core, 'default', name, [...ips]);
    }
    await meshed(env.lab.nodes);
  }, 180_000);

  // A failed test must not leave a node without its speaker (or cut off) for the next one: with
  // two speakers left, neither can tell a dead peer from its own isolation, and Leases decide.
  afterEach(async () => {
    const stopped = env.lab.nodes.filter((n) => !n.speaker);
    for (const n of env.lab.nodes) {
      await env.lab.setLink(n, 'up');
      await env.lab.heal(n).catch(() => undefined);
    }
    for (const n of stopped) env.lab.startSpeakerInNetns(n, env.kubeconfigPath, SPEAKER_ARGS);
    await meshed(env.lab.nodes);
  }, 60_000);

  afterAll(async () => {
    await env?.destroy();
  });

  it('SIGKILL of the owner: another node answers while the dead owner\'s Lease is still live; restarted, it takes the address back and no request goes unanswered', async () => {
    const owner = await soleOwner(VIP);
    await env.lab.stopSpeaker(node(owner), 'SIGKILL');
    const next = await movedAway(VIP, owner);
    expect(next).not.toBe(owner);
    // Make before break: the restarted speaker announces before the others hear it is back.
    const loop = env.lab.curlLoop(VIP);
    const watch = holderWatch(VIP);
    await restart(node(owner));
    await ownerAgain(VIP, owner);
    const held = await watch.stop();
    const result = await loop.stop();
    expect(held.empty, `rounds in which no node held ${VIP}: ${JSON.stringify(held)}`).toBe(0);
    expect(held.rounds).toBeGreaterThan(3);
    expectServedThroughout(result, 1);
    expect(result.answers.has(owner)).toBe(true);
  }, 120_000);

  it('SIGTERM hands over: in a 20 ms curl loop with fresh ARP resolution no request goes unanswered', async () => {
    const owner = await soleOwner(VIP);
    const loop = env.lab.curlLoop(VIP);
    await new Promise((r) => setTimeout(r, 500));
    await env.lab.stopSpeaker(node(owner), 'SIGTERM');
    const next = await movedAway(VIP, owner);
    await new Promise((r) => setTimeout(r, 1000));
    const result = await loop.stop();
    expectServedThroughout(result, 1);
    expect(result.ok).toBeGreaterThan(10);
    expect(result.answers.has(next)).toBe(true);
    expect(await env.lab.holders(VIP)).toEqual([next]);
    await restart(node(owner));
    expect(await soleOwner(VIP)).toBe(owner);
  }, 120_000);

  it('the owner\'s link taken down: another node takes the address over', async () => {
    const owner = await soleOwner(VIP);
    await env.lab.setLink(node(owner), 'down');
    try {
      await movedAway(VIP, owner);
    } finally {
      await env.lab.setLink(node(owner), 'up');
    }
    await meshed(env.lab.nodes);
    await ownerAgain(VIP, owner);
  }, 120_000);

  it('a partition of the owner: every address stays answered on the majority side throughout, and one owner after it heals', async () => {
    const owner = await soleOwner(VIP);
    const loop = env.lab.curlLoop(VIP, 50);
    const others = env.lab.nodes.filter((n) => n.name !== owner);
    await env.lab.partition(node(owner), others);
    try {
      // The majority takes the address over; the cut-off owner (hearing no one) falls back to
      // the Leases and keeps its own: both announce it, none leaves it unanswered.
      await pollUntil(async () => (await env.lab.holders(VIP)).length === 2, 15_000, `${VIP} announced on both sides of the partition`);
      expect(await env.lab.holders(VIP)).toContain(owner);
    } finally {
      await env.lab.heal(node(owner));
    }
    await meshed(env.lab.nodes);
    await ownerAgain(VIP, owner);
    const result = await loop.stop();
    // Two moves: to the majority, and back to the owner after the heal.
    expectServedThroughout(result, 2);
  }, 120_000);

  it('IPv6: SIGKILL of the owner moves the address, answered over IPv6', async () => {
    const owner = await soleOwner(VIP6);
    await env.lab.stopSpeaker(node(owner), 'SIGKILL');
    expect(await movedAway(VIP6, owner)).not.toBe(owner);
    await restart(node(owner));
    expect(await soleOwner(VIP6)).toBe(owner);
  }, 120_000);
});
