// Makes simulated load balancers real on loopback, as a passthrough cloud load balancer: every TCP
// and UDP listener listens on the load balancer's address (all of 127.0.0.0/8 is local on Linux)
// and forwards each new connection or UDP flow to a target's NodePort, chosen by TargetChooser from
// the targets its HealthChecker finds healthy. The client's address is kept (the upstream socket is
// bound to it, loopback allows any 127.x source), so NodePorts see who called, as behind a real
// passthrough load balancer. A refused client (source ranges) is reset at once, where a cloud's
// firewall would let it time out.
import dgram from 'node:dgram';
import net from 'node:net';
import type { CloudLoadBalancer, Listener, SimulatedCloud, Target } from './cloud.js';
import { HealthChecker, type Probe } from './healthChecker.js';
import { TargetChooser } from './targetChooser.js';

export interface TrafficForwarderOptions {
  healthCheckIntervalMs?: number;
  probe?: Probe;
  onError?: (message: string) => void;
}

interface Frontend {
  lbId: string;
  listener: Listener;
  close(): Promise<void>;
}

interface Flow {
  upstream: dgram.Socket;
  idle: NodeJS.Timeout;
  target: Target;
}

export class TrafficForwarder {
  private readonly frontends = new Map<string, Frontend>();
  private readonly lbs = new Map<string, { lb: CloudLoadBalancer; chooser: TargetChooser }>();
  readonly health: HealthChecker;
  private readonly unsubscribe: () => void;
  private readonly onError: (message: string) => void;

  constructor(cloud: SimulatedCloud, options: TrafficForwarderOptions = {}) {
    this.onError = options.onError ?? (() => {});
    this.health = new HealthChecker(options.healthCheckIntervalMs ?? 1_000, options.probe);
    this.unsubscribe = cloud.onChange((lb, id) => this.sync(lb, id));
    for (const lb of cloud.snapshot()) this.sync(lb, lb.id);
  }

  private sync(lb: CloudLoadBalancer | undefined, id: string): void {
    const active = lb && lb.state === 'active' ? lb : undefined;
    if (active) {
      const known = this.lbs.get(id);
      this.lbs.set(id, { lb: active, chooser: known?.chooser ?? new TargetChooser() });
      this.health.track(id, active.targets, active.healthCheck);
    } else {
      this.lbs.delete(id);
      this.health.untrack(id);
    }
    const wanted = new Map((active?.listeners ?? []).filter((l) => l.protocol !== 'SCTP').map((l) => [`${l.protocol} ${active?.address}:${l.port}`, l]));
    for (const [key, fe] of this.frontends) {
      if (fe.lbId !== id) continue;
      const want = wanted.get(key);
      if (!want) {
        this.frontends.delete(key);
        void fe.close();
      } else fe.listener = want;
    }
    for (const [key, listener] of wanted) {
      if (this.frontends.has(key) || !active) continue;
      this.frontends.set(key, listener.protocol === 'UDP' ? this.openUdp(key, id, active.address, listener) : this.openTcp(key, id, active.address, listener));
    }
  }

  /** The target for a new connection or flow from clientIp, or undefined to refuse it. */
  private choose(lbId: string, clientIp: string): Target | undefined {
    const entry = this.lbs.get(lbId);
    if (!entry) return undefined;
    const { lb, chooser } = entry;
    const choice = chooser.choose({
      clientIp,
      targets: lb.targets,
      sourceRanges: lb.sourceRanges,
      isHealthy: (t) => this.health.state(t.ip, lb.healthCheck) === true,
      ...(lb.sessionAffinity ? { affinity: lb.sessionAffinity } : {}),
    });
    return 'target' in choice ? choice.target : undefined;
  }

  private openTcp(key: string, lbId: string, address: string, listener: Listener): Frontend {
    const sockets = new Set<net.Socket>();
    const fe: Frontend = { lbId, listener, close: () => closeServer(server, sockets) };
    const server = net.createServer((client) => {
      const clientIp = plainIp(client.remoteAddress);
      const target = this.choose(lbId, clientIp);
      if (!target) return void client.resetAndDestroy();
      const upstream = net.connect({ host: target.ip, port: fe.listener.nodePort, ...(isLoopback(clientIp) ? { localAddress: clientIp } : {}) });
      sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      // Idle connections are closed after the load balancer's idle timeout, as clouds do.
      client.setTimeout((this.lbs.get(lbId)?.lb.idleTimeoutSeconds ?? 350) * 1000, drop);
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    server.on('error', (error) => this.onError(`forwarder ${key}: ${error.message}`));
    server.listen(listener.port, address);
    return fe;
  }

  private openUdp(key: string, lbId: string, address: string, listener: Listener): Frontend {
    const flows = new Map<string, Flow>();
    const socket = dgram.createSocket('udp4');
    const idleMs = () => (this.lbs.get(lbId)?.lb.idleTimeoutSeconds ?? 120) * 1000;
    const endFlow = (id: string) => {
      const flow = flows.get(id);
      if (!flow) return;
      flows.delete(id);
      clearTimeout(flow.idle);
      flow.upstream.close();
    };
    socket.on('message', (payload, from) => {
      const id = `${from.address}:${from.port}`;
      let flow = flows.get(id);
      if (flow && !this.stillServes(lbId, flow.target)) endFlow(id);
      flow = flows.get(id);
      if (!flow) {
        const target = this.choose(lbId, from.address);
        if (!target) return; // dropped, as a firewall drops it
        const upstream = dgram.createSocket('udp4');
        upstream.on('message', (reply) => socket.send(reply, from.port, from.address));
        upstream.on('error', () => endFlow(id));
        // Bound to the client's address (any port), so the NodePort sees who sent.
        upstream.bind({ address: isLoopback(from.address) ? from.address : '0.0.0.0', port: 0 });
        upstream.connect(fe.listener.nodePort, target.ip);
        flow = { upstream, idle: setTimeout(() => endFlow(id), idleMs()), target };
        flows.set(id, flow);
      }
      flow.idle.refresh();
      const up = flow.upstream;
      const send = () => up.send(payload, (error) => error && endFlow(id));
      // connect() is asynchronous; datagrams that arrive before it finishes wait for it.
      try {
        up.remoteAddress();
        send();
      } catch {
        up.once('connect', send);
      }
    });
    socket.on('error', (error) => this.onError(`forwarder ${key}: ${error.message}`));
    socket.bind(listener.port, address);
    const fe: Frontend = {
      lbId,
      listener,
      close: () =>
        new Promise<void>((resolve) => {
          for (const id of [...flows.keys()]) endFlow(id);
          socket.close(() => resolve());
        }),
    };
    return fe;
  }

  /**
   * UDP flows are pinned to their target like conntrack entries; a flow whose target was
   * deregistered or failed its health check ends, so the client's next datagram picks a new one.
   */
  private stillServes(lbId: string, target: Target): boolean {
    const lb = this.lbs.get(lbId)?.lb;
    return !!lb && lb.targets.some((t) => t.name === target.name && t.ip === target.ip) && this.health.state(target.ip, lb.healthCheck) !== false;
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    this.health.stop();
    const all = [...this.frontends.values()];
    this.frontends.clear();
    await Promise.all(all.map((fe) => fe.close().catch(() => {})));
  }
}

function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  return new Promise((resolve) => {
    for (const s of sockets) s.destroy();
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

const plainIp = (ip: string | undefined) => (ip ?? '').replace(/^::ffff:/, '');
const isLoopback = (ip: string) => ip.startsWith('127.');
