// `npm start` / `kube-lb-provisioner playground`: the embedded API server with a few Nodes, the
// controller and the simulated cloud, all on loopback. Simulated load balancers forward real TCP
// from their 127.x address to per-node NodePort backends that answer "served by node-N".
import { CoreV1Api, type V1Service } from '@kubernetes/client-node';
import { Command } from 'commander';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Registry } from 'prom-client';
import { NodePortBackends } from '../../providers/simulated/nodePortBackends.js';
import { startApiServer, type ApiServerHandle } from '../apiserver/index.js';
import { controllerConfigSchema } from '../config/schema.js';
import { runController, type RunningController } from './runController.js';
import { startInformer } from '../kube/informers.js';
import { kubeConfigFromText } from '../kube/kubeConfigText.js';
import { withSharedConnections } from '../kube/sharedConnections.js';
import { createLogger, type Logger } from '../observability/logger.js';

export interface PlaygroundOptions {
  nodes?: number;
  apiPort?: number;
  kubeconfigPath?: string;
  metricsAddress?: string;
  logger?: Logger;
  /** Serve an IPv4 and an IPv6 service range, so Services can be dual-stack. */
  dualStack?: boolean;
}

const EXAMPLE_SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: hello
spec:
  type: LoadBalancer
  selector:
    app: hello
  ports:
    - name: http
      port: 8080
      targetPort: 80
`;

export interface Playground {
  api: ApiServerHandle;
  controller: RunningController;
  kubeconfigPath: string;
  /** A LoadBalancer Service manifest (hello, port 8080) next to the kubeconfig. */
  exampleServicePath: string;
  nodes: Array<{ name: string; ip: string }>;
  stop(): Promise<void>;
}

export async function startPlayground(options: PlaygroundOptions = {}): Promise<Playground> {
  const logger = options.logger ?? createLogger(process.env.LOG_LEVEL ?? 'warn');
  const api = await startApiServer({
    port: options.apiPort ?? 0,
    requestRecordLimit: 10_000,
    ...(options.dualStack ? { serviceCIDR: '10.96.0.0/16,fd00:10:96::/112' } : {}),
  }); // bounded: the playground runs for hours
  const kubeconfigPath = options.kubeconfigPath ?? join(await mkdtemp(join(tmpdir(), 'kube-lb-playground-')), 'kubeconfig');
  await api.writeKubeconfig(kubeconfigPath);
  const exampleServicePath = join(dirname(kubeconfigPath), 'hello-service.yaml');
  await writeFile(exampleServicePath, EXAMPLE_SERVICE);
  const kubeConfig = withSharedConnections(kubeConfigFromText(api.kubeconfig()));
  const core = kubeConfig.makeApiClient(CoreV1Api);

  const nodes = Array.from({ length: options.nodes ?? 3 }, (_, i) => ({ name: `node-${i + 1}`, ip: `127.1.0.${i + 1}` }));
  for (const [i, n] of nodes.entries()) {
    await core.createNode({
      body: {
        metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, 'topology.kubernetes.io/zone': `playground-${(i % 2) + 1}` } },
        spec: { providerID: `simulated://${n.name}` },
        status: {
          addresses: [
            { type: 'InternalIP', address: n.ip },
            { type: 'Hostname', address: n.name },
          ],
          conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'simulated node' }],
        },
      },
    });
  }

  // Stand-ins for kube-proxy: every node listens on every NodePort of every Service.
  const backends = new NodePortBackends((m) => logger.warn(m));
  const services = startInformer<V1Service>(
    kubeConfig,
    '/api/v1/services',
    () => core.listServiceForAllNamespaces(),
    {
      add: () => syncBackends(),
      update: () => syncBackends(),
      delete: () => syncBackends(),
    },
    { logger },
  );
  function syncBackends() {
    const ports = services.cache.list().flatMap((s) => (s.spec?.ports ?? []).filter((p) => p.nodePort && (p.protocol ?? 'TCP') === 'TCP').map((p) => p.nodePort as number));
    backends.sync(nodes, [...new Set(ports)]);
  }

  const config = controllerConfigSchema.parse({
    clusterName: 'playground',
    leaderElection: { enabled: false },
    backoff: { initialSeconds: 1, maxSeconds: 30 },
    metricsAddress: options.metricsAddress ?? '127.0.0.1:0',
    providers: [{ type: 'simulated', default: true, addressPool: '127.240.0.0/24', staticAddresses: ['127.241.0.10'], latencyMs: 20, forwardTcp: true }],
  });
  const controller = await runController({ kubeConfig, config, logger, registry: new Registry(), tuning: { serveHttp: true, nodeSyncDelayMs: 200 } });

  return {
    api,
    controller,
    kubeconfigPath,
    exampleServicePath,
    nodes,
    stop: async () => {
      await controller.stop();
      await services.stop();
      await backends.stop();
      await api.stop();
    },
  };
}

export function playgroundCommand(): Command {
  return new Command('playground')
    .description('Run the embedded API server, the controller and a simulated cloud on loopback')
    .option('--nodes <n>', 'how many simulated Nodes', '3')
    .option('--api-port <port>', 'API server port (default: a free one)')
    .option('--kubeconfig-out <path>', 'where to write the kubeconfig (default: a temporary directory)')
    .option('--dual-stack', 'serve IPv4 and IPv6 service ranges (10.96.0.0/16,fd00:10:96::/112), so Services can be dual-stack')
    .action(async (flags: { nodes: string; apiPort?: string; kubeconfigOut?: string; dualStack?: boolean }) => {
      const nodes = Number(flags.nodes);
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 200) {
        process.stderr.write(`kube-lb-provisioner: --nodes must be a whole number from 1 to 200 (got ${flags.nodes})\n`);
        process.exit(2);
      }
      const pg = await startPlayground({
        nodes,
        ...(flags.apiPort ? { apiPort: Number(flags.apiPort) } : {}),
        ...(flags.kubeconfigOut ? { kubeconfigPath: flags.kubeconfigOut } : {}),
        ...(flags.dualStack ? { dualStack: true } : {}),
      });
      const k = `kubectl --kubeconfig ${pg.kubeconfigPath}`;
      process.stdout.write(
        [
          `kube-lb-provisioner playground`,
          `  API server   ${pg.api.url}  (${pg.nodes.length} nodes: ${pg.nodes.map((n) => `${n.name} ${n.ip}`).join(', ')})`,
          `  metrics      ${pg.controller.httpUrl ?? ''}/metrics`,
          `  kubeconfig   ${pg.kubeconfigPath}`,
          ``,
          `Try:`,
          `  ${k} apply -f ${pg.exampleServicePath}`,
          `  ${k} get service hello        # EXTERNAL-IP appears within a second`,
          `  curl http://$(${k} get service hello -o jsonpath='{.status.loadBalancer.ingress[0].ip}'):8080/   # served by node-N`,
          `  ${k} delete service hello     # releases the address`,
          ``,
          `Ctrl-C stops everything.`,
          ``,
        ].join('\n'),
      );
      const shutdown = () => void pg.stop().then(() => process.exit(0));
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
}
