// A small L2 network in network namespaces, for the metal tests and benchmark:
//
//   <id>-lan:    bridge br0 (the switch)
//   <id>-client: eth0 198.51.100.100/24
//   <id>-nodeN:  eth0 198.51.100.1N/24, an HTTP server on the NodePort answering its node name,
//                and an nftables DNAT from <pool>:80 to that NodePort (standing in for kube-proxy)
//
// Speakers run in the root namespace (they reach the API server on 127.0.0.1) with --netns, so
// their ip/arping commands act inside their node's namespace. Everything is named after a random
// id and removed by destroy(), also when a test fails.
import { CoordinationV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { inNetns, LabSegment, sh } from './labSegment.js';
import { repoRoot, spawnSpeaker } from './speakerProcess.js';
import { kubectlOk } from '../support/kube.js';

export { inNetns, sh };
import { speakerLeaseName } from '../../src/speaker/speaker.js';

const run = promisify(execFile);

export const LAN_PREFIX = '198.51.100';
export const CLIENT_IP = `${LAN_PREFIX}.100`;
export const LAN6_PREFIX = '2001:db8:100:';
export const CLIENT_IP6 = `${LAN6_PREFIX}:100`;
/** IPv6 pool, same segment. */
export const POOL6_RANGE = `${LAN6_PREFIX}:200-${LAN6_PREFIX}:220`;
/** The labs announce IPv4 and IPv6 addresses: their API server allocates both families, as a dual-stack cluster. */
export const DUAL_STACK_SERVICE_CIDR = '10.96.0.0/16,fd00:10:96::/112';
export const POOL_RANGE = `${LAN_PREFIX}.200-${LAN_PREFIX}.220`;
export const SERVICE_PORT = 80;
export const NODE_PORT = 30080;
/**
 * Speaker timing for the tests: they check behaviour, not speed, and run on a loaded 2-core
 * machine where a 1 s renewal can arrive late. The benchmark uses the defaults (1 s / 1.5 s).
 */
export const RELAXED_SPEAKER_TIMING = ['--renew-interval-ms', '500', '--lapse-ms', '3000', '--address-lifetime-seconds', '4'];
/** Port of the speakers' /metrics inside their node namespace (each namespace has its own ports). */
export const NETNS_METRICS_PORT = 7473;

export interface LabNode {
  name: string;
  netns: string;
  ip: string;
  ip6: string;
  http?: ChildProcess;
  speaker?: ChildProcess;
}

/** Fails loudly (the tests need root and the Debian tools; CI is root). */
export async function ensureNetworkTools(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the metal L2 tests need root (network namespaces, nftables, arping); CI runs as root');
  try {
    await run('bash', [join(repoRoot, 'test/setup/install-debian-packages.sh')], { timeout: 300_000 });
  } catch (error) {
    throw new Error(`installing the network test tools failed: ${String((error as { stderr?: string }).stderr ?? error)}`, { cause: error });
  }
}


// Inside a node namespace, 127.0.0.1:<port> leads to the API server in the root namespace through a
// Unix socket (a path is seen from every network namespace).
const apiRelayScript = `
const net = require('node:net');
const [port, path] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.connect(path);
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
}).listen(Number(port), '127.0.0.1');
`;

const httpServerScript = `
const http = require('node:http');
const [node, port] = process.argv.slice(1);
http.createServer((req, res) => { res.setHeader('connection', 'close'); res.end(node); }).listen(Number(port), '::');
`;

export class L2Lab {
  readonly id = `klbt${randomBytes(3).toString('hex')}`;
  readonly lan = `${this.id}-lan`;
  readonly client = `${this.id}-client`;
  readonly nodes: LabNode[];
  private readonly segment = new LabSegment(this.lan);
  private apiRelay: { server: Server; path: string; port: number; children: ChildProcess[] } | undefined;

  constructor(nodeNames: string[]) {
    this.nodes = nodeNames.map((name, i) => ({ name, netns: `${this.id}-n${i + 1}`, ip: `${LAN_PREFIX}.${11 + i}`, ip6: `${LAN6_PREFIX}:${11 + i}` }));
  }

  async create(): Promise<void> {
    await this.segment.createBridge();
    await this.segment.attach(this.client, 'vclient', `${CLIENT_IP}/24`, `${CLIENT_IP6}/64`);
    for (const [i, node] of this.nodes.entries()) {
      await this.segment.attach(node.netns, `vnode${i + 1}`, `${node.ip}/24`, `${node.ip6}/64`);
      // kube-proxy's part, for the test: pool addresses on port 80 go to this node's NodePort.
      const [first, last] = POOL_RANGE.split('-');
      const ruleset = [
        'table ip klb {',
        '  chain prerouting {',
        '    type nat hook prerouting priority -100; policy accept;',
        `    ip daddr ${first}-${last} tcp dport ${SERVICE_PORT} dnat to ${node.ip}:${NODE_PORT}`,
        '  }',
        '}',
        'table ip6 klb6 {',
        '  chain prerouting {',
        '    type nat hook prerouting priority -100; policy accept;',
        `    ip6 daddr ${POOL6_RANGE} tcp dport ${SERVICE_PORT} dnat to [${node.ip6}]:${NODE_PORT}`,
        '  }',
        '}',
      ].join('\n');
      await sh('bash', ['-c', `ip netns exec ${node.netns} nft -f - <<'EOF'\n${ruleset}\nEOF`]);
      node.http = spawn('ip', ['netns', 'exec', node.netns, process.execPath, '-e', httpServerScript, node.name, String(NODE_PORT)], { stdio: 'ignore' });
    }
    // Wait until every node answers on its own address.
    for (const node of this.nodes) {
      await pollUntil(async () => (await this.curl(node.ip, NODE_PORT)) === node.name, 10_000, `HTTP server on ${node.name}`);
    }
  }

  /** One HTTP GET from the client namespace; the body, or undefined when nothing answered. */
  async curl(ip: string, port = SERVICE_PORT, timeoutSeconds = 0.5): Promise<string | undefined> {
    return (await this.curlOutcome(ip, port, timeoutSeconds)).answer;
  }

  /**
   * One HTTP GET, with curl's verdict when it failed: its exit code (7: could not connect, 28:
   * timed out, 52 or 56: a connection made was cut).
   */
  async curlOutcome(ip: string, port = SERVICE_PORT, timeoutSeconds = 0.5): Promise<{ answer?: string; exitCode: number }> {
    try {
      const host = ip.includes(':') ? `[${ip}]` : ip;
      return { answer: await inNetns(this.client, 'curl', ['-g', '-s', '--max-time', String(timeoutSeconds), `http://${host}:${port}/`], (timeoutSeconds + 5) * 1000), exitCode: 0 };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { exitCode: typeof code === 'number' ? code : -1 };
    }
  }

  /**
   * Every `everyMs`, a fresh client (neighbour entry flushed) asks `ip`, until stopped. A failure is
   * `unanswered` when the client could not connect or got no answer (curl 7 or 28), `cut` when a
   * connection it had made was reset (52, 56): when an address moves, the new holder's gratuitous
   * ARP redirects the client mid-request to a node without that connection's state, as in any L2
   * failover. curl waits 3 s, as a patient client: a stalled process on a loaded machine is slow,
   * not lost.
   */
  curlLoop(ip: string, everyMs = 20): { stop: () => Promise<CurlLoopResult> } {
    let running = true;
    const result: CurlLoopResult = { ok: 0, unanswered: 0, cut: 0, answers: new Set<string>(), failures: [] };
    const start = Date.now();
    const loop = (async () => {
      while (running) {
        const t0 = Date.now();
        await this.forgetNeighbour(ip);
        const { answer, exitCode } = await this.curlOutcome(ip, SERVICE_PORT, 3);
        if (answer) {
          result.ok++;
          result.answers.add(answer);
        } else {
          if (exitCode === 52 || exitCode === 56) result.cut++;
          else result.unanswered++;
          result.failures.push(`curl exit ${exitCode} at +${t0 - start} ms, after ${Date.now() - t0} ms`);
        }
        await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - t0))));
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

  /** Node namespaces that carry `vip` on any interface right now. */
  async holders(vip: string): Promise<string[]> {
    const out: string[] = [];
    for (const node of this.nodes) {
      if ((await this.vipEntries(node, vip)).length > 0) out.push(node.name);
    }
    return out;
  }

  /** The entries of `vip` on a node's interfaces, any of them (prefix length, metric for the mark, device). */
  async vipEntries(node: LabNode, vip: string): Promise<{ local: string; prefixlen: number; metric?: number; dev: string }[]> {
    const json = JSON.parse(await inNetns(node.netns, 'ip', ['-j', 'addr', 'show'])) as { ifname: string; addr_info: { local: string; prefixlen: number; metric?: number }[] }[];
    return json.flatMap((l) => l.addr_info.map((a) => ({ ...a, dev: l.ifname }))).filter((a) => a.local === vip);
  }

  /** MAC addresses that answer ARP for `vip`, asked from the client (a few requests). */
  async arpResponders(vip: string): Promise<string[]> {
    let text: string;
    try {
      text = await inNetns(this.client, 'arping', ['-c', '3', '-w', '2', '-I', 'eth0', vip], 5_000);
    } catch (error) {
      text = String((error as { stdout?: string }).stdout ?? '');
    }
    return [...new Set([...text.matchAll(/\[([0-9A-Fa-f:]{17})\]/g)].map((m) => m[1]!.toLowerCase()))];
  }

  /**
   * Drops the client's neighbour entry for `ip`. Each node's DNAT stands in for kube-proxy on the
   * whole pool, so a client still sending to a withdrawn owner's MAC would get an answer; a fresh
   * client has to resolve the address first.
   */
  async forgetNeighbour(ip: string): Promise<void> {
    await inNetns(this.client, 'ip', ['neigh', 'flush', 'to', ip, 'dev', 'eth0']);
  }

  async setLink(node: LabNode, state: 'up' | 'down'): Promise<void> {
    await inNetns(node.netns, 'ip', ['link', 'set', 'eth0', state]);
  }

  /** Cuts `node` off from `others` (both ways, IPv4 and IPv6); the client still reaches it. */
  async partition(node: LabNode, others: LabNode[]): Promise<void> {
    const v4 = others.map((o) => o.ip).join(', ');
    const v6 = others.map((o) => o.ip6).join(', ');
    const ruleset = [
      'table inet klbpartition {',
      '  chain input { type filter hook input priority -200; policy accept;',
      `    ip saddr { ${v4} } drop`,
      `    ip6 saddr { ${v6} } drop`,
      '  }',
      '  chain output { type filter hook output priority -200; policy accept;',
      `    ip daddr { ${v4} } drop`,
      `    ip6 daddr { ${v6} } drop`,
      '  }',
      '}',
    ].join('\n');
    await sh('bash', ['-c', `ip netns exec ${node.netns} nft -f - <<'EOF'\n${ruleset}\nEOF`]);
  }

  async heal(node: LabNode): Promise<void> {
    await inNetns(node.netns, 'nft', ['delete', 'table', 'inet', 'klbpartition']);
  }

  async macOf(node: LabNode): Promise<string> {
    const json = JSON.parse(await inNetns(node.netns, 'ip', ['-j', 'link', 'show', 'dev', 'eth0'])) as { address: string }[];
    return json[0]!.address.toLowerCase();
  }

  /**
   * Starts the speaker CLI for `node` (in the root namespace, acting in the node's namespace),
   * with `--interface <iface>` (eth0 unless told), or none when iface is null.
   */
  startSpeaker(node: LabNode, kubeconfigPath: string, extraArgs: string[] = [], iface: string | null = 'eth0'): ChildProcess {
    const child = spawnSpeaker({
      nodeName: node.name,
      kubeconfigPath,
      metricsAddress: '127.0.0.1:0',
      // Every speaker here shares the root namespace: they cannot all bind the liveness port, and
      // their probes would not cross the lab's links. startSpeakerInNetns runs the real thing.
      args: [...(iface === null ? [] : ['--interface', iface]), '--netns', node.netns, '--liveness-port', '0', ...extraArgs],
    });
    node.speaker = child;
    return child;
  }

  /**
   * Lets speakers inside the node namespaces reach the API server at 127.0.0.1:<apiPort>, as the
   * kubeconfig says, through a Unix socket. Idempotent.
   */
  async relayApiServer(apiPort: number, dir: string): Promise<void> {
    if (this.apiRelay) return;
    const path = join(dir, 'api.sock');
    const server = createServer((client) => {
      const upstream = connect(apiPort, '127.0.0.1');
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, () => resolve()));
    const children = this.nodes.map((node) => spawn('ip', ['netns', 'exec', node.netns, process.execPath, '-e', apiRelayScript, String(apiPort), path], { stdio: 'ignore' }));
    this.apiRelay = { server, path, port: apiPort, children };
    for (const node of this.nodes) {
      await pollUntil(async () => (await inNetns(node.netns, 'ss', ['-Hltn', `sport = :${apiPort}`])).trim() !== '', 10_000, `API relay in ${node.name}`);
    }
  }

  /**
   * Starts the speaker CLI inside the node's namespace, as a DaemonSet pod with hostNetwork runs:
   * its liveness probes travel the lab's links, so link down and partitions are real for them.
   * Its /metrics is on 127.0.0.1:NETNS_METRICS_PORT in that namespace (speakerMetrics()).
   */
  startSpeakerInNetns(node: LabNode, kubeconfigPath: string, extraArgs: string[] = []): ChildProcess {
    if (!this.apiRelay) throw new Error('relayApiServer() first: the speaker inside the namespace needs the API server');
    const child = spawnSpeaker({
      nodeName: node.name,
      kubeconfigPath,
      metricsAddress: `127.0.0.1:${NETNS_METRICS_PORT}`,
      insideNetns: node.netns,
      args: ['--interface', 'eth0', ...extraArgs],
    });
    node.speaker = child;
    return child;
  }

  /** The /metrics text of a speaker started with startSpeakerInNetns. */
  async speakerMetrics(node: LabNode): Promise<string> {
    return inNetns(node.netns, 'curl', ['-s', '--max-time', '2', `http://127.0.0.1:${NETNS_METRICS_PORT}/metrics`], 5_000);
  }

  /**
   * Where the node's speaker serves /healthz, /readyz and /metrics (speakerHttpUrl).
   */
  async speakerHealthUrl(node: LabNode, timeoutMs = 20_000): Promise<string> {
    return speakerHttpUrl(node.name, node.speaker, timeoutMs);
  }

  async stopSpeaker(node: LabNode, signal: NodeJS.Signals): Promise<void> {
    const child = node.speaker;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
    node.speaker = undefined;
  }

  async destroy(): Promise<void> {
    for (const node of this.nodes) {
      await this.stopSpeaker(node, 'SIGKILL').catch(() => undefined);
      node.http?.kill('SIGKILL');
    }
    if (this.apiRelay) {
      for (const child of this.apiRelay.children) child.kill('SIGKILL');
      await new Promise<void>((resolve) => this.apiRelay!.server.close(() => resolve()));
      this.apiRelay = undefined;
    }
    await this.segment.deleteAll();
  }
}

export interface CurlLoopResult {
  ok: number;
  unanswered: number;
  cut: number;
  answers: Set<string>;
  failures: string[];
}

/** A lab with the embedded API server, a Node object per lab node and a live speaker on each. */
export interface SpeakerLab {
  lab: L2Lab;
  api: ApiServerHandle;
  kc: KubeConfig;
  core: CoreV1Api;
  kubeconfigPath: string;
  /** Stops the speakers, removes the namespaces, stops the API server. Safe after a failed start. */
  destroy(): Promise<void>;
}

/**
 * `metallbYaml`: MetalLB's CRDs (the chart's) and these objects are in the API server before the
 * speakers start, so they read them from their first evaluation.
 */
export async function startSpeakerLab(
  nodeNames: string[],
  speakerArgs: string[] = RELAXED_SPEAKER_TIMING,
  netns?: { inNetns: true; speakerArgs: string[] },
  metallbYaml?: string,
): Promise<SpeakerLab> {
  await ensureNetworkTools();
  const lab = new L2Lab(nodeNames);
  const dir = await mkdtemp(join(tmpdir(), 'klb-l2-'));
  let api: ApiServerHandle | undefined;
  const destroy = async (): Promise<void> => {
    await lab.destroy();
    await api?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const kubeconfigPath = join(dir, 'kubeconfig');
    api = await startApiServer({ host: '127.0.0.1', serviceCIDR: DUAL_STACK_SERVICE_CIDR, namespaces: ['metallb-system'] });
    await api.writeKubeconfig(kubeconfigPath);
    if (metallbYaml !== undefined) {
      await kubectlOk(api, ['apply', '-f', join(repoRoot, 'charts', 'kube-lb-provisioner', 'crds')]);
      await kubectlOk(api, ['wait', '--for', 'condition=established', '--timeout=10s', 'crd', '--all']);
      await kubectlOk(api, ['apply', '-f', '-'], metallbYaml);
    }
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    await lab.create();
    for (const node of lab.nodes) {
      await core.createNode({ body: { metadata: { name: node.name }, status: { addresses: [{ type: 'InternalIP', address: node.ip }] } } });
    }
    if (netns) {
      await lab.relayApiServer(api.port, dir);
      for (const node of lab.nodes) lab.startSpeakerInNetns(node, kubeconfigPath, netns.speakerArgs);
      // Leases at the defaults (10 s renewal): a Lease counts from its first write.
      await waitForLiveSpeakers(kc, nodeNames, 60_000, 40_000);
    } else {
      for (const node of lab.nodes) lab.startSpeaker(node, kubeconfigPath, speakerArgs);
      await waitForLiveSpeakers(kc, nodeNames);
    }
    return { lab, api, kc, core, kubeconfigPath, destroy };
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
}

/** Plays the controller's part: writes the Service's load-balancer addresses into its status. */
export async function setIngress(core: CoreV1Api, namespace: string, name: string, ips: string[]): Promise<void> {
  await core.patchNamespacedServiceStatus(
    { name, namespace, body: { status: { loadBalancer: { ingress: ips.map((ip) => ({ ip, ipMode: 'VIP' })) } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/** Waits until the lab's nodes holding `vip` are exactly `expected` (empty: nobody holds it). */
export async function waitForHolders(lab: L2Lab, vip: string, expected: string[], timeoutMs = 20_000): Promise<void> {
  const want = [...expected].sort().join();
  await pollUntil(async () => (await lab.holders(vip)).sort().join() === want, timeoutMs, `${vip} held by [${want}]`);
}

/** Waits until exactly `node` holds `vip` and the client's curl through it answers from `node`. */
export async function waitForSoleAnnouncer(lab: L2Lab, vip: string, node: string, timeoutMs = 20_000): Promise<void> {
  await pollUntil(
    async () => (await lab.holders(vip)).join() === node && (await lab.curl(vip)) === node,
    timeoutMs,
    `${vip} held by ${node} only and answering from it`,
  );
}

/** Waits until each named node's speaker Lease was renewed within the last `freshMs` (1.5 s). */
export async function waitForLiveSpeakers(kc: KubeConfig, nodes: string[], timeoutMs = 60_000, freshMs = 1500): Promise<void> {
  const coordination = kc.makeApiClient(CoordinationV1Api);
  await pollUntil(
    async () => {
      const leases = (await coordination.listNamespacedLease({ namespace: 'kube-system' })).items;
      return nodes.every((node) => {
        const lease = leases.find((l) => l.metadata?.name === speakerLeaseName(node));
        const renewed = lease?.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
        return Date.now() - renewed < freshMs;
      });
    },
    timeoutMs,
    `live speakers on ${nodes.join(', ')}`,
    100,
  );
}

export async function pollUntil(check: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Where a speaker started with `--metrics-address 127.0.0.1:0` serves /healthz, /readyz and
 * /metrics: the port is read from the kernel's socket table (ss) for the speaker's pid.
 */
export async function speakerHttpUrl(nodeName: string, speaker: ChildProcess | undefined, timeoutMs = 20_000): Promise<string> {
  const pid = speaker?.pid;
  if (pid === undefined) throw new Error(`no speaker running on ${nodeName}`);
  let url = '';
  await pollUntil(
    async () => {
      const listening = await sh('ss', ['-Hltnp']);
      const line = listening.split('\n').find((l) => l.includes(`pid=${pid},`) && /\s127\.0\.0\.1:\d+\s/.test(l));
      const port = line ? /\s127\.0\.0\.1:(\d+)\s/.exec(line)?.[1] : undefined;
      if (port) url = `http://127.0.0.1:${port}`;
      return url !== '';
    },
    timeoutMs,
    `${nodeName}'s speaker listening on 127.0.0.1`,
    100,
  );
  return url;
}
