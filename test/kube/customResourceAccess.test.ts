// The edge that reads a provider's custom resources (metal: MetalLB's kinds): a kind whose CRD is
// not installed counts as empty and is said once, not at every retry; a kind this ServiceAccount may
// not list stops start-up with the reason instead of waiting forever for a first list.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { customResourceAccess } from '../../src/kube/customResourceAccess.js';
import { EventRecorder } from '../../src/kube/eventRecorder.js';
import { startFaultProxy, type FaultProxy } from '../chart/faultProxy.js';

const POOLS = { group: 'metallb.io', version: 'v1beta1', plural: 'ipaddresspools', kind: 'IPAddressPool' };

let api: ApiServerHandle;
let proxy: FaultProxy;

beforeAll(async () => {
  api = await startApiServer({ namespaces: ['metallb-system'] });
  proxy = await startFaultProxy(api.url, [
    { matches: (method, path) => method === 'GET' && path.includes('/ipaddresspools') && path.includes('/namespaces/forbidden-ns/'), code: 403, reason: 'Forbidden', remaining: Number.MAX_SAFE_INTEGER },
  ]);
}, 60_000);

afterAll(async () => {
  await proxy?.stop();
  await api?.stop();
});

function access(lines: { level: number; msg: string }[]) {
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig().replaceAll(api.url, proxy.url));
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter((l) => l !== '')) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const events = new EventRecorder(kc.makeApiClient(CoreV1Api), { component: 'test', host: 'test', logger });
  return customResourceAccess(kc, { logger, events, retryMaxMs: 200 });
}

describe('customResourceAccess.watch', () => {
  it('a kind without its CRD is empty and said once; the retries that follow are debug lines only', async () => {
    const lines: { level: number; msg: string }[] = [];
    const seen: Map<string, unknown[]>[] = [];
    const watch = await access(lines).watch('metallb-system', [POOLS], (objects) => seen.push(objects));
    try {
      expect(seen.at(-1)?.get('IPAddressPool')).toEqual([]);
      await new Promise((r) => setTimeout(r, 1500)); // several retries at up to 200 ms
      const warnings = lines.filter((l) => l.level >= 40);
      expect(warnings).toEqual([]);
      expect(lines.filter((l) => /not served \(CRDs not installed\)/.test(l.msg))).toHaveLength(1);
      expect(lines.filter((l) => l.level === 20 && /restarting informer|start failed/.test(l.msg)).length).toBeGreaterThan(0);
    } finally {
      await watch.stop();
    }
  });

  it('a kind this ServiceAccount may not list stops start-up, naming the resource and what to grant', async () => {
    const lines: { level: number; msg: string }[] = [];
    await expect(access(lines).watch('forbidden-ns', [POOLS], () => {})).rejects.toThrow(/cannot list ipaddresspools\.metallb\.io in namespace forbidden-ns: forbidden \(403\)\. Grant list and watch/);
  });
});
