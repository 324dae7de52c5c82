// The playground nodes' sockets: kube-proxy and a pod on each node, on the node's loopback address.
// Each socket answers from the current NodeModel, so an endpoint change needs no new socket:
// - a NodePort (TCP, as HTTP; UDP, one reply per datagram) answers "served by <endpoint's node>",
//   adding "via <node>" when kube-proxy sent it on to another node; with no endpoint it resets the
//   connection (TCP) or drops the datagram (UDP), as kube-proxy rejects or drops;
// - :10256/healthz is kube-proxy's node health; a healthCheckNodePort answers kube-proxy's JSON,
//   200 with local endpoints and 503 without.
import dgram from 'node:dgram';
import http from 'node:http';
import type net from 'node:net';
import { emptyModel, endpointFor, localEndpoints, PROXY_HEALTH_PORT, socketKey, type NodeModel, type ServiceOnNodes, type WantedSocket } from './nodeModel.js';

interface Open {
  close(): Promise<void>;
}

export class NodeSockets {
  private readonly open = new Map<string, Open>();
  private model: NodeModel = emptyModel();
  private turn = 0;

  constructor(private readonly onError: (message: string) => void = () => {}) {}

  /** Closes what is no longer wanted (first, so a moved address is free), then opens the rest. */
  async sync(model: NodeModel, wanted: readonly WantedSocket[]): Promise<void> {
    this.model = model;
    const want = new Map(wanted.map((s) => [socketKey(s), s]));
    const closing: Array<Promise<void>> = [];
    for (const [key, s] of this.open) {
      if (want.has(key)) continue;
      this.open.delete(key);
      closing.push(s.close());
    }
    await Promise.all(closing);
    for (const [key, s] of want) if (!this.open.has(key)) this.open.set(key, s.protocol === 'UDP' ? this.udp(key, s) : this.tcp(key, s));
  }

  async stop(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    await Promise.all(all.map((s) => s.close()));
  }

  /** The Service a NodePort or load-balancer address socket serves now. */
  private serviceAt(s: WantedSocket): ServiceOnNodes | undefined {
    return s.vip ? this.model.byIngressIP.get(s.ip)?.service : this.model.byNodePort.get(`${s.protocol}/${s.port}`);
  }

  /** What a NodePort connection or datagram gets: the reply, or undefined to refuse it. */
  private serve(s: WantedSocket): string | undefined {
    const service = this.serviceAt(s);
    const endpoint = service && endpointFor(service, s.node, this.turn++);
    if (!endpoint) return undefined;
    return `served by ${endpoint}${endpoint === s.node ? '' : ` via ${s.node}`}\n`;
  }

  private tcp(key: string, s: WantedSocket): Open {
    const server = http.createServer((req, res) => {
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify(body)}\n`);
      };
      const now = new Date().toISOString();
      if (s.port === PROXY_HEALTH_PORT && !s.vip) {
        const node = this.model.nodes.get(s.node);
        const eligible = node !== undefined && !node.draining;
        if (req.url !== '/healthz' && req.url !== '/livez') return json(404, { error: 'not found' });
        return json(eligible || req.url === '/livez' ? 200 : 503, { lastUpdated: now, currentTime: now, nodeEligible: eligible });
      }
      const checked = s.vip ? undefined : this.model.byHealthPort.get(s.port);
      if (checked) {
        const [namespace, name] = checked.key.split('/');
        const n = localEndpoints(checked, s.node);
        return json(n > 0 ? 200 : 503, { service: { namespace, name }, localEndpoints: n, serviceProxyHealthy: true });
      }
      const reply = this.serve(s);
      if (reply === undefined) return void req.socket.resetAndDestroy();
      res.setHeader('content-type', 'text/plain');
      res.end(reply);
    });
    // Decided per connection, as kube-proxy's rules act on the first packet.
    server.on('connection', (socket: net.Socket) => {
      if (!s.vip && (s.port === PROXY_HEALTH_PORT || this.model.byHealthPort.has(s.port))) return;
      const service = this.serviceAt(s);
      if (!service || endpointFor(service, s.node, 0) === undefined) socket.resetAndDestroy();
    });
    server.on('error', (error) => this.onError(`node ${s.node} ${key}: ${error.message}`));
    server.listen(s.port, s.ip);
    return {
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          if (!server.listening) return resolve();
          server.close(() => resolve());
        }),
    };
  }

  private udp(key: string, s: WantedSocket): Open {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (_payload, from) => {
      const reply = this.serve(s);
      if (reply !== undefined) socket.send(reply, from.port, from.address);
    });
    socket.on('error', (error) => this.onError(`node ${s.node} ${key}: ${error.message}`));
    socket.bind(s.port, s.ip);
    return { close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
  }
}
