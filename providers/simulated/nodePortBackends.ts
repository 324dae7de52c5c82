// Stand-ins for kube-proxy and a pod on each simulated node: an HTTP server on every node's
// loopback address and every NodePort, answering "served by <node>". The playground keeps them in
// step with the Services, so traffic through a simulated load balancer reaches a "node".
import http from 'node:http';

export interface NodeAddress {
  name: string;
  ip: string;
}

export class NodePortBackends {
  private readonly servers = new Map<string, http.Server>();

  constructor(private readonly onError: (message: string) => void = () => {}) {}

  /** Listens on ip:port for every node and node port given; closes the rest. */
  sync(nodes: readonly NodeAddress[], nodePorts: readonly number[]): void {
    const wanted = new Map<string, NodeAddress>();
    for (const node of nodes) for (const port of nodePorts) wanted.set(`${node.ip}:${port}`, node);
    for (const [key, server] of this.servers) {
      if (!wanted.has(key)) {
        server.close();
        server.closeAllConnections();
        this.servers.delete(key);
      }
    }
    for (const [key, node] of wanted) {
      if (this.servers.has(key)) continue;
      const port = Number(key.slice(key.lastIndexOf(':') + 1));
      const server = http.createServer((_req, res) => {
        res.setHeader('content-type', 'text/plain');
        res.end(`served by ${node.name}\n`);
      });
      server.on('error', (error) => this.onError(`backend ${key}: ${error.message}`));
      server.listen(port, node.ip);
      this.servers.set(key, server);
    }
  }

  listening(): string[] {
    return [...this.servers.keys()].sort();
  }

  async stop(): Promise<void> {
    const all = [...this.servers.values()];
    this.servers.clear();
    await Promise.all(
      all.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.closeAllConnections();
            if (!s.listening) return resolve();
            s.close(() => resolve());
          }),
      ),
    );
  }
}
