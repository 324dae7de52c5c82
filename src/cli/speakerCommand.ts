// `kube-lb-provisioner speaker`: the metal provider's announcer, one per node (a DaemonSet with
// hostNetwork and NET_ADMIN + NET_RAW): L2, and BGP through FRR with --bgp, both configured by
// MetalLB's resources read live from --metallb-namespace. See providers/metal/README.md.
import { Command, InvalidArgumentError } from 'commander';
import { CoreV1Api } from '@kubernetes/client-node';
import { readFile } from 'node:fs/promises';
import { livenessKey } from '../speaker/livenessPacket.js';
import type { HealthServer } from '../observability/healthServer.js';
import { createLogger } from '../observability/logger.js';
import { createSpeakerMetrics } from '../observability/speakerMetrics.js';
import { connectOrExit, explainListenFailure, failFast, StartupError } from './startupChecks.js';
import { ipCommandEffects } from '../speaker/ipCommandEffects.js';
import { Speaker } from '../speaker/speaker.js';
import { startMetallbWatch } from '../speaker/metallbWatch.js';
import { EventRecorder } from '../kube/eventRecorder.js';
import type { OwnerReference } from '../speaker/serviceStatusObjects.js';
import { StatusObjectWriter } from '../speaker/statusObjectWriter.js';
import { startBgpMode, type BgpModeOptions } from '../speaker/bgp/bgpMode.js';
import { DEFAULT_SPEAKER_METRICS_ADDRESS, parseSpeakerMetricsAddress, serveSpeakerHealth } from '../speaker/speakerHealth.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port, 0-65535 (0: off)');
  return n;
}

function metricsAddress(value: string): string {
  try {
    parseSpeakerMetricsAddress(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}

/** The Pod owning the status objects: both name and uid, or neither (outside a cluster). */
function podOwner(name: string | undefined, uid: string | undefined): OwnerReference | undefined {
  if (!name && !uid) return undefined;
  if (!name || !uid) throw new StartupError('--pod-name and --pod-uid go together (POD_NAME and POD_UID from the downward API): pass both, or neither');
  return { apiVersion: 'v1', kind: 'Pod', name, uid };
}

export function speakerCommand(): Command {
  return new Command('speaker')
    .description('Announce metal load-balancer addresses from this node (L2: gratuitous ARP / NDP; BGP through FRR with --bgp)')
    .requiredOption('--node-name <name>', 'this node\'s name (the DaemonSet passes spec.nodeName)', process.env.NODE_NAME)
    .option('--interface <if>', 'interface that carries every address, e.g. eth0 (default: for each address, the interface its route leaves by)')
    .option('--kubeconfig <path>', 'kubeconfig file (default: in-cluster, then ~/.kube/config)')
    .option('--namespace <ns>', 'namespace of the speakers\' Leases', process.env.POD_NAMESPACE ?? 'kube-system')
    .option('--pod-name <name>', 'this speaker\'s Pod, owner of the ServiceL2Status/ServiceBGPStatus objects it writes, so they go with it (the DaemonSet passes it)', process.env.POD_NAME)
    .option('--pod-uid <uid>', 'the uid of --pod-name (the DaemonSet passes it)', process.env.POD_UID)
    .option('--load-balancer-class <class>', 'serve Services of this loadBalancerClass (default: Services without a class)')
    .option('--default', 'with --load-balancer-class: also serve Services without a class (the metal provider is the default)', false)
    .option('--netns <name>', 'run network commands inside this network namespace (labs and tests)')
    .option('--renew-interval-ms <ms>', 'how often the node Lease is renewed (the fallback when the probes say nothing)', positiveInt, 10_000)
    .option('--lapse-ms <ms>', 'a speaker whose Lease was not renewed for this long is dead (when the probes say nothing of it)', positiveInt, 40_000)
    .option('--liveness-port <port>', 'UDP port of the speakers\' liveness probes, the same on every node (0: off, Leases alone)', port, 7474)
    .option('--liveness-secret-file <path>', 'file holding the cluster\'s shared secret that signs liveness packets (default: a key derived from --namespace)')
    .option('--probe-interval-ms <ms>', 'how often each speaker probes its neighbours', positiveInt, 100)
    .option('--probe-timeout-ms <ms>', 'wait this long for an ack before probing indirectly, and as long again before declaring a speaker dead', positiveInt, 70)
    .option('--handover-timeout-ms <ms>', 'on SIGTERM, wait this long at most for the others to announce what this node held before withdrawing (keep it under terminationGracePeriodSeconds)', positiveInt, 5_000)
    .option('--address-lifetime-seconds <s>', 'valid_lft of announced addresses (kept fresh while alive)', positiveInt, 2)
    .option('--metrics-address <host:port>', "serve /healthz, /readyz and /metrics here (port 0: any free port; '' or off: none)", metricsAddress, DEFAULT_SPEAKER_METRICS_ADDRESS)
    .option('--log-level <level>', 'trace, debug, info, warn or error', process.env.LOG_LEVEL ?? 'info')
    .option('--metallb-namespace <ns>', "where MetalLB's resources (IPAddressPool, L2Advertisement, BGPPeer, ...) and BGPPeer password Secrets are read; the metal provider's `namespace`", 'metallb-system')
    .option('--bgp', 'BGP mode: announce by BGP through FRR, as the BGPPeers and BGPAdvertisements say', false)
    .option('--frr-pathspace <name>', 'BGP mode: FRR pathspace (-N), e.g. when several nodes share a machine')
    .option('--frr-netns <name>', 'BGP mode, with --frr-start: run FRR\'s daemons in this network namespace (labs)')
    .option('--frr-start', 'BGP mode: start FRR\'s daemons (zebra, staticd, bgpd, bfdd) and stop them on exit; otherwise they run beside the speaker (a container in its Pod)', false)
    .option('--frr-config-path <path>', 'BGP mode: where the rendered FRR configuration is written (default: kube-lb-provisioner.conf in FRR\'s configuration directory)')
    .action(async (opts: {
      nodeName: string;
      interface?: string;
      kubeconfig?: string;
      namespace: string;
      podName?: string;
      podUid?: string;
      loadBalancerClass?: string;
      default: boolean;
      netns?: string;
      renewIntervalMs: number;
      lapseMs: number;
      livenessPort: number;
      livenessSecretFile?: string;
      probeIntervalMs: number;
      probeTimeoutMs: number;
      handoverTimeoutMs: number;
      addressLifetimeSeconds: number;
      metricsAddress: string;
      logLevel: string;
      metallbNamespace: string;
      bgp: boolean;
      frrPathspace?: string;
      frrNetns?: string;
      frrStart: boolean;
      frrConfigPath?: string;
    }) => {
      const logger = createLogger(opts.logLevel, 'kube-lb-provisioner-speaker');
      const owner = await failFast(async () => podOwner(opts.podName, opts.podUid));
      const kubeConfig = await connectOrExit(opts.kubeconfig);
      const effects = ipCommandEffects({ iface: opts.interface, netns: opts.netns, lifetimeSeconds: opts.addressLifetimeSeconds });
      const metrics = createSpeakerMetrics(undefined, { processMetrics: true });
      const events = new EventRecorder(kubeConfig.makeApiClient(CoreV1Api), { component: 'kube-lb-provisioner-speaker', reportingComponent: 'kube-lb-provisioner.io/speaker', host: opts.nodeName, logger });
      const metallb = await failFast(() => startMetallbWatch({ kubeConfig, namespace: opts.metallbNamespace, logger, events }));
      const bgpOptions: BgpModeOptions | undefined = opts.bgp
        ? { metallb, nodeName: opts.nodeName, pathspace: opts.frrPathspace, netns: opts.frrNetns, start: opts.frrStart, configPath: opts.frrConfigPath, logger, registry: metrics.registry }
        : undefined;
      const bgp = bgpOptions ? await failFast(() => startBgpMode(bgpOptions)) : undefined;
      // Packets are tagged with an HMAC: the secret keeps clusters (and strangers) on one segment apart.
      const secret = opts.livenessSecretFile ? (await readFile(opts.livenessSecretFile)).toString('utf8').trim() : `namespace:${opts.namespace}`;
      const speaker = new Speaker({
        kubeConfig,
        nodeName: opts.nodeName,
        namespace: opts.namespace,
        loadBalancerClass: opts.loadBalancerClass,
        serveClassless: opts.default,
        effects,
        logger,
        renewIntervalMs: opts.renewIntervalMs,
        lapseMs: opts.lapseMs,
        handoverTimeoutMs: opts.handoverTimeoutMs,
        metrics,
        bgp: bgp?.hook,
        metallb,
        statusObjects: new StatusObjectWriter({ kubeConfig, namespace: opts.namespace, nodeName: opts.nodeName, owner, logger }),
        liveness: opts.livenessPort === 0 ? undefined : { port: opts.livenessPort, key: livenessKey(secret), timing: { probeIntervalMs: opts.probeIntervalMs, probeTimeoutMs: opts.probeTimeoutMs } },
      });
      // Up before the informers sync, so /readyz answers 503 (not connection refused) meanwhile.
      const address = parseSpeakerMetricsAddress(opts.metricsAddress);
      let health: HealthServer | undefined;
      if (address !== undefined) {
        health = await failFast(() => serveSpeakerHealth(address, speaker, metrics.registry).catch(explainListenFailure('--metrics-address', opts.metricsAddress)));
        logger.info({ url: health.url }, 'speaker: serving /healthz, /readyz and /metrics');
      }
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'speaker: shutting down, withdrawing addresses');
        void speaker
          .stop(true)
          .then(() => bgp?.stop())
          .then(() => metallb.stop())
          .then(() => events.flush())
          .then(() => health?.close())
          .finally(() => process.exit(0));
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      await speaker.start();
    });
}
