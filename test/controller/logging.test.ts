// Logs: human-readable lines on a terminal, JSON otherwise; a failure that repeats is logged once
// per attempt (the Warning Event's line), not once for the Event and again for the retry.
import { CoreV1Api } from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { createLogger, prettyByDefault } from '../../src/observability/logger.js';
import { createNodes, lbService, startSimulatedController, testConfig, waitFor, type SimulatedController } from '../support/controller.js';
import { kubeConfigFor } from '../support/kube.js';

function collector(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      done();
    },
  });
  return { stream, lines };
}

describe('log format', () => {
  it('is JSON unless stderr is a terminal; LOG_FORMAT decides when set', () => {
    expect(prettyByDefault({}, false)).toBe(false);
    expect(prettyByDefault({}, true)).toBe(true);
    expect(prettyByDefault({ LOG_FORMAT: 'json' }, true)).toBe(false);
    expect(prettyByDefault({ LOG_FORMAT: 'pretty' }, false)).toBe(true);
  });

  it('writes a human-readable line when pretty, and one JSON object per line otherwise', () => {
    const pretty = collector();
    createLogger('info', 'test', { pretty: true, destination: pretty.stream }).warn({ service: 'default/web' }, 'reconcile failed');
    expect(pretty.lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: reconcile failed$/);
    expect(pretty.lines[1]).toMatch(/^\s+service: "default\/web"$/);
    const json = collector();
    createLogger('info', 'test', { pretty: false, destination: json.stream }).warn({ service: 'default/web' }, 'reconcile failed');
    expect(JSON.parse(json.lines[0] ?? '')).toMatchObject({ level: 40, service: 'default/web', msg: 'reconcile failed' });
  });
});

describe('a repeating failure', () => {
  let api: ApiServerHandle;
  let sim: SimulatedController;
  const logs = collector();
  beforeAll(async () => {
    api = await startApiServer({ port: 0 });
    const kc = kubeConfigFor(api);
    await createNodes(kc.makeApiClient(CoreV1Api), 2);
    sim = await startSimulatedController({
      kubeConfig: kc,
      config: testConfig({}, { retries: 0 }),
      logger: createLogger('info', 'test', { pretty: false, destination: logs.stream }),
    });
  });
  afterAll(async () => {
    await sim?.controller.stop();
    await api?.stop();
  });

  it('is logged once per attempt', async () => {
    sim.cloud.injectFault({ operation: 'CreateLoadBalancer', kind: '5xx', count: 4 });
    await kubeConfigFor(api).makeApiClient(CoreV1Api).createNamespacedService({ namespace: 'default', body: lbService('flaky') });
    await waitFor(() => sim.cloud.snapshot().length === 1, { message: 'created after four failures' });
    const attempts = sim.cloud.calls.filter((c) => c.operation === 'CreateLoadBalancer' && c.outcome === 'error').length;
    expect(attempts).toBe(4);
    const aboutFlaky = logs.lines.map((l) => JSON.parse(l) as { level: number; service?: string; msg: string }).filter((l) => l.level >= 40 && l.service === 'default/flaky');
    expect(aboutFlaky).toHaveLength(attempts);
    expect(aboutFlaky.every((l) => l.msg.startsWith('Error syncing load balancer: InternalError'))).toBe(true);
  });
});
