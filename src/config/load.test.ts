import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './load.js';

describe('loadConfig', () => {
  it('layers flags over env over the YAML file over defaults', async () => {
    const config = await loadConfig({
      fileText: 'clusterName: from-file\nworkers: 2\nlogLevel: warn\nproviders:\n  - type: simulated\n    latencyMs: 5\n',
      env: { KUBE_LB_WORKERS: '3', KUBE_LB_LEADER_ELECT: 'false' },
      flags: { workers: '4' },
    });
    expect(config.clusterName).toBe('from-file');
    expect(config.workers).toBe(4);
    expect(config.logLevel).toBe('warn');
    expect(config.leaderElection.enabled).toBe(false);
    expect(config.resyncPeriodSeconds).toBe(300);
    expect(config.backoff).toEqual({ initialSeconds: 5, maxSeconds: 300 });
    expect(config.providers[0]).toMatchObject({ type: 'simulated', latencyMs: 5 });
  });

  it('builds a one-provider configuration from --provider', async () => {
    const config = await loadConfig({ flags: { provider: 'simulated', clusterName: 'c' } });
    expect(config.providers).toHaveLength(1);
    expect(config.providers[0]?.type).toBe('simulated');
  });

  it('names the setting, its flag and env for an invalid value', async () => {
    const err = await loadConfig({ flags: { provider: 'simulated', clusterName: 'c', workers: 'many' } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/workers \(flag --workers, env KUBE_LB_WORKERS\)/);
    const missing = await loadConfig({ flags: { provider: 'aws', region: 'eu-west-1' } }).catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/clusterName \(flag --cluster-name, env KUBE_LB_CLUSTER_NAME\): clusterName is required with the aws provider/);
    const badProvider = await loadConfig({ fileText: 'clusterName: c\nproviders:\n  - type: simulated\n    latencyMs: -1\n' }).catch((e: unknown) => e);
    expect((badProvider as Error).message).toMatch(/providers\[0\]\.latencyMs/);
  });

  it('defaults the cluster name to "kubernetes" (as upstream) where nothing is shared with other clusters', async () => {
    expect((await loadConfig({ flags: { provider: 'simulated' } })).clusterName).toBe('kubernetes');
    expect((await loadConfig({ fileText: 'providers:\n  - type: metal\n    pools: [{ name: a, addresses: ["192.0.2.0/28"] }]\n' })).clusterName).toBe('kubernetes');
    const gcp = await loadConfig({ fileText: 'providers:\n  - type: gcp\n    project: p\n    region: r\n' }).catch((e: unknown) => e);
    expect((gcp as Error).message).toMatch(/clusterName is required with the gcp provider/);
  });

  it('takes the AWS region from --region for aws entries that set none, and leaves it to the AWS chain otherwise', async () => {
    const flagged = await loadConfig({ flags: { provider: 'aws', clusterName: 'c', region: 'eu-west-1' } });
    expect(flagged.providers[0]).toMatchObject({ type: 'aws', region: 'eu-west-1' });
    const unset = await loadConfig({ flags: { provider: 'aws', clusterName: 'c' } });
    expect(unset.providers[0]).toMatchObject({ type: 'aws' });
    expect((unset.providers[0] as { region?: string }).region).toBeUndefined();
    const kept = await loadConfig({ flags: { region: 'eu-west-1' }, fileText: 'clusterName: c\nproviders:\n  - type: aws\n    region: us-east-2\n' });
    expect(kept.providers[0]).toMatchObject({ region: 'us-east-2' });
  });

  it('refuses a file that is not a YAML mapping', async () => {
    await expect(loadConfig({ fileText: '- a\n- b\n' })).rejects.toThrow(/mapping/);
    await expect(loadConfig({ fileText: 'a: [' })).rejects.toThrow(/not valid YAML/);
  });
});
