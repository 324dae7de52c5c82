// `kube-lb-provisioner apiserver`: the embedded in-memory Kubernetes API server on loopback HTTP,
// for trying the project without a cluster. kubectl and client-node work with the kubeconfig it writes.
import { Command, InvalidArgumentError } from 'commander';
import { startApiServer } from '../apiserver/index.js';
import { createLogger } from '../observability/logger.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port between 0 and 65535 (0 picks a free one)');
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function apiserverCommand(): Command {
  return new Command('apiserver')
    .description('Run the embedded in-memory Kubernetes API server (plain HTTP on loopback)')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port to listen on (0 picks a free port)', port, 0)
    .option('--write-kubeconfig <path>', 'write a kubeconfig for this server to <path>')
    .option('--user <name>', 'user named by the kubeconfig\'s bearer token', 'admin')
    .option('--service-cluster-ip-range <cidrs>', 'ranges ClusterIPs are allocated from: one, or an IPv4 and an IPv6 one for dual-stack (e.g. 10.96.0.0/16,fd00:10:96::/112)', '10.96.0.0/12')
    .option('--service-cidr <cidrs>', 'the same as --service-cluster-ip-range (older name)')
    .option('--service-node-port-range <range>', 'ports NodePorts are allocated from', '30000-32767')
    .option('--namespace <name>', 'extra namespace to create at start (repeatable)', collect, [] as string[])
    .option('--log-level <level>', 'trace, debug, info, warn or error', process.env.LOG_LEVEL ?? 'info')
    .action(async (opts: { host: string; port: number; writeKubeconfig?: string; user: string; serviceClusterIpRange: string; serviceCidr?: string; serviceNodePortRange: string; namespace: string[]; logLevel: string }) => {
      const logger = createLogger(opts.logLevel, 'kube-lb-provisioner-apiserver');
      let server;
      try {
        server = await startApiServer({ host: opts.host, port: opts.port, serviceCIDR: opts.serviceCidr ?? opts.serviceClusterIpRange, serviceNodePortRange: opts.serviceNodePortRange, namespaces: opts.namespace, requestRecordLimit: 10_000 });
      } catch (e) {
        logger.error({ err: e }, 'apiserver: cannot start');
        process.exitCode = 1;
        return;
      }
      if (opts.writeKubeconfig) await server.writeKubeconfig(opts.writeKubeconfig, opts.user);
      logger.info({ url: server.url, kubeconfig: opts.writeKubeconfig }, 'apiserver: listening');
      process.stdout.write(`API server listening on ${server.url}\n`);
      if (opts.writeKubeconfig) process.stdout.write(`kubeconfig written to ${opts.writeKubeconfig}\n  export KUBECONFIG=${opts.writeKubeconfig}\n`);
      let stopping = false;
      const shutdown = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'apiserver: shutting down');
        void server.stop().finally(() => process.exit(0));
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
    });
}
