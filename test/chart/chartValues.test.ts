// The chart with the real helm: every example values file lints and renders with a user's own
// values, fails alone naming what to set, and bad values fail with a message that says what is wrong
// (from values.schema.json, or the chart's cross-field checks).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAddressRange } from '../../src/metallb/addressRange.js';
import { cloudValuesFiles, fixturesDir, lintChart, renderChart, templateChart, withSiteValues, type CloudValuesFile } from './helmChart.js';

describe('example values files', () => {
  it.each(cloudValuesFiles)('%s with site values passes helm lint --strict', async (file) => {
    const result = await lintChart({ valuesFiles: withSiteValues(file) });
    expect(result.stderr + result.stdout).toContain('0 chart(s) failed');
    expect(result.code).toBe(0);
  });

  it.each(cloudValuesFiles)('%s with site values renders with helm template', async (file) => {
    const manifests = await renderChart({ valuesFiles: withSiteValues(file) });
    expect(manifests.map((m) => m.kind)).toEqual(expect.arrayContaining(['Deployment', 'ConfigMap', 'ServiceAccount', 'ClusterRole']));
  });

  it('combines cloud values files when only one provider stays the default', async () => {
    const manifests = await renderChart({ valuesFiles: withSiteValues('values-aws.yaml', 'values-metal.yaml'), set: { 'providers.aws.default': 'false' } });
    expect(manifests.some((m) => m.kind === 'DaemonSet')).toBe(true);
  });

  it('refuses the chart defaults alone: no provider is enabled', async () => {
    const result = await lintChart({});
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('at least one enabled provider: set providers.aws.enabled');
  });
});

/** What each bare example file must name: the values only the user can know. */
const bareExampleMessages: [file: CloudValuesFile, messages: string[]][] = [
  ['values-aws.yaml', ['(root): clusterName is required', 'providers.aws: region is required']],
  ['values-gcp.yaml', ['(root): clusterName is required', 'providers.gcp: project is required', 'providers.gcp: region is required']],
];
// values-metal.yaml alone installs: pools may come from MetalLB's IPAddressPools (issue 13).

describe('example values files alone (no placeholders stand in for site values)', () => {
  it.each(bareExampleMessages)('%s alone fails helm template, naming what to set', async (file, messages) => {
    const result = await templateChart({ valuesFiles: [file] });
    expect(result.code).not.toBe(0);
    for (const message of messages) expect(result.stderr).toContain(message);
  });

  it.each(bareExampleMessages)('%s alone fails helm lint, naming what to set', async (file, messages) => {
    const result = await lintChart({ valuesFiles: [file] });
    expect(result.code).not.toBe(0);
    for (const message of messages) expect(result.stdout + result.stderr).toContain(message);
  });

  it('metal alone needs no clusterName: the controller default applies', async () => {
    const result = await templateChart({ valuesFiles: withSiteValues('values-metal.yaml') });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('clusterName');
  });
});

/** Values users copied from the old example files: each is refused, naming what to set instead. */
const placeholderMessages: [file: string, messages: string[]][] = [
  [
    'old-aws-placeholders.yaml',
    [
      'clusterName must be one of the following: "this cluster\'s own name, not an example\'s placeholder: set clusterName',
      'providers.aws.vpcId must be one of the following: "your VPC\'s id, not the example vpc-0123456789abcdef0: set providers.aws.vpcId, or leave it unset',
      'providers.aws.iamRoleArn must be one of the following: "a role in your own AWS account, not the documentation account 111122223333 or 123456789012',
    ],
  ],
  [
    'old-gcp-placeholders.yaml',
    [
      'clusterName must be one of the following: "this cluster\'s own name, not an example\'s placeholder',
      'providers.gcp.project must be one of the following: "your own project id, not an example\'s placeholder: set providers.gcp.project',
      'providers.gcp.serviceAccount must be one of the following: "a service account of your own project, not an example\'s placeholder',
    ],
  ],
];

describe('old placeholder values', () => {
  it.each(placeholderMessages)('%s fails helm template and helm lint, naming each placeholder', async (file, messages) => {
    const rendered = await templateChart({ valuesFiles: [join(fixturesDir, file)] });
    expect(rendered.code).not.toBe(0);
    for (const message of messages) expect(rendered.stderr).toContain(message);
    const linted = await lintChart({ valuesFiles: [join(fixturesDir, file)] });
    expect(linted.code).not.toBe(0);
    for (const message of messages) expect(linted.stdout + linted.stderr).toContain(message);
  });

  // The template checks refuse them too, for installs that skip the schema.
  it.each([
    ['clusterName', 'my-metal-cluster', 'clusterName "my-metal-cluster" is an example\'s placeholder: set this cluster\'s own name'],
    ['providers.aws.vpcId', 'vpc-0123456789abcdef0', 'providers.aws.vpcId vpc-0123456789abcdef0 is an example\'s placeholder'],
    ['providers.aws.iamRoleArn', 'arn:aws:iam::123456789012:role/lb', 'providers.aws.iamRoleArn arn:aws:iam::123456789012:role/lb is in a documentation account'],
    ['providers.gcp.project', 'my-project', 'providers.gcp.project "my-project" is an example\'s placeholder: set your project id'],
    ['providers.gcp.serviceAccount', 'lb@my-project.iam.gserviceaccount.com', 'providers.gcp.serviceAccount lb@my-project.iam.gserviceaccount.com is an example\'s placeholder'],
  ])('%s=%s fails helm template even with --skip-schema-validation', async (key, value, message) => {
    const result = await templateChart({
      valuesFiles: withSiteValues('values-aws.yaml', 'values-gcp.yaml'),
      set: { 'providers.gcp.default': 'false', [key]: value },
      extraArgs: ['--skip-schema-validation'],
    });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  it('the same values files with the site\'s own values render under --skip-schema-validation (the checks above are what fail)', async () => {
    const result = await templateChart({ valuesFiles: withSiteValues('values-aws.yaml', 'values-gcp.yaml'), set: { 'providers.gcp.default': 'false' }, extraArgs: ['--skip-schema-validation'] });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

/** Bad values files and the message helm must print for each. */
const badValues: [file: string, message: string][] = [
  ['unknown-provider.yaml', 'providers must be one of the following: "aws", "gcp", "metal"'],
  ['unknown-provider.yaml', 'Additional property azure is not allowed'],
  ['invalid-cidr.yaml', 'providers.metal.pools.0.addresses.0 must be one of the following: "a CIDR such as 192.0.2.0/28'],
  ['missing-cluster-name.yaml', 'clusterName is required'],
  ['gcp-missing-cluster-name.yaml', 'clusterName is required'],
  ['empty-cluster-name.yaml', 'clusterName: String length must be greater than or equal to 1'],
  ['tolerate-everything.yaml', 'a toleration that names a key: tolerating every taint is not allowed for the speaker'],
  ['aws-without-region.yaml', 'providers.aws: region is required'],
  ['unknown-key.yaml', 'providers.aws: Additional property regoin is not allowed'],
  ['no-provider.yaml', 'providers must be one of the following: "at least one enabled provider: set providers.aws.enabled'],
  ['two-defaults.yaml', 'providers must be one of the following: "at most one enabled provider serving Services that name no class'],
  ['classless-and-default.yaml', 'providers must be one of the following: "at most one enabled provider serving Services that name no class'],
  ['bad-interface.yaml', 'speaker.interface must be one of the following: "a network interface name such as eth0 (at most 15 characters, no \'/\', \':\' or spaces), or empty'],
  ['replicas-without-leader-election.yaml', 'controller must be one of the following: "leader election enabled when there is more than one replica'],
];

describe('bad values', () => {
  it.each(badValues)('%s fails helm template with: %s', async (file, message) => {
    const result = await templateChart({ valuesFiles: [join(fixturesDir, file)] });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  it.each(badValues)('%s fails helm lint with: %s', async (file, message) => {
    const result = await lintChart({ valuesFiles: [join(fixturesDir, file)] });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain(message);
  });

  // JSON Schema cannot compare two values, so the chart's template checks this one. helm template
  // (and install) fail on it; helm lint only reports a template `fail` as [INFO].
  it('two providers sharing a loadBalancerClass fail helm template, and helm lint reports why', async () => {
    const message = 'providers.gcp.loadBalancerClass "example.com/lb" is also the class of providers.aws: give each provider its own class';
    const rendered = await templateChart({ valuesFiles: [join(fixturesDir, 'shared-class.yaml')] });
    expect(rendered.code).not.toBe(0);
    expect(rendered.stderr).toContain(message);
    const linted = await lintChart({ valuesFiles: [join(fixturesDir, 'shared-class.yaml')] });
    expect(linted.stdout + linted.stderr).toContain(message);
  });

  it('a speaker Lease that lapses before it is renewed fails helm template', async () => {
    const result = await templateChart({ valuesFiles: withSiteValues('values-metal.yaml'), set: { 'speaker.leaseLapseMs': '1000', 'speaker.leaseRenewIntervalMs': '1000' } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('speaker.leaseLapseMs (1000) must be longer than speaker.leaseRenewIntervalMs (1000)');
  });

  it('the template checks behind the schema still refuse bad values when schema validation is skipped', async () => {
    for (const [file, message] of [
      ['no-provider.yaml', 'no provider is enabled: set providers.aws.enabled, providers.gcp.enabled or providers.metal.enabled to true'],
      ['two-defaults.yaml', 'at most one provider may serve Services that name no class, but providers aws and metal all do'],
      ['replicas-without-leader-election.yaml', 'controller.replicas is 2 but controller.leaderElection.enabled is false'],
      ['missing-cluster-name.yaml', 'clusterName is required with the aws provider: set it to this cluster\'s name'],
      ['gcp-missing-cluster-name.yaml', 'clusterName is required with the gcp provider: set it to this cluster\'s name'],
    ] as const) {
      const result = await templateChart({ valuesFiles: [join(fixturesDir, file)], extraArgs: ['--skip-schema-validation'] });
      expect(result.code, file).not.toBe(0);
      expect(result.stderr, file).toContain(message);
    }
  });
});

describe('pool address check in values.schema.json', () => {
  // The schema's pattern and the metal provider's parser (src/metallb/addressRange.ts) must
  // agree, so that what helm accepts the controller accepts too.
  const valid = [
    '192.0.2.0/28',
    '10.0.0.0/8',
    '0.0.0.0/0',
    '192.0.2.10-192.0.2.20',
    '192.0.2.10 - 192.0.2.20',
    '192.0.2.7/32',
    '2001:db8::/120',
    '2001:db8::100-2001:db8::1ff',
    'fd00:1:2:3:4:5:6:7/128',
    '::/0',
    'FD00::1/64',
  ];
  const invalid = ['192.0.2.0/33', '256.0.0.0/8', 'banana', '192.0.2.1', '2001:db8::/129', '2001:db8:::1/64', '192.0.2.0/', '192.0.2.1-', '10.0.0.0/8/8'];

  it('the provider parses every address the chart accepts, and rejects every one it refuses', () => {
    for (const address of valid) expect(() => parseAddressRange(address), address).not.toThrow();
    for (const address of invalid) expect(() => parseAddressRange(address), address).toThrow();
  });

  it('helm accepts the valid addresses', async () => {
    const set: Record<string, string> = { clusterName: 'test', 'providers.metal.enabled': 'true', 'providers.metal.pools[0].name': 'p' };
    valid.forEach((address, i) => (set[`providers.metal.pools[0].addresses[${i}]`] = address));
    const result = await templateChart({ set });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('helm names each invalid address', async () => {
    const set: Record<string, string> = { clusterName: 'test', 'providers.metal.enabled': 'true', 'providers.metal.pools[0].name': 'p' };
    invalid.forEach((address, i) => (set[`providers.metal.pools[0].addresses[${i}]`] = address));
    const result = await templateChart({ set });
    expect(result.code).not.toBe(0);
    for (let i = 0; i < invalid.length; i++) {
      expect(result.stderr, invalid[i]).toContain(`providers.metal.pools.0.addresses.${i} must be one of the following: "a CIDR such as`);
    }
  });
});
