// The containers' command lines are ones the real CLI accepts: the Deployment's args parse with the
// `controller` command's own options (commander, as the image runs it), and loading the configuration
// from those flags plus the rendered ConfigMap gives exactly the ConfigMap's configuration; the
// DaemonSet's args parse with the `speaker` command's options, with the values the chart means.
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { controllerCommand } from '../../src/cli/controllerCommand.js';
import { speakerCommand } from '../../src/cli/speakerCommand.js';
import { loadConfig, settings } from '../../src/config/load.js';
import { controllerConfigSchema } from '../../src/config/schema.js';
import { join } from 'node:path';
import { cloudValuesFiles, findManifest, fixturesDir, releaseName, releaseNamespace, renderChart, type Manifest, withSiteValues } from './helmChart.js';

const fullname = `${releaseName}-kube-lb-provisioner`;

interface Container {
  name: string;
  args: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  volumeMounts: { name: string; mountPath: string }[];
  ports?: { name: string; containerPort: number }[];
}
interface PodSpec {
  containers: Container[];
  volumes: { name: string; configMap?: { name: string } }[];
}

function podSpec(workload: Manifest): PodSpec {
  return (workload.spec as { template: { spec: PodSpec } }).template.spec;
}

/** Parses args as the CLI would, without running the command; throws on an unknown or malformed option. */
function parseWith(command: Command, args: readonly string[]): Record<string, unknown> {
  command.exitOverride();
  command.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  command.action(() => undefined);
  command.parse([...args], { from: 'user' });
  return command.opts();
}

function longFlags(args: readonly string[]): string[] {
  return args.filter((a) => a.startsWith('--')).map((a) => a.split('=')[0]!);
}

/** The container's environment as the kubelet builds it (fieldRefs get sample values). */
function containerEnv(container: Container, fieldValues: Record<string, string>): Map<string, string> {
  const samples: Record<string, string> = { 'metadata.name': 'speaker-x7k2p', 'metadata.uid': '0f6e1c1a-3b52-4b8e-9d6a-2f0c1e4d5a6b', ...fieldValues };
  const env = new Map<string, string>();
  for (const e of container.env ?? []) {
    const value = e.value ?? (e.valueFrom?.fieldRef ? samples[e.valueFrom.fieldRef.fieldPath] : undefined);
    if (value === undefined) throw new Error(`env ${e.name} has no value the test knows how to give`);
    env.set(e.name, value);
  }
  return env;
}

/** What the kubelet does with $(VAR) in args, given the container's env. */
function expandEnv(args: readonly string[], container: Container, fieldValues: Record<string, string>): string[] {
  const env = containerEnv(container, fieldValues);
  return args.map((a) => a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env.get(name) ?? whole));
}

describe.each(cloudValuesFiles)('%s', (file) => {
  it('the controller container runs `controller` with flags the command accepts, and they load the ConfigMap unchanged', async () => {
    const manifests = await renderChart({ valuesFiles: withSiteValues(file) });
    const pod = podSpec(findManifest(manifests, 'Deployment', fullname));
    const container = pod.containers[0]!;
    const command = controllerCommand();
    expect(container.args[0]).toBe(command.name());
    const rest = container.args.slice(1);
    const known = command.options.map((o) => o.long);
    expect(longFlags(rest).filter((f) => !known.includes(f))).toEqual([]);
    const flags = parseWith(command, rest);

    // --config points at the ConfigMap's config.yaml where the volume is mounted.
    const configMap = findManifest(manifests, 'ConfigMap', fullname);
    const configVolume = pod.volumes.find((v) => v.configMap?.name === configMap.metadata.name);
    const mount = container.volumeMounts.find((m) => m.name === configVolume?.name);
    expect(flags.config).toBe(`${mount?.mountPath}/config.yaml`);
    const fileText = (configMap.data as Record<string, string>)['config.yaml'];
    expect(fileText).toBeDefined();

    // The controller's own loader, with the container's flags and environment, sees the file as is.
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    const settingEnv = new Set(settings.map((s) => s.env));
    expect(Object.keys(env).filter((name) => name.startsWith('KUBE_LB_') && !settingEnv.has(name))).toEqual([]);
    const loaded = await loadConfig({ flags, env, fileText: fileText ?? '' });
    expect(loaded).toEqual(controllerConfigSchema.parse(parseYaml(fileText ?? '')));

    // The probes and the metrics port are where the configuration says the controller listens.
    const port = Number(loaded.metricsAddress.split(':').pop());
    expect(container.ports?.find((p) => p.name === 'metrics')?.containerPort).toBe(port);
  });
});

describe('the speaker container', () => {
  it('runs `speaker` with flags the command accepts, meaning what the chart says', async () => {
    const manifests = await renderChart({
      valuesFiles: withSiteValues('values-metal.yaml'),
      set: { 'speaker.interface': 'bond0', 'providers.metal.loadBalancerClass': 'example.com/metal', 'providers.metal.default': 'false' },
    });
    const container = podSpec(findManifest(manifests, 'DaemonSet')).containers[0]!;
    const command = speakerCommand();
    expect(container.args[0]).toBe(command.name());
    const args = expandEnv(container.args.slice(1), container, { 'spec.nodeName': 'node-7' });
    const known = command.options.map((o) => o.long);
    expect(longFlags(args).filter((f) => !known.includes(f))).toEqual([]);
    const opts = parseWith(command, args);
    expect(opts).toMatchObject({
      nodeName: 'node-7',
      interface: 'bond0',
      namespace: releaseNamespace,
      loadBalancerClass: 'example.com/metal',
      renewIntervalMs: 10_000,
      lapseMs: 40_000,
      livenessPort: 7474,
      probeIntervalMs: 100,
      probeTimeoutMs: 70,
      addressLifetimeSeconds: 2,
      metricsAddress: '0.0.0.0:7473',
      logLevel: 'info',
    });
    expect(opts.kubeconfig).toBeUndefined();
    expect(opts.netns).toBeUndefined();
  });

  it("passes the speaker its Pod's name and uid, so the status objects it writes are owned by the Pod", async () => {
    const manifests = await renderChart({ valuesFiles: withSiteValues('values-metal.yaml') });
    const container = podSpec(findManifest(manifests, 'DaemonSet')).containers[0]!;
    const fieldOf = (name: string) => (container.env ?? []).find((e) => e.name === name)?.valueFrom?.fieldRef?.fieldPath;
    expect([fieldOf('POD_NAME'), fieldOf('POD_UID')]).toEqual(['metadata.name', 'metadata.uid']);
    // The command reads them from the environment, as the kubelet sets it.
    const env = containerEnv(container, { 'spec.nodeName': 'node-7', 'metadata.name': 'speaker-x7k2p', 'metadata.uid': 'uid-7' });
    const saved = { POD_NAME: process.env.POD_NAME, POD_UID: process.env.POD_UID };
    Object.assign(process.env, { POD_NAME: env.get('POD_NAME'), POD_UID: env.get('POD_UID') });
    try {
      const opts = parseWith(speakerCommand(), expandEnv(container.args.slice(1), container, { 'spec.nodeName': 'node-7' }));
      expect(opts).toMatchObject({ podName: 'speaker-x7k2p', podUid: 'uid-7' });
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('names no interface by default, so each node announces from the interface its route leaves by', async () => {
    for (const valuesFiles of [withSiteValues('values-metal.yaml'), [...withSiteValues('values-metal.yaml'), join(fixturesDir, 'metal-class-and-default-ok.yaml')]]) {
      const manifests = await renderChart({ valuesFiles });
      const container = podSpec(findManifest(manifests, 'DaemonSet')).containers[0]!;
      expect(container.args.filter((a) => a.startsWith('--interface')), valuesFiles.join()).toEqual([]);
      expect(parseWith(speakerCommand(), expandEnv(container.args.slice(1), container, { 'spec.nodeName': 'node-1' })).interface).toBeUndefined();
    }
  });

  it('serves Services without a class when metal has none (values-metal.yaml)', async () => {
    const manifests = await renderChart({ valuesFiles: withSiteValues('values-metal.yaml') });
    const container = podSpec(findManifest(manifests, 'DaemonSet')).containers[0]!;
    const opts = parseWith(speakerCommand(), expandEnv(container.args.slice(1), container, { 'spec.nodeName': 'node-1' }));
    expect(opts.loadBalancerClass).toBeUndefined();
  });

  it('serves its class and Services without a class when metal has a class and is the default', async () => {
    const manifests = await renderChart({
      valuesFiles: [...withSiteValues('values-metal.yaml'), join(fixturesDir, 'metal-class-and-default-ok.yaml')],
    });
    const container = podSpec(findManifest(manifests, 'DaemonSet')).containers[0]!;
    const opts = parseWith(speakerCommand(), expandEnv(container.args.slice(1), container, { 'spec.nodeName': 'node-1' }));
    expect(opts).toMatchObject({ loadBalancerClass: 'kube-lb-provisioner.io/metal', default: true });
  });

  it('an unknown flag would be refused (the check is real)', () => {
    expect(() => parseWith(speakerCommand(), ['--node-name=n', '--interface=eth0', '--bogus=1'])).toThrow(/unknown option/);
    expect(() => parseWith(controllerCommand(), ['--bogus'])).toThrow(/unknown option/);
    expect(() => parseWith(speakerCommand(), ['--node-name=n', '--interface=eth0', '--metrics-address=7473'])).toThrow(/not host:port/);
  });
});
