// The controller as the AWS end-to-end suites run it: the real runController with the AWS provider
// against `endpoint` (moto, or the validating proxy in front of it), fast rate limits and retries,
// and the seeded world's instances as Nodes.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { AwsConfig } from '../../../providers/aws/config.js';
import { createAwsProvider } from '../../../providers/aws/index.js';
import type { RunningController } from '../../../src/cli/runController.js';
import { e2eConfig, startController } from '../../support/controller.js';
import { MOTO_REGION, type SeededWorld } from '../../support/moto.js';

export async function createWorldNodes(kc: KubeConfig, world: SeededWorld, withZones = false): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  for (const node of world.nodes) {
    await core.createNode({
      body: {
        metadata: { name: node.name, ...(withZones ? { labels: { 'topology.kubernetes.io/zone': node.zone } } : {}) },
        spec: { providerID: node.providerID },
        status: { addresses: [{ type: 'InternalIP', address: node.privateIp }] },
      },
    });
  }
}

export async function startAwsController(kc: KubeConfig, endpoint: string, clusterName: string): Promise<RunningController> {
  const fast = { ratePerSecond: 1000, burst: 1000 };
  const { controller } = await startController({
    kubeConfig: kc,
    config: e2eConfig([{ type: 'aws', region: MOTO_REGION, endpoint, provisioningRetrySeconds: 0.1, rateLimits: { registration: fast, other: fast } }], {
      clusterName,
      backoff: { initialSeconds: 0.05, maxSeconds: 0.5 },
    }),
    createProvider: async (entry, deps) => {
      if (entry.type !== 'aws') throw new Error(`this test runs the aws provider, got ${entry.type}`);
      return createAwsProvider(entry as AwsConfig, deps, { credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, retryTiming: { minTimeoutMs: 10, maxTimeoutMs: 200 } });
    },
  });
  return controller;
}
