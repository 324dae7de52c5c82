// The configuration's precedence, highest first: flags, environment, the YAML file, defaults.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';

const file = ['workers: 3', 'logLevel: warn', 'resyncPeriodSeconds: 60', 'providers:', '  - type: simulated'].join('\n');

describe('loadConfig precedence', () => {
  it('takes the environment over the file, and a flag over both', async () => {
    const config = await loadConfig({ fileText: file, env: { KUBE_LB_WORKERS: '5', KUBE_LB_LOG_LEVEL: 'debug' }, flags: { logLevel: 'error' } });
    expect(config.workers).toBe(5); // env beats file
    expect(config.logLevel).toBe('error'); // flag beats env and file
    expect(config.resyncPeriodSeconds).toBe(60); // only the file says it
    expect(config.backoff.maxSeconds).toBe(300); // nobody says it: the default
  });

  it('uses the file when neither environment nor flags set a value', async () => {
    const config = await loadConfig({ fileText: file, env: {} });
    expect(config.workers).toBe(3);
    expect(config.logLevel).toBe('warn');
  });
});
