// `npm start` / `kube-lb-provisioner playground`: the embedded API server with a few Nodes, the
// controller and the simulated cloud, all on loopback. The cloud forwards real TCP and UDP from
// each load balancer's 127.240.x address to the healthy nodes' NodePorts; each node (127.1.0.x) runs
// kube-proxy-like sockets and a few simulated endpoints (src/cli/playground/).
import { ApiextensionsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { Command } from 'commander';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import { serveCloud } from '../../providers/simulated/cloudOverHttp.js';
import { SimulatedProvider } from '../../providers/simulated/provider.js';
import { startApiServer, type ApiServerHandle } from '../apiserver/index.js';
import { controllerConfigSchema } from '../config/schema.js';
import { kubeConfigFromText } from '../kube/kubeConfigText.js';
import { withSharedConnections } from '../kube/sharedConnections.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { installChartCrds } from './chartCrds.js';
import { nodeAddress, PlaygroundNodes } from './playground/playgroundNodes.js';
import { runController, type RunningController } from './runController.js';

export interface PlaygroundOptions {
  nodes?: number;
  apiPort?: number;
  kubeconfigPath?: string;
  metricsAddress?: string;
  logger?: Logger;
  /** Serve an IPv4 and an IPv6 service range, so Services can be dual-stack. */
  dualStack?: boolean;
  /** How often the cloud health-checks each node (default 1 s). */
  healthCheckIntervalMs?: number;
  /**
   * simulated (default): the simulated cloud. metal: the metal provider on a loopback pool
   * (127.250.0.0/24), with one real speaker per node announcing on a loopback segment.
   */
  provider?: 'simulated' | 'metal';
  /**
   * Playgrounds side by side (tests run in parallel) each take their own loopback addresses:
   * instance k puts nodes at 127.(1+k).0.x and load balancers at 127.240.k.x (metal 127.250.k.x).
   */
  instance?: number;
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

/** The metal playground's pool: loopback addresses, so no root is needed to use them. */
export const metalPool = (instance = 0) => `127.250.${instance}.1-127.250.${instance}.254`;

export interface Playground {
  api: ApiServerHandle;
  controller: RunningController;
  /** The controller's simulated provider (its cloud holds the load balancers); none with metal. */
  provider: SimulatedProvider | undefined;
  kubeconfigPath: string;
  /** A LoadBalancer Service manifest (hello, port 8080) next to the kubeconfig. */
  exampleServicePath: string;
  /** The controller's configuration, pointed at this playground's cloud: for `plan --config`. */
  planConfigPath: string;
  /** Where the simulated cloud's API is served (for plan); none with metal. */
  cloudUrl: string | undefined;
  /** The nodes created at start. */
  nodes: Array<{ name: string; ip: string }>;
  playgroundNodes: PlaygroundNodes;
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

  const instance = options.instance ?? 0;
  if (!Number.isInteger(instance) || instance < 0 || instance > 200) throw new Error(`playground instance ${instance}: a whole number from 0 to 200`);
  const nodes = Array.from({ length: options.nodes ?? 3 }, (_, i) => ({ name: `node-${i + 1}`, ip: nodeAddress(i, instance) }));
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
  const metal = options.provider === 'metal';
  // MetalLB's CRDs, as the chart installs them: metal reads its pools from them too (empty here).
  if (metal) await installChartCrds(kubeConfig.makeApiClient(ApiextensionsV1Api));
  const playgroundNodes = new PlaygroundNodes(kubeConfig, logger, { metalSpeakers: metal, instance });
  await playgroundNodes.waitForSync();

  const simulated = {
    type: 'simulated',
    default: true,
    addressPool: `127.240.${instance}.0/24`,
    staticAddresses: [`127.241.${instance}.10`],
    latencyMs: 20,
    healthCheckIntervalMs: options.healthCheckIntervalMs ?? 1_000,
  };
  const metalEntry = { type: 'metal', default: true, pools: [{ name: 'playground', addresses: [metalPool(instance)] }] };
  const config = controllerConfigSchema.parse({
    clusterName: 'playground',
    leaderElection: { enabled: false },
    backoff: { initialSeconds: 1, maxSeconds: 30 },
    metricsAddress: options.metricsAddress ?? '127.0.0.1:0',
    providers: [metal ? metalEntry : { ...simulated, forwardTraffic: true }],
  });
  const controller = await runController({ kubeConfig, config, logger, registry: new Registry(), tuning: { serveHttp: true, nodeSyncDelayMs: 200 } });
  const running = controller.providers[0]?.provider;
  const provider = running instanceof SimulatedProvider ? running : undefined;
  const cloudServer = provider ? await serveCloud(provider.cloud) : undefined;
  const planConfigPath = join(dirname(kubeconfigPath), 'plan.yaml');
  // Metal keeps its state in the cluster; the simulated cloud is reached over HTTP.
  await writeFile(planConfigPath, stringify({ clusterName: 'playground', providers: [cloudServer ? { ...simulated, endpoint: cloudServer.url } : metalEntry] }));

  return {
    api,
    controller,
    provider,
    kubeconfigPath,
    exampleServicePath,
    planConfigPath,
    cloudUrl: cloudServer?.url,
    nodes,
    playgroundNodes,
    stop: async () => {
      await controller.stop();
      await cloudServer?.close();
      await playgroundNodes.stop();
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
    .option('--provider <name>', `simulated (a cloud) or metal (pool ${metalPool()}, one speaker per node, no root needed)`, 'simulated')
    .action(async (flags: { nodes: string; apiPort?: string; kubeconfigOut?: string; dualStack?: boolean; provider: string }) => {
      if (flags.provider !== 'simulated' && flags.provider !== 'metal') {
        process.stderr.write(`kube-lb-provisioner: --provider must be simulated or metal (got ${flags.provider})\n`);
        process.exit(2);
      }
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
        provider: flags.provider,
      });
      const dir = dirname(pg.kubeconfigPath);
      process.stdout.write(
        [
          `kube-lb-provisioner playground (${flags.provider})`,
          `  API server   ${pg.api.url}  (${pg.nodes.length} nodes: ${pg.nodes.map((n) => `${n.name} ${n.ip}`).join(', ')})`,
          `  metrics      ${pg.controller.httpUrl ?? ''}/metrics`,
          `  kubeconfig   ${pg.kubeconfigPath}`,
          ``,
          `Try:`,
          `  export KUBECONFIG=${pg.kubeconfigPath}`,
          `  kubectl apply -f ${pg.exampleServicePath}`,
          `  kubectl get service hello        # EXTERNAL-IP appears within a second`,
          `  curl http://$(kubectl get service hello -o jsonpath='{.status.loadBalancer.ingress[0].ip}'):8080/   # served by node-N`,
          `  kubectl annotate service hello playground.kube-lb-provisioner.io/endpoints=1   # scale to one endpoint`,
          `  npm run cli -- plan --kubeconfig ${pg.kubeconfigPath} --config ${join(dir, 'plan.yaml')}   # what would change`,
          `  kubectl delete service hello     # releases the address`,
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
