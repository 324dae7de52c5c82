// The node side of an L2 failover, for real (network namespaces, root, as the L2 suite): a speaker
// SIGKILLed on a live node must not leave its addresses answering until their lifetime runs out,
// and IPv6 gets repeated unsolicited Neighbour Advertisements that move a neighbour's entry.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipCommandEffects, VIP_MARK_METRIC } from '../../src/speaker/ipCommandEffects.js';
import { ensureNetworkTools, LAN6_PREFIX, LAN_PREFIX, pollUntil } from './l2Lab.js';
import { inNetns, LabSegment } from './labSegment.js';

const repoRoot = join(import.meta.dirname, '..', '..');
const id = `klbg${randomBytes(3).toString('hex')}`;
const NODE = `${id}-node`;
const CLIENT = `${id}-client`;
const VIP = `${LAN_PREFIX}.77`;
const VIP6 = `${LAN6_PREFIX}:77`;

async function addresses(netns: string): Promise<string[]> {
  const links = JSON.parse(await inNetns(netns, 'ip', ['-j', 'addr', 'show', 'dev', 'eth0'])) as { addr_info: { local: string; prefixlen: number }[] }[];
  return links.flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
}

async function naReceived(netns: string): Promise<number> {
  const line = (await inNetns(netns, 'cat', ['/proc/net/snmp6'])).split('\n').find((l) => l.startsWith('Icmp6InNeighborAdvertisements'));
  return Number(line?.split(/\s+/)[1]);
}

describe('a speaker\'s addresses on its node', () => {
  const segment = new LabSegment(`${id}-lan`);

  beforeAll(async () => {
    await ensureNetworkTools();
    await segment.createBridge();
    await segment.attach(NODE, 'vnode', `${LAN_PREFIX}.11/24`, `${LAN6_PREFIX}:11/64`);
    await segment.attach(CLIENT, 'vclient', `${LAN_PREFIX}.100/24`, `${LAN6_PREFIX}:100/64`);
  }, 60_000);

  afterAll(async () => {
    await segment.deleteAll();
  });

  it('go the moment the speaker is SIGKILLed, long before their lifetime; an address it did not put there stays', async () => {
    // Not ours: a marked-looking address someone else added by hand.
    await inNetns(NODE, 'ip', ['addr', 'add', `${LAN_PREFIX}.78/32`, 'dev', 'eth0']);
    // A stand-in speaker inside the node namespace: the real effects, an hour's lifetime.
    const script = `
      import { ipCommandEffects } from ${JSON.stringify(join(repoRoot, 'src/speaker/ipCommandEffects.ts'))};
      const effects = ipCommandEffects({ iface: 'eth0', lifetimeSeconds: 3600 });
      await effects.addVIP(${JSON.stringify(VIP)});
      await effects.addVIP(${JSON.stringify(VIP6)});
      console.log('held');
      setInterval(() => {}, 1000);
    `;
    const child = spawn('ip', ['netns', 'exec', NODE, process.execPath, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
        child.once('exit', (code) => reject(new Error(`the stand-in speaker exited (${code}) before holding its addresses`)));
      });
      expect(await addresses(NODE)).toEqual(expect.arrayContaining([`${VIP}/32`, `${VIP6}/128`, `${LAN_PREFIX}.78/32`]));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      // valid_lft is an hour: only the guard can take them off.
      await pollUntil(async () => !(await addresses(NODE)).some((a) => a === `${VIP}/32` || a === `${VIP6}/128`), 10_000, 'the dead speaker\'s addresses gone');
      expect(await addresses(NODE)).toContain(`${LAN_PREFIX}.78/32`);
    } finally {
      child.kill('SIGKILL');
      await inNetns(NODE, 'ip', ['addr', 'del', `${LAN_PREFIX}.78/32`, 'dev', 'eth0']).catch(() => undefined);
    }
  }, 60_000);

  it('a speaker that released its addresses and exited leaves the node as it was (the guard deletes nothing)', async () => {
    // The stand-in takes the address, releases it, and a restarted speaker (here: by hand) puts it
    // back with our mark before this one's guard sees its pipe close.
    const child = spawn(
      'ip',
      ['netns', 'exec', NODE, process.execPath, '--import', 'tsx', '--input-type=module', '-e', `
        import { execFileSync } from 'node:child_process';
        import { ipCommandEffects } from ${JSON.stringify(join(repoRoot, 'src/speaker/ipCommandEffects.ts'))};
        const effects = ipCommandEffects({ iface: 'eth0', lifetimeSeconds: 3600 });
        await effects.addVIP(${JSON.stringify(VIP)});
        await effects.removeVIP(${JSON.stringify(VIP)});
        execFileSync('ip', ['addr', 'add', ${JSON.stringify(`${VIP}/32`)}, 'dev', 'eth0', 'metric', '${VIP_MARK_METRIC}']);
        process.exit(0);
      `],
      { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(0);
    // The guard acts within milliseconds of its pipe closing; give it a second to do wrong.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await addresses(NODE)).toContain(`${VIP}/32`);
    await inNetns(NODE, 'ip', ['addr', 'del', `${VIP}/32`, 'dev', 'eth0']);
  }, 60_000);

  it('IPv6: each announce() sends an unsolicited NA that moves a neighbour\'s stale entry to the node', async () => {
    const effects = ipCommandEffects({ iface: 'eth0', netns: NODE, lifetimeSeconds: 3600 });
    try {
      await effects.addVIP(VIP6);
      const mac = JSON.parse(await inNetns(NODE, 'ip', ['-j', 'link', 'show', 'dev', 'eth0']))[0].address as string;
      // The client believes another MAC owns the address (the previous owner's).
      await inNetns(CLIENT, 'ip', ['-6', 'neigh', 'replace', VIP6, 'lladdr', '02:00:00:00:00:01', 'dev', 'eth0', 'nud', 'stale']);
      const before = await naReceived(CLIENT);
      for (let i = 0; i < 3; i++) await effects.announce(VIP6);
      await pollUntil(async () => (await naReceived(CLIENT)) >= before + 3, 10_000, 'three NAs at the client');
      const entry = JSON.parse(await inNetns(CLIENT, 'ip', ['-j', '-6', 'neigh', 'show', VIP6, 'dev', 'eth0'])) as { lladdr?: string }[];
      expect(entry[0]?.lladdr).toBe(mac);
    } finally {
      await effects.removeVIP(VIP6);
    }
  });
});
