// The effects edge to FRR: starts its daemons for this node (zebra, staticd, bgpd, bfdd; in the
// labs inside the node's network namespace with a pathspace, `-N <name>`), applies a rendered
// configuration with frr-reload.py (a diff against the running config, so unchanged sessions stay
// up), or with a few vtysh commands when only prefixes changed (frrPrefixChange.ts), and reads
// session state with vtysh. The configuration is written to a file of our own:
// frr-reload.py writes the running config over the daemons' frr.conf after every reload.
import { execFile } from 'node:child_process';
import { chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onlyRepeatsRefused } from './frrReloadRefusals.js';
import { prefixOnlyCommands } from './frrPrefixChange.js';

const execFileAsync = promisify(execFile);

export const FRR_DAEMONS = ['zebra', 'staticd', 'bgpd', 'bfdd'] as const;
export const FRR_BIN_DIR = '/usr/lib/frr';

export interface FrrOptions {
  /** FRR pathspace (-N): /etc/frr/<name>/, /var/run/frr/<name>/; undefined: FRR's default paths. */
  pathspace?: string;
  /** Run the daemons inside this network namespace (labs). */
  netns?: string;
  /** Where our rendered configuration is written (never the daemons' own frr.conf). */
  configPath: string;
}

/** Session state of one neighbor, from `show bgp summary json` and `show bfd peers json`. */
export interface PeerSession {
  address: string;
  /** BGP FSM state: Idle, Connect, Active, OpenSent, OpenConfirm, Established. */
  state: string;
  established: boolean;
  prefixesSent: number;
  connectionsEstablished: number;
  connectionsDropped: number;
  /** 'up' | 'down' | 'init' | ... when BFD runs for the peer. */
  bfd?: string;
}

/** How a configuration went in: a few vtysh commands (prefixes only) or frr-reload.py. */
export type ApplyMethod = 'vtysh' | 'frr-reload';

export interface FrrControl {
  /**
   * `previous`: the configuration applied last, when FRR still runs it; a change of prefixes only
   * then goes in by vtysh. Answers which way the configuration went in.
   */
  apply(config: string, previous?: string): Promise<ApplyMethod>;
  sessions(): Promise<PeerSession[]>;
}

function confDir(o: FrrOptions): string {
  return o.pathspace ? join('/etc/frr', o.pathspace) : '/etc/frr';
}

function runDir(o: FrrOptions): string {
  return o.pathspace ? join('/var/run/frr', o.pathspace) : '/var/run/frr';
}

async function run(cmd: string, args: string[], timeout = 30_000): Promise<string> {
  try {
    return (await execFileAsync(cmd, args, { timeout, maxBuffer: 16 * 1024 * 1024 })).stdout;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim()}`, { cause: error });
  }
}

const pathspaceArgs = (o: FrrOptions): string[] => (o.pathspace ? ['-N', o.pathspace] : []);

export async function vtysh(o: FrrOptions, command: string): Promise<string> {
  return run('vtysh', [...pathspaceArgs(o), '-c', command], 10_000);
}

/** Starts the daemons (they fork into the background). Fails loudly when FRR is not installed. */
export async function startFrr(o: FrrOptions): Promise<void> {
  for (const dir of [confDir(o), runDir(o)]) await mkdir(dir, { recursive: true });
  const ids = await frrIds();
  for (const dir of [confDir(o), runDir(o)]) await chown(dir, ids.uid, ids.gid);
  const vtyshConf = join(confDir(o), 'vtysh.conf');
  await writeFile(vtyshConf, 'service integrated-vtysh-config\n', { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
  await chown(vtyshConf, ids.uid, ids.gid);
  await startDeadDaemons(o);
}

/**
 * Starts each daemon that is not running (all of them at first; after a crash, the ones that died)
 * and waits until they answer. Returns the ones started. A speaker restarted after a crash finds its
 * FRR still running and keeps it, with its sessions.
 */
export async function startDeadDaemons(o: FrrOptions): Promise<string[]> {
  const started: string[] = [];
  for (const daemon of FRR_DAEMONS) {
    if (await running(join(runDir(o), `${daemon}.pid`), daemon)) continue;
    // A killed daemon leaves its vty socket behind: gone, it would pass for an answering one.
    await rm(join(runDir(o), `${daemon}.vty`), { force: true });
    // -A: the daemons' vty listens on loopback only; -d: daemonize, the pid file is in runDir.
    const argv = [join(FRR_BIN_DIR, daemon), '-d', '-A', '127.0.0.1', ...pathspaceArgs(o)];
    await (o.netns ? run('ip', ['netns', 'exec', o.netns, ...argv]) : run(argv[0]!, argv.slice(1)));
    started.push(daemon);
  }
  if (started.length > 0) await daemonsAnswering(o);
  return started;
}

/** Waits until every daemon's vty socket exists: before that, vtysh and frr-reload.py fail with
 * "failed to connect to any daemons" (seen on a loaded two-core machine). */
async function daemonsAnswering(o: FrrOptions, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing: string[] = [];
    for (const daemon of FRR_DAEMONS) {
      if (!(await stat(join(runDir(o), `${daemon}.vty`)).catch(() => undefined))) missing.push(daemon);
    }
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`FRR daemons started but not answering after ${timeoutMs} ms: no vty socket for ${missing.join(', ')} in ${runDir(o)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The pid file's process is alive (not a zombie) and is that daemon (not a reused pid). */
async function running(pidFile: string, daemon: string): Promise<boolean> {
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (!(pid > 0)) return false;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // /proc/<pid>/stat: "pid (comm) state ..."
  const match = /^\d+ \((.*)\) (\S)/.exec(stat);
  return match !== null && match[1] === daemon && match[2] !== 'Z';
}

async function frrIds(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith('frr:'));
  if (!line) throw new Error('no "frr" user: is the frr package installed?');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Stops the daemons started by startFrr (by the pids in their pid files). */
export async function stopFrr(o: FrrOptions): Promise<void> {
  for (const daemon of FRR_DAEMONS) {
    const pidFile = join(runDir(o), `${daemon}.pid`);
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await rm(pidFile, { force: true });
  }
}

/** FRR driven through vtysh and frr-reload.py. */
export function frrControl(o: FrrOptions): FrrControl {
  return {
    async apply(config: string, previous?: string): Promise<ApplyMethod> {
      await writeFile(o.configPath, config);
      const commands = previous === undefined ? undefined : prefixOnlyCommands(previous, config);
      if (commands !== undefined) {
        if (commands.length === 0) return 'vtysh';
        // vtysh exits non-zero when a command fails; frr-reload.py then repairs whatever went in.
        const ok = await run('vtysh', [...pathspaceArgs(o), ...commands.flatMap((c) => ['-c', c])], 10_000).then(
          () => true,
          () => false,
        );
        if (ok) return 'vtysh';
      }
      const reload = [join(FRR_BIN_DIR, 'frr-reload.py'), '--reload', ...(o.pathspace ? ['--pathspace', o.pathspace] : []), o.configPath];
      await execFileAsync('python3', reload, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }).catch(async (error: { stdout?: string; stderr?: string; message: string }) => {
        if (onlyRepeatsRefused(error.stderr ?? '', await vtysh(o, 'show running-config').catch(() => ''))) return;
        throw new Error(`python3 ${reload.join(' ')} failed: ${(error.stderr || error.stdout || error.message).trim()}`, { cause: error });
      });
      return 'frr-reload';
    },
    async sessions(): Promise<PeerSession[]> {
      return parseSessions(await vtysh(o, 'show bgp summary json'), await vtysh(o, 'show bfd peers json').catch(() => '[]'));
    },
  };
}

interface SummaryPeer {
  state?: string;
  pfxSnt?: number;
  connectionsEstablished?: number;
  connectionsDropped?: number;
}

/** Pure: the sessions in vtysh's JSON (one entry per neighbor, over both address families). */
export function parseSessions(summaryJson: string, bfdJson: string): PeerSession[] {
  const summary = JSON.parse(summaryJson || '{}') as Record<string, { peers?: Record<string, SummaryPeer> }>;
  const bfd = JSON.parse(bfdJson || '[]') as { peer?: string; status?: string }[];
  const out = new Map<string, PeerSession>();
  for (const family of Object.values(summary)) {
    for (const [address, p] of Object.entries(family.peers ?? {})) {
      const known = out.get(address);
      const state = p.state ?? 'Unknown';
      const session: PeerSession = {
        address,
        state,
        established: state === 'Established',
        prefixesSent: (known?.prefixesSent ?? 0) + (p.pfxSnt ?? 0),
        connectionsEstablished: p.connectionsEstablished ?? 0,
        connectionsDropped: p.connectionsDropped ?? 0,
      };
      const b = bfd.find((x) => x.peer === address);
      if (b?.status !== undefined) session.bfd = b.status;
      out.set(address, session);
    }
  }
  return [...out.values()].sort((a, b) => a.address.localeCompare(b.address));
}
