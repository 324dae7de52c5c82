// NetEffects with iproute2 and iputils-arping. Addresses carry a mark (an address metric no one
// else uses, plus the label "<if>:klb" on IPv4 where it fits) so leftovers can be found and removed,
// and a short valid_lft that the speaker keeps refreshing: if the speaker dies without cleaning up,
// the kernel drops the address within seconds, so a crashed speaker does not keep answering ARP.
// IPv6: the kernel sends one unsolicited Neighbour Advertisement itself when the address is added
// (net.ipv6.conf.<if>.ndisc_notify=1, set by prepare()); ndisc6's tools cannot send unsolicited NAs,
// so announce() repeats only the IPv4 gratuitous ARP.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { familyOf } from '../../providers/metal/addressRange.js';
import type { NetEffects } from './netEffects.js';

const execFileAsync = promisify(execFile);
// A wedged command must not stall the speaker's loop (and with it the address refresh).
const run = (cmd: string, args: string[]) => execFileAsync(cmd, args, { timeout: 5000 });

/** The address metric that marks our addresses (IFA_RT_PRIORITY; no prefix route for /32, /128). */
export const VIP_MARK_METRIC = 7391;

export interface IpCommandOptions {
  iface: string;
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

export function ipCommandEffects(options: IpCommandOptions): NetEffects & { prepare(): Promise<void> } {
  const { iface, netns } = options;
  const lifetime = String(options.lifetimeSeconds ?? 2);
  const ip = (...args: string[]) => run('ip', netns ? ['-n', netns, ...args] : args);
  const inNetns = (cmd: string, args: string[]) => (netns ? run('ip', ['netns', 'exec', netns, cmd, ...args]) : run(cmd, args));
  const label = `${iface}:klb`.length <= 15 ? `${iface}:klb` : undefined;

  return {
    async prepare() {
      // Best effort: the kernel then announces new IPv6 addresses unsolicited.
      await inNetns('sysctl', ['-q', '-w', `net.ipv6.conf.${iface}.ndisc_notify=1`]).catch(() => undefined);
    },
    async listVIPs() {
      const { stdout } = await ip('-j', 'addr', 'show', 'dev', iface);
      const links = JSON.parse(stdout || '[]') as { addr_info?: JsonAddr[] }[];
      return links
        .flatMap((l) => l.addr_info ?? [])
        .filter((a) => a.metric === VIP_MARK_METRIC && (a.prefixlen === 32 || a.prefixlen === 128))
        .map((a) => a.local);
    },
    async addVIP(address) {
      const v4 = familyOf(address) === 'IPv4';
      const args = ['addr', 'replace', `${address}/${v4 ? 32 : 128}`, 'dev', iface];
      if (v4 && label) args.push('label', label);
      args.push('metric', String(VIP_MARK_METRIC), 'noprefixroute', 'valid_lft', lifetime, 'preferred_lft', lifetime);
      // No duplicate address detection: the address is ours by election, and DAD would delay it.
      if (!v4) args.push('nodad');
      await ip(...args);
    },
    async removeVIP(address) {
      const v4 = familyOf(address) === 'IPv4';
      try {
        await ip('addr', 'del', `${address}/${v4 ? 32 : 128}`, 'dev', iface);
      } catch (error) {
        // Already gone (expired or removed by hand) is what we wanted.
        if (!/Cannot assign requested address|not found/i.test(String((error as { stderr?: string }).stderr ?? error))) throw error;
      }
    },
    async announce(address) {
      if (familyOf(address) !== 'IPv4') return;
      // -U: unsolicited ARP (sender = target = the address), updating neighbours' caches. arping
      // sends at once but lingers a second for replies, so it is not awaited past its start.
      const args = ['-q', '-U', '-c', '1', '-I', iface, address];
      const child = netns ? spawn('ip', ['netns', 'exec', netns, 'arping', ...args], { stdio: 'ignore' }) : spawn('arping', args, { stdio: 'ignore' });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', () => resolve());
        child.once('error', reject);
      });
    },
  };
}
