// Makes simulated load balancers real on loopback: for every TCP listener, listen on the load
// balancer's address (127.x.y.z is all local on Linux) and forward each connection to the next
// target's NodePort, round robin. The playground uses it so `curl EXTERNAL-IP:port` works.
import net from 'node:net';
import type { CloudLoadBalancer, SimulatedCloud } from './cloud.js';

interface Frontend {
  server: net.Server;
  lbId: string;
  targets: Array<{ ip: string; port: number }>;
  next: number;
  sockets: Set<net.Socket>;
}

export class TcpForwarder {
  private readonly frontends = new Map<string, Frontend>();
  private readonly unsubscribe: () => void;

  constructor(
    cloud: SimulatedCloud,
    private readonly onError: (message: string) => void = () => {},
  ) {
    this.unsubscribe = cloud.onChange((lb, id) => this.sync(lb, id));
    for (const lb of cloud.snapshot()) this.sync(lb, lb.id);
  }

  /** Addresses and ports currently forwarded, e.g. "127.240.0.1:80". */
  listening(): string[] {
    return [...this.frontends.keys()].sort();
  }

  private sync(lb: CloudLoadBalancer | undefined, id: string): void {
    const wanted = new Map<string, Array<{ ip: string; port: number }>>();
    if (lb && lb.state === 'active') {
      for (const l of lb.listeners) {
        if (l.protocol !== 'TCP') continue;
        wanted.set(`${lb.address}:${l.port}`, lb.targets.filter((t) => t.ip !== '').map((t) => ({ ip: t.ip, port: l.nodePort })));
      }
    }
    for (const [key, fe] of this.frontends) {
      if (fe.lbId === id && !wanted.has(key)) this.close(key, fe);
    }
    for (const [key, targets] of wanted) {
      const fe = this.frontends.get(key);
      if (fe) fe.targets = targets;
      else this.open(key, id, targets);
    }
  }

  private open(key: string, lbId: string, targets: Array<{ ip: string; port: number }>): void {
    const [host = '', port = '0'] = splitHostPort(key);
    const fe: Frontend = { server: net.createServer(), lbId, targets, next: 0, sockets: new Set() };
    fe.server.on('connection', (client) => {
      const target = fe.targets.length > 0 ? fe.targets[fe.next++ % fe.targets.length] : undefined;
      if (!target) {
        client.destroy();
        return;
      }
      const upstream = net.connect(target.port, target.ip);
      fe.sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        fe.sockets.delete(client);
        fe.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    fe.server.on('error', (error) => this.onError(`forwarder ${key}: ${error.message}`));
    fe.server.listen(Number(port), host);
    this.frontends.set(key, fe);
  }

  private close(key: string, fe: Frontend): void {
    this.frontends.delete(key);
    for (const s of fe.sockets) s.destroy();
    fe.server.close();
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    const closing = [...this.frontends.entries()].map(
      ([key, fe]) =>
        new Promise<void>((resolve) => {
          this.frontends.delete(key);
          for (const s of fe.sockets) s.destroy();
          if (!fe.server.listening) return resolve();
          fe.server.close(() => resolve());
        }),
    );
    await Promise.all(closing);
  }
}

function splitHostPort(key: string): [string, string] {
  const i = key.lastIndexOf(':');
  return [key.slice(0, i), key.slice(i + 1)];
}
