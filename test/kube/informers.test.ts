// startInformer (the controller's and the speaker's informers): a failing list or watch is retried
// with a doubling delay, not at a fixed pace (also through an outage after a first sync), and
// nothing is retried once it is stopped.
import { CoreV1Api, KubeConfig, type V1Service, type V1ServiceList } from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startApiServer } from '../../src/apiserver/index.js';
import { startInformer } from '../../src/kube/informers.js';
import { createLogger, silentLogger } from '../../src/observability/logger.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('startInformer', () => {
  it('retries a failing list with backoff and stops retrying when stopped', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({ clusters: [{ name: 'c', server: 'http://127.0.0.1:9' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    const calls: number[] = [];
    const started = Date.now();
    const informer = startInformer<V1Service>(
      kc,
      '/api/v1/services',
      async (): Promise<V1ServiceList> => {
        calls.push(Date.now() - started);
        throw new Error('API server down');
      },
      {},
      { logger: silentLogger(), restartMinMs: 40, restartMaxMs: 160 },
    );
    await sleep(700);
    expect(informer.synced()).toBe(false);
    // At 0, 40, 120, 280, 440, 600 ms or so: a handful, where a fixed 40 ms pace would make ~17.
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(calls.length).toBeLessThanOrEqual(9);
    const gaps = calls.slice(1).map((t, i) => t - calls[i]!);
    expect(gaps.at(-1)!).toBeGreaterThanOrEqual(120); // the delay grew to (near) its maximum
    await informer.stop();
    await informer.waitForSync(); // a stopped informer releases whoever waits for it
    const after = calls.length;
    await sleep(400);
    expect(calls.length).toBe(after);
  });
});

describe('startInformer after the API server goes away', () => {
  it('backs off through the outage (the delay never falls back to the shortest), logging once per attempt', async () => {
    const lines: Array<{ retryInMs: number; msg: string }> = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter((x) => x !== '')) lines.push(JSON.parse(l) as { retryInMs: number; msg: string });
        done();
      },
    });
    const api = await startApiServer({ port: 0 });
    const kc = new KubeConfig();
    kc.loadFromString(api.kubeconfig());
    const core = kc.makeApiClient(CoreV1Api);
    const informer = startInformer<V1Service>(kc, '/api/v1/services', () => core.listServiceForAllNamespaces(), {}, {
      logger: createLogger('warn', 'test', { pretty: false, destination }),
      restartMinMs: 40,
      restartMaxMs: 320,
    });
    await informer.waitForSync();
    await api.stop();
    await sleep(1_500);
    await informer.stop();
    const delays = lines.filter((l) => l.msg === 'watch failed; restarting informer').map((l) => l.retryInMs);
    expect(delays.length).toBeGreaterThanOrEqual(3);
    expect(delays.slice(0, 4)).toEqual([40, 80, 160, 320]);
    expect(delays.every((d, i) => i === 0 || d >= delays[i - 1]!)).toBe(true);
    expect(lines.filter((l) => l.msg !== 'watch failed; restarting informer')).toEqual([]);
  });
});
