// NOTES.txt tells the user how to check the install works. Its text follows the values (providers,
// classes, the speaker), and its check commands work: the real kubectl runs them against the embedded
// API server while the controller and the speakers serve a Service, and they show what NOTES says.
import { CoreV1Api } from '@kubernetes/client-node';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { controllerConfigSchema } from '../../src/config/schema.js';
import { runController, type RunningController } from '../../src/cli/runController.js';
import { silentLogger } from '../../src/observability/logger.js';
import { Speaker } from '../../src/speaker/speaker.js';
import { createNodes, waitFor, waitForEvent, waitForIngress } from '../support/controller.js';
import { kubeConfigFor, kubectl } from '../support/kube.js';
import { findManifest, fixturesDir, releaseName, releaseNamespace, renderChart, renderNotes, withSiteValues } from './helmChart.js';
import { MemoryNetEffects } from './memoryNetEffects.js';

const fullname = `${releaseName}-kube-lb-provisioner`;

describe('NOTES.txt text', () => {
  it('metal: the speaker checks, and a Service with no class', async () => {
    const notes = await renderNotes({ valuesFiles: withSiteValues('values-metal.yaml') });
    // No clusterName given with metal: NOTES names the controller's default.
    expect(notes).toContain('installed in namespace kube-lb-system for cluster "kubernetes"');
    expect(notes).toContain('- metal: Services that name no loadBalancerClass');
    expect(notes).toContain(`rollout status deployment/${fullname}`);
    expect(notes).toContain(`rollout status daemonset/${fullname}-speaker`);
    expect(notes).toContain('kubectl expose deployment lb-check --type=LoadBalancer --port=80 --target-port=8080\n');
    expect(notes).not.toContain('--overrides');
  });

  it('aws serving only its class: the example Service names that class', async () => {
    const notes = await renderNotes({ valuesFiles: withSiteValues('values-aws.yaml'), set: { 'providers.aws.default': 'false' } });
    expect(notes).toContain('for cluster "shop-prod-eu1"');
    expect(notes).toContain('- aws: Services with loadBalancerClass kube-lb-provisioner.io/aws\n');
    expect(notes).toContain(`--overrides='{"apiVersion":"v1","spec":{"loadBalancerClass":"kube-lb-provisioner.io/aws"}}'`);
    expect(notes).not.toContain('daemonset');
    expect(notes).not.toContain('announcing-node');
  });

  it('gcp as the default, next to metal with its own class', async () => {
    const notes = await renderNotes({
      valuesFiles: withSiteValues('values-gcp.yaml', 'values-metal.yaml'),
      set: { 'providers.metal.loadBalancerClass': 'kube-lb-provisioner.io/metal', 'providers.metal.default': 'false', 'metrics.service.enabled': 'false' },
    });
    expect(notes).toContain('- gcp: Services with loadBalancerClass kube-lb-provisioner.io/gcp, and Services that name no class');
    expect(notes).toContain('- metal: Services with loadBalancerClass kube-lb-provisioner.io/metal');
    expect(notes).not.toContain('--overrides');
  });
});

/** Splits one shell command line: words, single-quoted strings kept verbatim, a trailing # comment dropped. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let quoted = false;
  let started = false;
  for (const ch of line.trim()) {
    if (quoted) {
      if (ch === "'") quoted = false;
      else current += ch;
    } else if (ch === "'") {
      quoted = true;
      started = true;
    } else if (ch === '#' && !started) {
      break;
    } else if (/\s/.test(ch)) {
      if (started) words.push(current);
      current = '';
      started = false;
    } else {
      current += ch;
      started = true;
    }
  }
  if (started) words.push(current);
  return words;
}

describe('NOTES.txt check commands, run with the real kubectl', () => {
  let api: ApiServerHandle;
  let controller: RunningController | undefined;
  const speakers: Speaker[] = [];
  let notesCommands: string[][] = [];

  beforeAll(async () => {
    const options = { valuesFiles: [...withSiteValues('values-metal.yaml'), join(fixturesDir, 'fast-timings.yaml')] };
    const manifests = await renderChart(options);
    notesCommands = (await renderNotes(options))
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('kubectl '))
      .map(shellWords);
    const config = controllerConfigSchema.parse(parseYaml((findManifest(manifests, 'ConfigMap', fullname).data as Record<string, string>)['config.yaml'] ?? ''));
    const args = (findManifest(manifests, 'DaemonSet').spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers[0]?.args ?? [];
    const flag = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];

    api = await startApiServer({ namespaces: [releaseNamespace] });
    await createNodes(kubeConfigFor(api).makeApiClient(CoreV1Api), 2);
    controller = await runController({ kubeConfig: kubeConfigFor(api, 'controller'), config, logger: silentLogger(), identity: 'replica-a', tuning: { resyncPeriodMs: 0 } });
    for (const node of ['node-1', 'node-2']) {
      const speaker = new Speaker({
        kubeConfig: kubeConfigFor(api, 'speaker'),
        nodeName: node,
        namespace: flag('namespace') ?? '',
        effects: new MemoryNetEffects(),
        logger: silentLogger(),
        renewIntervalMs: Number(flag('renew-interval-ms')),
        lapseMs: Number(flag('lapse-ms')),
      });
      speakers.push(speaker);
      await speaker.start();
    }
    await waitFor(() => controller?.isLeader(), { message: 'the controller leads', timeoutMs: 20_000 });
    // What `kubectl expose deployment lb-check` makes, without a Deployment (the embedded API server has none).
    const created = await kubectl(api, ['create', 'service', 'loadbalancer', 'lb-check', '--tcp=80:8080']);
    expect(created.code, created.stderr).toBe(0);
    await waitForIngress(kubeConfigFor(api), 'default', 'lb-check', { timeoutMs: 20_000 });
  }, 90_000);

  afterAll(async () => {
    for (const speaker of speakers) await speaker.stop(false).catch(() => undefined);
    await controller?.stop();
    await api?.stop();
  });

  async function runNotesCommand(match: (words: string[]) => boolean): Promise<string> {
    const words = notesCommands.find(match);
    if (!words) throw new Error(`NOTES.txt has no such command; it has:\n${notesCommands.map((w) => w.join(' ')).join('\n')}`);
    const result = await kubectl(api, words.slice(1));
    expect(result.code, `${words.join(' ')}: ${result.stderr}`).toBe(0);
    return result.stdout;
  }

  it('the Lease command shows the leading replica', async () => {
    expect(await runNotesCommand((w) => w.includes('lease') && w.includes(fullname))).toBe('replica-a\n');
  });

  it('the speaker Lease command lists one Lease per node', async () => {
    const out = await runNotesCommand((w) => w.includes('leases') && w.includes('-l'));
    expect(out).toContain('speaker-node-1');
    expect(out).toContain('speaker-node-2');
  });

  it('the describe command shows the events NOTES promises', async () => {
    await waitForEvent(kubeConfigFor(api), 'default', 'lb-check', 'EnsuredLoadBalancer');
    const out = await runNotesCommand((w) => w[1] === 'describe');
    expect(out).toContain('EnsuringLoadBalancer');
    expect(out).toContain('EnsuredLoadBalancer');
  });

  it('the announcing-node command names a node', async () => {
    const words = notesCommands.find((w) => w.some((x) => x.includes('announcing-node')));
    if (!words) throw new Error('NOTES.txt has no announcing-node command');
    const out = await waitFor(
      async () => {
        const result = await kubectl(api, words.slice(1));
        return result.code === 0 && /^node-[12]\n$/.test(result.stdout) ? result.stdout : undefined;
      },
      { message: 'the announcing node' },
    );
    expect(out).toMatch(/^node-[12]\n$/);
  });
});
