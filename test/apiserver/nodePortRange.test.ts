// --service-node-port-range, as kube-apiserver's: NodePorts come from the range, a port outside it
// is refused with Kubernetes' message, and a malformed range fails at start.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { kubectl, kubectlOk } from '../support/kube.js';

let api: ApiServerHandle;
beforeAll(async () => {
  api = await startApiServer({ port: 0, serviceNodePortRange: '40000-40001' });
});
afterAll(async () => {
  await api?.stop();
});

const nodePortService = (name: string, nodePort?: number) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { type: 'NodePort', ports: [{ port: 80, ...(nodePort ? { nodePort } : {}) }] } });

describe('service node port range', () => {
  it('allocates from the range until it is full, and refuses a port outside it', async () => {
    await kubectlOk(api, ['apply', '-f', '-'], nodePortService('a'));
    await kubectlOk(api, ['apply', '-f', '-'], nodePortService('b'));
    const ports = (await kubectlOk(api, ['get', 'services', '-o', 'jsonpath={.items[*].spec.ports[0].nodePort}'])).split(' ').sort();
    expect(ports).toEqual(['40000', '40001']);
    const full = await kubectl(api, ['apply', '-f', '-'], { input: nodePortService('c') });
    expect(full.code).not.toBe(0);
    const outside = await kubectl(api, ['apply', '-f', '-'], { input: nodePortService('d', 30000) });
    expect(outside.stderr).toContain('provided port is not in the valid range. The range of valid ports is 40000-40001');
  });

  it('refuses a malformed range at start', async () => {
    await expect(startApiServer({ port: 0, serviceNodePortRange: '40000' })).rejects.toThrow(/--service-node-port-range: "40000" is not a range of ports like 30000-32767/);
  });
});
