// `kube-lb-provisioner controller`: runs the controller against a kubeconfig or in-cluster config,
// serving /healthz, /readyz and /metrics; SIGTERM stops taking work, finishes what is in flight
// and releases the leader lease.
import { Command } from 'commander';
import { ConfigError, configFileSetting, loadConfig, providerSetting, regionSetting, settings } from '../config/load.js';
import type { ControllerConfig } from '../config/schema.js';
import { runController } from './runController.js';
import { createLogger } from '../observability/logger.js';
import { checkApiServer, explainListenFailure, failFast, loadKubeConfigOrFail } from './startupChecks.js';

/** Adds the configuration flags every controller-like command shares. */
export function withConfigOptions(command: Command): Command {
  command.option(configFileSetting.flag, `${configFileSetting.description} [env ${configFileSetting.env}]`);
  command.option(providerSetting.flag, `${providerSetting.description} [env ${providerSetting.env}]`);
  command.option(regionSetting.flag, regionSetting.description);
  for (const s of settings) command.option(s.flag, `${s.description} [env ${s.env}]`);
  command.option('--kubeconfig <path>', 'kubeconfig file (default: KUBECONFIG, ~/.kube/config, then in-cluster)');
  return command;
}

/** Loads the configuration or exits 2 with the settings that are wrong. */
export async function configOrExit(flags: Record<string, unknown>): Promise<ControllerConfig> {
  try {
    return await loadConfig({ flags, env: process.env });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`kube-lb-provisioner: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

export function controllerCommand(): Command {
  return withConfigOptions(new Command('controller').description('Run the LoadBalancer controller')).action(async (flags: Record<string, unknown>) => {
    const config = await configOrExit(flags);
    const logger = createLogger(config.logLevel);
    const controller = await failFast(async () => {
      const kubeConfig = loadKubeConfigOrFail(flags.kubeconfig as string | undefined);
      await checkApiServer(kubeConfig);
      return runController({ kubeConfig, config, logger, tuning: { serveHttp: true } }).catch(
        explainListenFailure('--metrics-address (env KUBE_LB_METRICS_ADDRESS)', config.metricsAddress),
      );
    });
    logger.info({ http: controller.httpUrl }, 'serving /healthz /readyz /metrics');
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping: finishing in-flight work, releasing the lease');
      void controller.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: String(error) }, 'unclean stop');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  });
}
