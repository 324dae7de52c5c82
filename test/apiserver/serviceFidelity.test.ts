// What a real kube-apiserver answers, driven with the real kubectl (issue 10, point 3): empty
// omitempty lists are not returned, and Services with a nodePort used twice, an IP family the
// cluster lacks, or a session affinity timeout out of range are refused with Kubernetes' messages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { kubectl, kubectlOk } from '../support/kube.js';

let api: ApiServerHandle;

beforeAll(async () => {
  api = await startApiServer();
});
afterAll(async () => {
  await api.stop();
});

const ok = (args: string[], input?: string): Promise<string> => kubectlOk(api, args, input);

async function refused(args: string[], input: string): Promise<string> {
  const r = await kubectl(api, args, { input });
  expect(r.code).not.toBe(0);
  return r.stderr.trim();
}

const service = (name: string, spec: string): string => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
${spec}`;

describe('empty omitempty fields are not returned', () => {
  it('removing the last finalizer and the last label leaves no empty list or map behind', async () => {
    await ok(['create', '-f', '-'], 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fin\n  labels: {a: b}\n  annotations: {c: d}\n  finalizers: [example.com/hold]\n');
    await ok(['patch', 'configmap', 'fin', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers/0"}]']);
    await ok(['label', 'configmap', 'fin', 'a-']);
    const cm = JSON.parse(await ok(['get', 'configmap', 'fin', '-o', 'json'])) as { metadata: Record<string, unknown> };
    expect(Object.keys(cm.metadata)).not.toContain('finalizers');
    expect(Object.keys(cm.metadata)).not.toContain('labels');
    await ok(['patch', 'configmap', 'fin', '--type=merge', '-p', '{"metadata":{"annotations":{"c":null}}}']);
    const again = JSON.parse(await ok(['get', 'configmap', 'fin', '-o', 'json'])) as { metadata: Record<string, unknown> };
    expect(Object.keys(again.metadata)).not.toContain('annotations');
  });

  it('a Service emptied of finalizers by a merge patch shows none', async () => {
    await ok(['apply', '-f', '-'], service('fin-svc', '  type: ClusterIP\n  ports: [{port: 80}]').replace('metadata:\n', 'metadata:\n  finalizers: [example.com/hold]\n'));
    await ok(['patch', 'service', 'fin-svc', '--type=merge', '-p', '{"metadata":{"finalizers":[]}}']);
    const svc = JSON.parse(await ok(['get', 'service', 'fin-svc', '-o', 'json'])) as { metadata: Record<string, unknown> };
    expect(svc.metadata.finalizers).toBeUndefined();
  });
});

describe('Service validation as the kube-apiserver does it', () => {
  it('refuses one nodePort used twice for one protocol, accepts it for TCP and UDP', async () => {
    const dup = service('dup-np', '  type: NodePort\n  ports:\n  - {name: a, port: 80, nodePort: 30100}\n  - {name: b, port: 81, nodePort: 30100}');
    expect(await refused(['apply', '-f', '-'], dup)).toBe('The Service "dup-np" is invalid: spec.ports[1].nodePort: Duplicate value: 30100');
    const dns = service('dns-np', '  type: NodePort\n  ports:\n  - {name: tcp, port: 53, protocol: TCP, nodePort: 30101}\n  - {name: udp, port: 53, protocol: UDP, nodePort: 30101}');
    await ok(['apply', '-f', '-'], dns);
    expect(await ok(['get', 'service', 'dns-np', '-o', 'jsonpath={.spec.ports[*].nodePort}'])).toBe('30101 30101');
  });

  it('refuses IPv6 and RequireDualStack on a single-stack cluster, settles PreferDualStack to IPv4', async () => {
    expect(await refused(['apply', '-f', '-'], service('v6', '  ipFamilies: [IPv6]\n  ports: [{port: 80}]'))).toBe(
      'The Service "v6" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster',
    );
    expect(await refused(['apply', '-f', '-'], service('dual', '  ipFamilyPolicy: RequireDualStack\n  ports: [{port: 80}]'))).toBe(
      'The Service "dual" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services',
    );
    await ok(['apply', '-f', '-'], service('prefer', '  ipFamilyPolicy: PreferDualStack\n  ports: [{port: 80}]'));
    const spec = JSON.parse(await ok(['get', 'service', 'prefer', '-o', 'jsonpath={.spec}'])) as { ipFamilies: string[]; ipFamilyPolicy: string; clusterIPs: string[] };
    expect(spec.ipFamilyPolicy).toBe('PreferDualStack');
    expect(spec.ipFamilies).toEqual(['IPv4']);
    expect(spec.clusterIPs).toHaveLength(1);
  });

  it('refuses a session affinity timeout outside 1-86400 seconds and a config without ClientIP affinity', async () => {
    const affinity = (name: string, seconds: number): string =>
      service(name, `  ports: [{port: 80}]\n  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: ${seconds}}}`);
    for (const seconds of [0, 86401, -5]) {
      expect(await refused(['apply', '-f', '-'], affinity(`aff-${seconds < 0 ? 'neg' : seconds}`, seconds))).toBe(
        `The Service "aff-${seconds < 0 ? 'neg' : seconds}" is invalid: spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: ${seconds}: must be greater than 0 and less than 86400`,
      );
    }
    await ok(['apply', '-f', '-'], affinity('aff-max', 86400));
    await ok(['apply', '-f', '-'], service('aff-default', '  ports: [{port: 80}]\n  sessionAffinity: ClientIP'));
    expect(await ok(['get', 'service', 'aff-default', '-o', 'jsonpath={.spec.sessionAffinityConfig.clientIP.timeoutSeconds}'])).toBe('10800');
    expect(await refused(['apply', '-f', '-'], service('aff-none', '  ports: [{port: 80}]\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}'))).toBe(
      'The Service "aff-none" is invalid: spec.sessionAffinityConfig: Forbidden: must not be set when session affinity is None',
    );
  });
});
