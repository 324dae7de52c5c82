// NetEffects with iproute2 and iputils-arping. Addresses carry a mark (an address metric no one
// else uses, plus the label "<if>:klb" on IPv4 where it fits) so leftovers can be found and removed
// on any interface.
// A speaker that dies (SIGKILL, OOM) must stop answering for its addresses at once, or its live
// kernel keeps answering ARP/NDP (and serving) while the new owner announces: clients then reach
// the old node until the address goes. Two bounds: a guard process (addressGuard.ts) that holds
// the list of our addresses and deletes them the moment the speaker's end of its pipe closes,
// which the kernel does whatever killed the speaker; and, should the guard die with it (a
// container's processes are killed together), a short valid_lft the speaker keeps refreshing.
// The interface is --interface, or, without it, the one the main routing table leads to for each
// address (announceInterface.ts decides; this file only reads the links and routes).
// IPv6: the kernel sends one unsolicited Neighbour Advertisement itself when the address is added
// (net.ipv6.conf.<if>.ndisc_notify=1, set before the first IPv6 address goes on an interface), and
// announce() sends more on the announcer's schedule (unsolicitedNa.ts), as gratuitous ARP for IPv4.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { familyOf } from '../metallb/addressRange.js';
import { announceReadiness, type AnnounceReadiness, type LinkEntry, type RouteEntry } from './announceInterface.js';
import type { NetEffects } from './netEffects.js';
import { AddressGuard } from './addressGuard.js';
import { UNSOLICITED_NA_SCRIPT } from './unsolicitedNa.js';

const execFileAsync = promisify(execFile);
// A wedged command must not stall the speaker's loop (and with it the address refresh).
const run = (cmd: string, args: string[]) => execFileAsync(cmd, args, { timeout: 5000 });

/** The address metric that marks our addresses (IFA_RT_PRIORITY; no prefix route for /32, /128). */
export const VIP_MARK_METRIC = 7391;

export interface IpCommandOptions {
  /** The interface that carries every address; undefined: the one the route towards it leaves by. */
  iface?: string;
  /** Run every command inside this network namespace (tests, or a speaker outside hostNetwork). */
  netns?: string;
  /** valid_lft of the address: how long it outlives a dead speaker. */
  lifetimeSeconds?: number;
}

interface JsonAddr {
  family: string;
  local: string;
  prefixlen: number;
  metric?: number;
}

interface JsonLink {
  ifname: string;
  flags?: string[];
  addr_info?: JsonAddr[];
}

export function ipCommandEffects(options: IpCommandOptions): NetEffects {
  const { iface: configured, netns } = options;
  const lifetime = String(options.lifetimeSeconds ?? 2);
  const ip = (...args: string[]) => run('ip', netns ? ['-n', netns, ...args] : args);
  const inNetns = (cmd: string, args: string[]) => (netns ? run('ip', ['netns', 'exec', netns, cmd, ...args]) : run(cmd, args));
  /** address -> interface, from the last readiness check */
  let placed = new Map<string, string>();
  /** address -> interfaces carrying it with our mark, from the last listing */
  let carried = new Map<string, Set<string>>();
  const ndiscNotifySet = new Set<string>();
  /** The interface limits of the last readiness check, for addresses placed later. */
  let allowedNow: ReadonlyMap<string, readonly string[]> | undefined;
  const guard = new AddressGuard(netns);
  const guarded = () => guard.hold([...carried].flatMap(([address, devs]) => [...devs].map((dev) => ({ address: `${address}/${familyOf(address) === 'IPv4' ? 32 : 128}`, dev }))));

  async function readLinks(): Promise<LinkEntry[]> {
    const { stdout } = await ip('-j', 'link', 'show');
    return (JSON.parse(stdout || '[]') as JsonLink[]).map((l) => {
      const flags = l.flags ?? [];
      // Loopback is "up" but reaches no neighbour.
      return { name: l.ifname, up: flags.includes('UP') && flags.includes('LOWER_UP') && !flags.includes('LOOPBACK') };
    });
  }

  async function readRoutes(addresses: string[]): Promise<RouteEntry[]> {
    const families = new Set(addresses.map((a) => familyOf(a) ?? 'IPv4'));
    const routes: RouteEntry[] = [];
    for (const family of families) {
      const { stdout } = await ip('-j', family === 'IPv6' ? '-6' : '-4', 'route', 'show', 'table', 'main');
      routes.push(...(JSON.parse(stdout || '[]') as Omit<RouteEntry, 'family'>[]).map((r) => ({ ...r, family })));
    }
    return routes;
  }

  async function check(addresses: string[]): Promise<AnnounceReadiness> {
    const links = await readLinks();
    const routes = configured === undefined ? await readRoutes(addresses) : [];
    return announceReadiness({ configured, links, routes, addresses, ...(allowedNow ? { allowed: allowedNow } : {}) });
  }

  async function interfaceFor(address: string): Promise<string> {
    const known = configured ?? placed.get(address);
    if (known !== undefined) return known;
    const answer = await check([address]);
    if (!answer.ready) throw new Error(answer.reason);
    placed.set(address, answer.interfaces.get(address)!);
    return answer.interfaces.get(address)!;
  }

  async function deleteFrom(address: string, dev: string): Promise<void> {
    const v4 = familyOf(address) === 'IPv4';
    try {
      await ip('addr', 'del', `${address}/${v4 ? 32 : 128}`, 'dev', dev);
    } catch (error) {
      // Already gone (expired, removed by hand, interface gone) is what we wanted.
      if (!/Cannot assign requested address|not found|Cannot find device/i.test(String((error as { stderr?: string }).stderr ?? error))) throw error;
    }
  }

  return {
    async readiness(addresses, allowed) {
      allowedNow = allowed;
      const answer = await check(addresses);
      if (answer.ready) placed = answer.interfaces;
      return answer;
    },
    async listVIPs() {
      const { stdout } = await ip('-j', 'addr', 'show');
      const next = new Map<string, Set<string>>();
      for (const link of JSON.parse(stdout || '[]') as JsonLink[]) {
        for (const a of link.addr_info ?? []) {
          if (a.metric !== VIP_MARK_METRIC || (a.prefixlen !== 32 && a.prefixlen !== 128)) continue;
          next.set(a.local, (next.get(a.local) ?? new Set()).add(link.ifname));
        }
      }
      carried = next;
      guarded();
      return [...next.keys()];
    },
    async addVIP(address) {
      const dev = await interfaceFor(address);
      const v4 = familyOf(address) === 'IPv4';
      if (!v4 && !ndiscNotifySet.has(dev)) {
        // Best effort: the kernel then announces new IPv6 addresses on dev unsolicited.
        await inNetns('sysctl', ['-q', '-w', `net.ipv6.conf.${dev}.ndisc_notify=1`]).catch(() => undefined);
        ndiscNotifySet.add(dev);
      }
      const label = `${dev}:klb`.length <= 15 ? `${dev}:klb` : undefined;
      const args = ['addr', 'replace', `${address}/${v4 ? 32 : 128}`, 'dev', dev];
      if (v4 && label) args.push('label', label);
      args.push('metric', String(VIP_MARK_METRIC), 'noprefixroute', 'valid_lft', lifetime, 'preferred_lft', lifetime);
      // No duplicate address detection: the address is ours by election, and DAD would delay it.
      if (!v4) args.push('nodad');
      await ip(...args);
      // The route moved to another interface: the old copy must not keep answering there.
      for (const other of carried.get(address) ?? []) if (other !== dev) await deleteFrom(address, other);
      carried.set(address, new Set([dev]));
      guarded();
    },
    async removeVIP(address) {
      const devs = carried.get(address) ?? new Set(configured !== undefined ? [configured] : placed.has(address) ? [placed.get(address)!] : []);
      for (const dev of devs) await deleteFrom(address, dev);
      carried.delete(address);
      guarded();
    },
    async announce(address) {
      const dev = await interfaceFor(address);
      // IPv4 -U: unsolicited ARP (sender = target = the address), updating neighbours' caches.
      // arping sends at once but lingers a second for replies, so it is not awaited past its start.
      // IPv6: one unsolicited NA with the override flag to all nodes.
      const [cmd, args] = familyOf(address) === 'IPv4' ? ['arping', ['-q', '-U', '-c', '1', '-I', dev, address]] : ['python3', ['-c', UNSOLICITED_NA_SCRIPT, address, dev]];
      const child = netns ? spawn('ip', ['netns', 'exec', netns, cmd, ...args], { stdio: 'ignore' }) : spawn(cmd, args, { stdio: 'ignore' });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', () => resolve());
        child.once('error', reject);
      });
    },
  };
}
