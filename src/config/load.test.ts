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
    const missing = await loadConfig({ flags: { provider: 'simulated' } }).catch((e: unknown) => e);
    expect((missing as Error).message).toMatch(/clusterName/);
    const badProvider = await loadConfig({ fileText: 'clusterName: c\nproviders:\n  - type: simulated\n    latencyMs: -1\n' }).catch((e: unknown) => e);
    expect((badProvider as Error).message).toMatch(/providers\[0\]\.latencyMs/);
  });

  it('refuses a file that is not a YAML mapping', async () => {
    await expect(loadConfig({ fileText: '- a\n- b\n' })).rejects.toThrow(/mapping/);
    await expect(loadConfig({ fileText: 'a: [' })).rejects.toThrow(/not valid YAML/);
  });
});
