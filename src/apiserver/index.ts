// The embedded in-memory Kubernetes API server: real REST + watch wire protocol on loopback HTTP,
// used by the `apiserver` CLI, the playground, the tests and the benchmarks.
import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { createRequestHandler, type HttpContext, type RecordedRequest } from './httpServer.js';
import { kubeconfigText } from './kubeconfigText.js';
import { ObjectStore } from './objectStore.js';
import { ResourceOperations } from './resourceOperations.js';
import { nodePortRange, serviceRanges } from './serviceAllocation.js';
import { reserveService } from './serviceStrategy.js';
import type { ServiceSpec } from './serviceDefaults.js';
import type { WatchStream } from './watchStream.js';

export { ObjectStore } from './objectStore.js';
export type { KubeObject, ObjectMeta, StoredEntry, ChangeEvent } from './objectStore.js';
export type { RecordedRequest } from './httpServer.js';
export { ApiError } from './apiErrors.js';

export interface ApiServerOptions {
  host?: string;
  port?: number;
  store?: ObjectStore;
  historyLimit?: number;
  /** Service ranges as kube-apiserver's --service-cluster-ip-range: one, or an IPv4 and an IPv6 one (dual-stack). */
  serviceCIDR?: string;
  namespaces?: string[];
  /** NodePorts as kube-apiserver's --service-node-port-range (default 30000-32767). */
  serviceNodePortRange?: string;
  /** How often watches that allow bookmarks get one (default 5 s). */
  bookmarkIntervalMs?: number;
  /** Keep only about this many recorded requests (default: all; long-running servers set a bound). */
  requestRecordLimit?: number;
}

export interface ApiServerHandle {
  url: string;
  port: number;
  store: ObjectStore;
  requests: RecordedRequest[];
  kubeconfig(user?: string): string;
  writeKubeconfig(path: string, user?: string): Promise<void>;
  /** Close every open watch; with compact, also forget history so resuming watchers get 410 Expired. */
  dropWatches(options?: { compact?: boolean }): void;
  stop(): Promise<void>;
}

const builtinNamespaces = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export async function startApiServer(options: ApiServerOptions = {}): Promise<ApiServerHandle> {
  const host = options.host ?? '127.0.0.1';
  const store = options.store ?? new ObjectStore(options.historyLimit ?? 10_000);
  if (options.historyLimit !== undefined) store.historyLimit = options.historyLimit;
  const cidr = options.serviceCIDR ?? (store.clusterIpRanges.map((r) => r.cidr).join(',') || '10.96.0.0/12');
  if (store.clusterIpRanges.map((r) => r.cidr).join(',') !== cidr) {
    store.clusterIpRanges = serviceRanges(cidr);
    for (const key of store.keys('services')) reserveService(store, key, store.get('services', key)?.obj.spec as ServiceSpec | undefined);
  }
  if (options.serviceNodePortRange !== undefined) {
    if (store.keys('services').length > 0) throw new Error('--service-node-port-range: set it before any Service exists');
    store.nodePorts = nodePortRange(options.serviceNodePortRange);
  }
  const ops = new ResourceOperations(store);
  const nsDef = store.catalog.byResource('namespaces')!;
  for (const ns of new Set([...builtinNamespaces, ...(options.namespaces ?? [])])) {
    if (!store.get('namespaces', ns)) ops.create({ def: nsDef }, { metadata: { name: ns } });
  }

  const requests: RecordedRequest[] = [];
  const watches = new Set<WatchStream>();
  let url = '';
  const ctx: HttpContext = {
    store,
    ops,
    requests,
    watches,
    serverAddress: () => url.replace(/^http:\/\//, ''),
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 5000,
    requestRecordLimit: options.requestRecordLimit ?? Infinity,
    now: () => new Date(),
  };
  const server: Server = createServer(createRequestHandler(ctx));
  server.keepAliveTimeout = 60_000;
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const dropWatches = (o?: { compact?: boolean }): void => {
    if (o?.compact) store.compact();
    for (const w of [...watches]) w.close();
  };

  return {
    url,
    port,
    store,
    requests,
    kubeconfig: (user = 'admin') => kubeconfigText(url, user),
    writeKubeconfig: (path, user = 'admin') => writeFile(path, kubeconfigText(url, user), { mode: 0o600 }),
    dropWatches,
    stop: async () => {
      dropWatches();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}
