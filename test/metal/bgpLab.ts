// A BGP lab in network namespaces, for the metal BGP tests:
//
//   <id>-lan:    bridge br0 (the rack's switch)
//   <id>-router: eth0 10.0.0.1/24 on the bridge, eth1 172.16.0.1/24 to the client; bird2 (a
//                different BGP implementation from the speakers' FRR) as the top-of-rack router,
//                AS 64500, installing ECMP routes in its kernel table; BFD on eth0 (250 ms x 4)
//   <id>-client: eth0 172.16.0.100/24, default route via the router
//   <id>-far:    (optional) a second bird2 router one routed hop behind the first: eth0 10.1.0.2/24
//                and 10.1.0.3/24 to the router's eth2 10.1.0.1/24, default route via it. The nodes
//                reach it only through the router (TTL decremented). 10.1.0.2 speaks eBGP as
//                AS 64501 (multihop), 10.1.0.3 iBGP in the nodes' AS 64512, each its own bird2
//                (strict bind: bird allows one session per neighbor address); routes stay in its RIB
//   <id>-nN:     eth0 10.0.0.1N/24, default route via the router; FRR (pathspace = the namespace's
//                name) started by the node's speaker; an HTTP server on the NodePort answering its
//                node name and an nftables DNAT from the pool to it (kube-proxy's part)
//
// Speakers run in the root namespace (the API server is on 127.0.0.1) with --netns and
// --frr-netns/--frr-pathspace, so their FRR lives in the node's namespace. destroy() removes
// everything, also when a test fails.
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, constants, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { FRR_DAEMONS, stopFrr, vtysh } from '../../src/speaker/bgp/frrDaemons.js';
import { ensureNetworkTools, pollUntil, waitForLiveSpeakers } from './l2Lab.js';
import { inNetns, LabSegment, sh } from './labSegment.js';
import { repoRoot, spawnSpeaker } from './speakerProcess.js';
import { kubectlOk } from '../support/kube.js';


export const ROUTER_IP = '10.0.0.1';
export const ROUTER_IP6 = '2001:db8:ff::1';
export const BGP_POOL6 = '2001:db8:5::/64';
export const ROUTER_ASN = 64500;
export const NODE_ASN = 64512;
export const CLIENT_NET_IP = '172.16.0.100';
export const BGP_POOL = '203.0.113.0/24';
export const NODE_PORT = 30080;
export const MD5_PASSWORD = 'lab-s3cret';
/** The far router: its eBGP address and AS, its iBGP address (AS NODE_ASN), and the hop's address. */
export const FAR_IP = '10.1.0.2';
export const FAR_ASN = 64501;
export const FAR_IBGP_IP = '10.1.0.3';
const FAR_HOP = '10.1.0.1';
/** What the far router's eBGP bird gives routes as local preference (bird's default is 100). */
export const FAR_EBGP_DEFAULT_LOCAL_PREF = 77;

export interface BgpLabNode {
  name: string;
  netns: string;
  ip: string;
  ip6: string;
  http?: ChildProcess;
  speaker?: ChildProcess;
}

export interface RouterOptions {
  /** Password the router expects, per node name (undefined: none). */
  passwords: Record<string, string | undefined>;
  /** BFD with every node. */
  bfd: boolean;
  /** BFD intervals at the router (default 250 ms x 4). */
  bfdTiming?: { intervalMs: number; multiplier: number };
  /** The router's hold time; the session uses the smaller of both sides' (default: the speakers'). */
  holdSeconds?: number;
  /** A second router one hop behind the first (see the top of this file). */
  far?: boolean;
}

/** Fails loudly when a tool the lab needs is missing (after trying to install it). */
export async function ensureBgpTools(): Promise<void> {
  await ensureNetworkTools();
  for (const tool of ['/usr/sbin/bird', '/usr/sbin/birdc', '/usr/bin/vtysh', '/usr/lib/frr/bgpd', '/usr/lib/frr/bfdd', '/usr/lib/frr/frr-reload.py']) {
    await access(tool, constants.X_OK).catch(() => {
      throw new Error(`the BGP lab needs ${tool} (Debian packages frr, frr-pythontools, bird2; test/setup/install-debian-packages.sh)`);
    });
  }
}

export class BgpLab {
  readonly id = `klbg${randomBytes(3).toString('hex')}`;
  readonly lan = `${this.id}-lan`;
  readonly router = `${this.id}-router`;
  readonly client = `${this.id}-client`;
  readonly far = `${this.id}-far`;
  readonly nodes: BgpLabNode[];
  private readonly segment = new LabSegment(this.lan);
  private bird: ChildProcess | undefined;
  private farBirds: ChildProcess[] = [];
  private dir = '';

  constructor(nodeNames: string[]) {
    this.nodes = nodeNames.map((name, i) => ({ name, netns: `${this.id}-n${i + 1}`, ip: `10.0.0.${11 + i}`, ip6: `2001:db8:ff::${11 + i}` }));
  }

  get birdSocket(): string {
    return join(this.dir, 'bird.ctl');
  }

  farBirdSocket(kind: FarKind): string {
    return join(this.dir, `bird-far-${kind}.ctl`);
  }

  async create(dir: string, router: RouterOptions): Promise<void> {
    this.dir = dir;
    await this.segment.createBridge();
    await this.segment.attach(this.router, 'vrouter', `${ROUTER_IP}/24`, `${ROUTER_IP6}/64`);
    await inNetns(this.router, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    await inNetns(this.router, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.forwarding=1']);
    // ECMP spread by ports too, so one client's connections reach several nodes.
    await inNetns(this.router, 'sysctl', ['-q', '-w', 'net.ipv4.fib_multipath_hash_policy=1']);
    await this.segment.addNetns(this.client);
    await inNetns(this.router, 'ip', ['link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.client]);
    await inNetns(this.router, 'ip', ['addr', 'add', '172.16.0.1/24', 'dev', 'eth1']);
    await inNetns(this.router, 'ip', ['link', 'set', 'eth1', 'up']);
    await inNetns(this.client, 'ip', ['addr', 'add', `${CLIENT_NET_IP}/24`, 'dev', 'eth0']);
    await inNetns(this.client, 'ip', ['link', 'set', 'eth0', 'up']);
    await inNetns(this.client, 'ip', ['route', 'add', 'default', 'via', '172.16.0.1']);
    for (const [i, node] of this.nodes.entries()) {
      await this.segment.attach(node.netns, `vnode${i + 1}`, `${node.ip}/24`, `${node.ip6}/64`);
      await inNetns(node.netns, 'ip', ['route', 'add', 'default', 'via', ROUTER_IP]);
      const ruleset = ['table ip klb {', '  chain prerouting {', '    type nat hook prerouting priority -100; policy accept;', `    ip daddr ${BGP_POOL} tcp dport 80 dnat to ${node.ip}:${NODE_PORT}`, '  }', '}'].join('\n');
      await sh('bash', ['-c', `ip netns exec ${node.netns} nft -f - <<'EOF'\n${ruleset}\nEOF`]);
      const server = `require('node:http').createServer((q, s) => { s.setHeader('connection', 'close'); s.end(${JSON.stringify(node.name)}); }).listen(${NODE_PORT}, '0.0.0.0')`;
      node.http = spawn('ip', ['netns', 'exec', node.netns, process.execPath, '-e', server], { stdio: 'ignore' });
    }
    await writeFile(join(this.dir, 'bird.conf'), this.birdConfig(router));
    this.bird = await this.spawnBird(this.router, join(this.dir, 'bird.conf'), this.birdSocket);
    if (router.far) await this.createFar();
  }

  private async createFar(): Promise<void> {
    await this.segment.addNetns(this.far);
    await inNetns(this.router, 'ip', ['link', 'add', 'eth2', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.far]);
    await inNetns(this.router, 'ip', ['addr', 'add', `${FAR_HOP}/24`, 'dev', 'eth2']);
    await inNetns(this.router, 'ip', ['link', 'set', 'eth2', 'up']);
    for (const ip of [FAR_IP, FAR_IBGP_IP]) await inNetns(this.far, 'ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await inNetns(this.far, 'ip', ['link', 'set', 'eth0', 'up']);
    await inNetns(this.far, 'ip', ['route', 'add', 'default', 'via', FAR_HOP]);
    // FRR's next-hop tracking ignores the default route (zebra's `ip nht resolve-via-default` is off),
    // so an eBGP multi-hop peer reached only by it would wait for NHT forever: a route, as a rack has.
    for (const node of this.nodes) await inNetns(node.netns, 'ip', ['route', 'add', '10.1.0.0/24', 'via', ROUTER_IP]);
    for (const kind of ['ebgp', 'ibgp'] as const) {
      const conf = join(this.dir, `bird-far-${kind}.conf`);
      await writeFile(conf, this.farBirdConfig(kind));
      this.farBirds.push(await this.spawnBird(this.far, conf, this.farBirdSocket(kind)));
    }
  }

  /**
   * One of the far router's two birds: per node, an eBGP session (multihop: the nodes are a hop
   * away) or an iBGP one. The static route lets bird resolve the nodes' next-hops (recursive, as for
   * any multihop session).
   */
  farBirdConfig(kind: FarKind): string {
    // eBGP never carries LOCAL_PREF; bird gives such routes its own default, set apart here from
    // anything a node could send.
    const [local, as, options] = kind === 'ebgp' ? [FAR_IP, FAR_ASN, ` multihop; default bgp_local_pref ${FAR_EBGP_DEFAULT_LOCAL_PREF};`] : [FAR_IBGP_IP, NODE_ASN, ''];
    const lines = [
      `router id ${local};`,
      'protocol device { }',
      `protocol static { ipv4; route 10.0.0.0/24 via ${FAR_HOP}; }`,
      `template bgp far { local ${local} as ${as};${options} strict bind yes; ipv4 { import all; export none; }; connect retry time 1; error wait time 1, 5; }`,
    ];
    for (const node of this.nodes) lines.push(`protocol bgp ${kind}_${protocolName(node.name)} from far { neighbor ${node.ip} as ${NODE_ASN}; }`);
    return `${lines.join('\n')}\n`;
  }

  /** bird2's configuration for the router: one eBGP session per node, ECMP into the kernel. */
  birdConfig(router: RouterOptions): string {
    const lines = [
      `router id ${ROUTER_IP};`,
      'protocol device { }',
      // merge paths: equal BGP routes from several nodes become one multipath kernel route.
      'protocol kernel { ipv4 { import none; export all; }; merge paths on; }',
      'protocol kernel { ipv6 { import none; export all; }; merge paths on; }',
    ];
    // 250 ms x 4: 100 ms x 3 flapped here while three frr-reload.py ran at once on two shared
    // cores. The tests check behaviour; the benchmark is where detection time is measured.
    const { intervalMs, multiplier } = router.bfdTiming ?? { intervalMs: 250, multiplier: 4 };
    if (router.bfd) lines.push(`protocol bfd { interface "eth0" { min rx interval ${intervalMs} ms; min tx interval ${intervalMs} ms; multiplier ${multiplier}; }; }`);
    lines.push(`template bgp nodes { local ${ROUTER_IP} as ${ROUTER_ASN}; ipv4 { import all; export none; };${router.holdSeconds ? ` hold time ${router.holdSeconds};` : ''} connect retry time 1; error wait time 1, 5; ${router.bfd ? 'bfd on;' : ''} }`);
    lines.push(`template bgp nodes6 { local ${ROUTER_IP6} as ${ROUTER_ASN}; ipv6 { import all; export none; };${router.holdSeconds ? ` hold time ${router.holdSeconds};` : ''} connect retry time 1; error wait time 1, 5; }`);
    for (const node of this.nodes) {
      const password = router.passwords[node.name];
      const md5 = password ? ` password "${password}";` : '';
      lines.push(`protocol bgp ${protocolName(node.name)} from nodes { neighbor ${node.ip} as ${NODE_ASN};${md5} }`);
      // An IPv6 session too (no BFD: the IPv4 session's BFD covers the node).
      lines.push(`protocol bgp ${protocolName(node.name)}_v6 from nodes6 { neighbor ${node.ip6} as ${NODE_ASN};${md5} }`);
    }
    return `${lines.join('\n')}\n`;
  }

  private async spawnBird(netns: string, conf: string, socket: string): Promise<ChildProcess> {
    const bird = spawn('ip', ['netns', 'exec', netns, 'bird', '-f', '-c', conf, '-s', socket], { stdio: ['ignore', 'ignore', 'inherit'] });
    await pollUntil(async () => (await this.birdc('show status', socket).catch(() => '')).includes('Daemon is up'), 10_000, `bird2 answering in ${netns}`);
    return bird;
  }

  async birdc(command: string, socket = this.birdSocket): Promise<string> {
    return sh('birdc', ['-s', socket, ...command.split(' ')]);
  }

  async farBirdc(kind: FarKind, command: string): Promise<string> {
    return this.birdc(command, this.farBirdSocket(kind));
  }

  /** The router's kernel next-hops for `prefix` ([] when it has no route). */
  async nextHops(prefix: string): Promise<string[]> {
    const routes = JSON.parse(await inNetns(this.router, 'ip', ['-j', 'route', 'show', 'exact', prefix])) as { gateway?: string; nexthops?: { gateway: string }[] }[];
    return routes.flatMap((r) => (r.nexthops ? r.nexthops.map((n) => n.gateway) : r.gateway ? [r.gateway] : [])).sort();
  }

  /** How many next-hops the router's kernel has for an IPv6 `prefix`. */
  async nextHops6(prefix: string): Promise<number> {
    const routes = JSON.parse(await inNetns(this.router, 'ip', ['-6', '-j', 'route', 'show', 'exact', prefix])) as { gateway?: string; nexthops?: unknown[] }[];
    return routes.reduce((n, r) => n + (r.nexthops ? r.nexthops.length : r.gateway ? 1 : 0), 0);
  }

  /** Names of the nodes the router's kernel sends `prefix` to. */
  async advertisingNodes(prefix: string): Promise<string[]> {
    const hops = await this.nextHops(prefix);
    return this.nodes.filter((n) => hops.includes(n.ip)).map((n) => n.name);
  }

  async waitForAdvertisers(prefix: string, names: string[], timeoutMs = 30_000): Promise<void> {
    const want = [...names].sort().join();
    await pollUntil(async () => (await this.advertisingNodes(prefix)).sort().join() === want, timeoutMs, `${prefix} routed to [${want}] by the router`, 100);
  }

  /** bird's state of the session with `node` ("Established", "Active", ...), and since when. */
  async birdSession(node: BgpLabNode): Promise<{ state: string; since: string }> {
    return this.protocolState(protocolName(node.name), this.birdSocket);
  }

  /** The far router's state of its eBGP or iBGP session with `node`. */
  async farSession(kind: FarKind, node: BgpLabNode): Promise<{ state: string; since: string }> {
    return this.protocolState(`${kind}_${protocolName(node.name)}`, this.farBirdSocket(kind));
  }

  private async protocolState(protocol: string, socket: string): Promise<{ state: string; since: string }> {
    const out = await this.birdc(`show protocols ${protocol}`, socket);
    const line = out.split('\n').find((l) => l.startsWith(`${protocol} `));
    const cols = line?.trim().split(/\s+/) ?? [];
    // name proto table state since info: "node_a BGP --- up 07:20:01.123 Established"
    return { state: cols.slice(5).join(' '), since: cols[4] ?? '' };
  }

  /** FRR's own count of sessions established with `peer` (the router) on `node`, and why the last one ended. */
  async frrConnections(node: BgpLabNode, peer = ROUTER_IP): Promise<{ established: number; dropped: number; state: string; lastReset: string }> {
    const frr = { pathspace: node.netns, configPath: '' };
    const json = JSON.parse(await vtysh(frr, 'show bgp summary json')) as { ipv4Unicast?: { peers?: Record<string, { state: string; connectionsEstablished: number; connectionsDropped: number }> } };
    const summary = json.ipv4Unicast?.peers?.[peer];
    const neighbor = JSON.parse(await vtysh(frr, `show bgp neighbors ${peer} json`)) as Record<string, { lastResetDueTo?: string }>;
    return { established: summary?.connectionsEstablished ?? 0, dropped: summary?.connectionsDropped ?? 0, state: summary?.state ?? 'none', lastReset: neighbor[peer]?.lastResetDueTo ?? '' };
  }

  /**
   * What frr-reload.py would still change on `node` to reach the speaker's rendered file: nothing,
   * when the rendering is in FRR's canonical form (the hostname, which we leave to the host, aside).
   */
  async reloadDiff(node: BgpLabNode): Promise<string[]> {
    const file = join('/etc/frr', node.netns, 'kube-lb-provisioner.conf');
    const out = await sh('python3', ['/usr/lib/frr/frr-reload.py', '--test', '--pathspace', node.netns, file], 30_000);
    const changes = out.split('\n').filter((l) => l.trim() !== '' && !/^(Lines To (Delete|Add)|=+)$/.test(l.trim()));
    return changes.filter((l) => !/^(no )?hostname /.test(l));
  }

  /** One HTTP GET from the client; the answering node's name, or undefined. */
  async curl(ip: string): Promise<string | undefined> {
    try {
      return await inNetns(this.client, 'curl', ['-s', '--max-time', '1', `http://${ip}/`], 5_000);
    } catch {
      return undefined;
    }
  }

  /** Kills FRR's daemons on `node` with SIGKILL (a crash: no Cease notification is sent). */
  async killFrr(node: BgpLabNode): Promise<void> {
    for (const daemon of FRR_DAEMONS) {
      const pid = Number((await readFile(join('/var/run/frr', node.netns, `${daemon}.pid`), 'utf8').catch(() => '')).trim());
      if (pid > 0) process.kill(pid, 'SIGKILL');
    }
    await pollUntil(async () => (await sh('pgrep', ['-f', `-N ${node.netns}`]).catch(() => '')).trim() === '', 10_000, `FRR gone on ${node.name}`);
  }

  /** Cuts a node off the network (nftables drops everything in and out of eth0): a dead node. */
  async cutOff(node: BgpLabNode): Promise<void> {
    const ruleset = [
      'table inet klbcut {',
      '  chain input { type filter hook input priority -300; policy accept; iifname "eth0" drop; }',
      '  chain output { type filter hook output priority -300; policy accept; oifname "eth0" drop; }',
      '}',
    ].join('\n');
    await sh('bash', ['-c', `ip netns exec ${node.netns} nft -f - <<'EOF'\n${ruleset}\nEOF`]);
  }

  async reconnect(node: BgpLabNode): Promise<void> {
    await inNetns(node.netns, 'nft', ['delete', 'table', 'inet', 'klbcut']);
  }

  startSpeaker(node: BgpLabNode, kubeconfigPath: string): ChildProcess {
    const child = spawnSpeaker({
      nodeName: node.name,
      kubeconfigPath,
      metricsAddress: '127.0.0.1:0',
      args: ['--interface', 'eth0', '--netns', node.netns, '--liveness-port', '0', '--renew-interval-ms', '500', '--lapse-ms', '3000', '--bgp', '--frr-start', '--frr-pathspace', node.netns, '--frr-netns', node.netns],
    });
    node.speaker = child;
    return child;
  }

  async destroy(): Promise<void> {
    for (const node of this.nodes) {
      node.speaker?.kill('SIGKILL');
      node.http?.kill('SIGKILL');
      // The speaker started FRR; SIGKILL leaves its daemons running.
      await stopFrr({ pathspace: node.netns, configPath: '' }).catch(() => undefined);
    }
    this.bird?.kill('SIGKILL');
    for (const bird of this.farBirds) bird.kill('SIGKILL');
    await this.segment.deleteAll();
    for (const node of this.nodes) {
      await rm(join('/etc/frr', node.netns), { recursive: true, force: true });
      await rm(join('/var/run/frr', node.netns), { recursive: true, force: true });
    }
  }
}

export type FarKind = 'ebgp' | 'ibgp';

export function protocolName(node: string): string {
  return node.replace(/[^a-zA-Z0-9]/g, '_');
}

export interface BgpSpeakerLab {
  lab: BgpLab;
  api: ApiServerHandle;
  kc: KubeConfig;
  core: CoreV1Api;
  kubeconfigPath: string;
  /** `kubectl apply` of MetalLB's objects (YAML documents) in the embedded API server. */
  apply(yaml: string): Promise<void>;
  dir: string;
  destroy(): Promise<void>;
}

/** MetalLB's CRDs, as the chart ships them, are in the embedded API server; its objects go there. */
export const METALLB_NAMESPACE = 'metallb-system';

/**
 * The lab, the embedded API server with MetalLB's CRDs, `metallbYaml` applied and a Node per lab
 * node, and a speaker (with FRR) on each, reading the objects live.
 */
export async function startBgpSpeakerLab(nodeNames: string[], router: RouterOptions, metallbYaml: string): Promise<BgpSpeakerLab> {
  await ensureBgpTools();
  const lab = new BgpLab(nodeNames);
  const dir = await mkdtemp(join(tmpdir(), 'klb-bgp-'));
  let api: ApiServerHandle | undefined;
  const destroy = async (): Promise<void> => {
    await lab.destroy();
    await api?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const kubeconfigPath = join(dir, 'kubeconfig');
    api = await startApiServer({ host: '127.0.0.1', namespaces: [METALLB_NAMESPACE] });
    const server = api;
    const apply = async (yaml: string) => {
      await kubectlOk(server, ['apply', '-f', '-'], yaml);
    };
    await kubectlOk(server, ['apply', '-f', join(repoRoot, 'charts', 'kube-lb-provisioner', 'crds')]);
    await kubectlOk(server, ['wait', '--for', 'condition=established', '--timeout=10s', 'crd', '--all']);
    await apply(metallbYaml);
    await api.writeKubeconfig(kubeconfigPath);
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    await lab.create(dir, router);
    for (const node of lab.nodes) {
      await core.createNode({ body: { metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name } }, status: { addresses: [{ type: 'InternalIP', address: node.ip }] } } });
    }
    for (const node of lab.nodes) lab.startSpeaker(node, kubeconfigPath);
    await waitForLiveSpeakers(kc, nodeNames);
    return { lab, api, kc, core, kubeconfigPath, apply, dir, destroy };
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
}
