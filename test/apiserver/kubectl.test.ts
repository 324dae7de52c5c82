// The real kubectl against a freshly started embedded API server.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { kubectl, kubectlOk, kubectlPath } from '../support/kube.js';

let api: ApiServerHandle;

beforeAll(async () => {
  api = await startApiServer();
});
afterAll(async () => {
  await api.stop();
});

const ok = (args: string[], input?: string): Promise<string> => kubectlOk(api, args, input);

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const lbService = (name: string, extra = ''): string => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  type: LoadBalancer
  selector: {app: ${name}}
  ports:
  - name: http
    port: 80
    targetPort: 8080
${extra}`;

describe('kubectl against the embedded API server', () => {
  it('serves health, version and discovery with short names', async () => {
    expect(await ok(['get', '--raw', '/healthz'])).toBe('ok');
    expect(await ok(['get', '--raw', '/readyz'])).toBe('ok');
    expect(await ok(['get', '--raw', '/livez'])).toBe('ok');
    const version = JSON.parse(await ok(['version', '-o', 'json'])) as { serverVersion: { major: string; minor: string } };
    expect(version.serverVersion).toMatchObject({ major: '1', minor: '32' });
    const resources = await ok(['api-resources', '--no-headers']);
    for (const [name, short] of [['services', 'svc'], ['nodes', 'no'], ['namespaces', 'ns'], ['events', 'ev']]) {
      expect(resources).toMatch(new RegExp(`^${name}\\s+${short}\\s`, 'm'));
    }
    expect(resources).toMatch(/^leases\s+coordination\.k8s\.io\/v1/m);
    expect(resources).toMatch(/^endpointslices\s+discovery\.k8s\.io\/v1/m);
    expect(resources).toMatch(/^events\s+events\.k8s\.io\/v1/m);
    const ev = await kubectl(api, ['get', 'ev']);
    expect(ev.code).toBe(0);
    expect(ev.stderr).not.toContain('Warning');
    await ok(['get', 'svc,no,ns,ev,leases,endpointslices,cm', '-A']);
    expect(await ok(['get', 'ns', '-o', 'name'])).toBe('namespace/default\nnamespace/kube-node-lease\nnamespace/kube-public\nnamespace/kube-system\n');
  });

  it('apply creates, re-apply merges strategically and keeps allocated values', async () => {
    expect(await ok(['apply', '-f', '-'], lbService('applied'))).toContain('service/applied created');
    const first = JSON.parse(await ok(['get', 'svc', 'applied', '-o', 'json'])) as {
      metadata: { generation: number };
      spec: { clusterIP: string; ports: { nodePort: number; port: number }[] };
    };
    expect(first.metadata.generation).toBe(1);
    expect(first.spec.clusterIP).toMatch(/^10\.(9[6-9]|10[0-9]|11[01])\./);
    const nodePort = first.spec.ports[0]!.nodePort;
    expect(nodePort).toBeGreaterThanOrEqual(30000);
    const second = lbService('applied', '  - name: https\n    port: 443\n    targetPort: 8443\n');
    expect(await ok(['apply', '-f', '-'], second)).toContain('service/applied configured');
    const after = JSON.parse(await ok(['get', 'svc', 'applied', '-o', 'json'])) as typeof first;
    expect(after.metadata.generation).toBe(2);
    expect(after.spec.clusterIP).toBe(first.spec.clusterIP);
    expect(after.spec.ports.map((p) => p.port)).toEqual([80, 443]);
    expect(after.spec.ports[0]!.nodePort).toBe(nodePort);
    expect(await ok(['apply', '-f', '-'], second)).toContain('service/applied unchanged');
    const patches = api.requests.filter((r) => r.verb === 'patch' && r.name === 'applied');
    expect(patches.length).toBeGreaterThan(0);
  });

  it('get svc shows the real columns and <pending> until ingress exists', async () => {
    await ok(['apply', '-f', '-'], lbService('tabled'));
    const before = await ok(['get', 'svc', 'tabled']);
    expect(before.split('\n')[0]).toMatch(/^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/);
    expect(before).toMatch(/^tabled\s+LoadBalancer\s+10\.\S+\s+<pending>\s+80:3\d{4}\/TCP\s+\d+s$/m);
    await ok(['patch', 'svc', 'tabled', '--subresource=status', '--type=merge', '-p', '{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.10"}]}}}']);
    expect(await ok(['get', 'svc', 'tabled'])).toMatch(/^tabled\s+LoadBalancer\s+10\.\S+\s+192\.0\.2\.10\s+80:3\d{4}\/TCP/m);
    const wide = await ok(['get', 'svc', 'tabled', '-o', 'wide']);
    expect(wide.split('\n')[0]).toMatch(/SELECTOR$/);
    expect(wide).toContain('app=tabled');
  });

  it('get svc -w streams changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'watch-'));
    await api.writeKubeconfig(join(dir, 'config'));
    await ok(['apply', '-f', '-'], lbService('watched'));
    const child = spawn(kubectlPath, ['--kubeconfig', join(dir, 'config'), '--cache-dir', join(dir, 'cache'), 'get', 'svc', 'watched', '-w']);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await until('the initial row', () => (/watched\s+LoadBalancer.*<pending>/.test(out) ? true : undefined));
      await ok(['patch', 'svc', 'watched', '--subresource=status', '--type=merge', '-p', '{"status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.7"}]}}}']);
      await until('the streamed change', () => (/watched\s+LoadBalancer\s+\S+\s+198\.51\.100\.7/.test(out) ? true : undefined));
      expect(out.match(/^NAME/gm)).toHaveLength(1);
    } finally {
      child.kill();
    }
  });

  it('describe svc lists the events of the Service, from core and events.k8s.io', async () => {
    await ok(['apply', '-f', '-'], lbService('described'));
    const uid = (await ok(['get', 'svc', 'described', '-o', 'jsonpath={.metadata.uid}'])).trim();
    const now = new Date().toISOString();
    await ok(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'described.1' },
      involvedObject: { apiVersion: 'v1', kind: 'Service', name: 'described', namespace: 'default', uid },
      reason: 'EnsuringLoadBalancer',
      message: 'Ensuring load balancer',
      type: 'Normal',
      source: { component: 'service-controller' },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    }));
    await ok(['create', '-f', '-'], JSON.stringify({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: 'described.2' },
      eventTime: now,
      reportingController: 'kube-lb-provisioner',
      reportingInstance: 'kube-lb-provisioner-0',
      action: 'Sync',
      reason: 'SyncLoadBalancerFailed',
      note: 'spec.loadBalancerIP: address not owned',
      type: 'Warning',
      regarding: { apiVersion: 'v1', kind: 'Service', name: 'described', namespace: 'default', uid },
    }));
    const out = await ok(['describe', 'svc', 'described']);
    expect(out).toMatch(/^Events:/m);
    expect(out).toMatch(/Normal\s+EnsuringLoadBalancer\s+\S+\s+service-controller\s+Ensuring load balancer/);
    expect(out).toMatch(/Warning\s+SyncLoadBalancerFailed\s+\S+\s+kube-lb-provisioner\s+spec\.loadBalancerIP: address not owned/);
    const events = await ok(['get', 'events', '--field-selector', 'involvedObject.name=described']);
    expect(events.split('\n')[0]).toMatch(/^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/);
    expect(events).toContain('service/described');
  });

  it('patches with json, merge and strategic types, label and annotate', async () => {
    await ok(['apply', '-f', '-'], lbService('patched'));
    await ok(['patch', 'svc', 'patched', '--type=json', '-p', '[{"op":"add","path":"/metadata/finalizers","value":["example.com/a"]}]']);
    await ok(['patch', 'svc', 'patched', '-p', '{"metadata":{"finalizers":["example.com/b"]}}']);
    await ok(['patch', 'svc', 'patched', '--type=merge', '-p', '{"metadata":{"annotations":{"note":"merged"}}}']);
    await ok(['label', 'svc', 'patched', 'tier=edge']);
    await ok(['annotate', 'svc', 'patched', 'owner=team-a']);
    await ok(['patch', 'svc', 'patched', '-p', '{"spec":{"ports":[{"port":80,"targetPort":9090}]}}']);
    const svc = JSON.parse(await ok(['get', 'svc', 'patched', '-o', 'json'])) as {
      metadata: { finalizers: string[]; labels: Record<string, string>; annotations: Record<string, string> };
      spec: { ports: { name: string; targetPort: number }[] };
    };
    expect(svc.metadata.finalizers).toEqual(['example.com/a', 'example.com/b']);
    expect(svc.metadata.labels).toEqual({ tier: 'edge' });
    expect(svc.metadata.annotations).toMatchObject({ note: 'merged', owner: 'team-a' });
    expect(svc.spec.ports).toHaveLength(1);
    expect(svc.spec.ports[0]).toMatchObject({ name: 'http', targetPort: 9090 });
    const bad = await kubectl(api, ['patch', 'svc', 'patched', '--type=json', '-p', '[{"op":"remove","path":"/spec/nothing"}]']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/is invalid/);
  });

  it('delete with a finalizer keeps the object until the finalizer goes', async () => {
    await ok(['apply', '-f', '-'], `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\ndata: {a: "1"}\n`);
    await ok(['delete', 'cm', 'held', '--wait=false']);
    const held = JSON.parse(await ok(['get', 'cm', 'held', '-o', 'json'])) as { metadata: { deletionTimestamp?: string } };
    expect(held.metadata.deletionTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const refused = await kubectl(api, ['patch', 'cm', 'held', '--type=json', '-p', '[{"op":"add","path":"/metadata/finalizers/-","value":"example.com/more"}]']);
    expect(refused.stderr).toMatch(/no new finalizers can be added if the object is being deleted/);
    await ok(['patch', 'cm', 'held', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    const gone = await kubectl(api, ['get', 'cm', 'held']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('configmaps "held" not found');
  });

  it('rejects invalid Services with the messages Kubernetes gives', async () => {
    const r = await kubectl(api, ['create', '-f', '-'], {
      input: 'apiVersion: v1\nkind: Service\nmetadata: {name: broken}\nspec: {type: Foo, ports: [{port: 70000, targetPort: 80}], loadBalancerIP: nope}\n',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('The Service "broken" is invalid');
    expect(r.stderr).toContain('spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"');
    expect(r.stderr).toContain('spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive');
    await ok(['apply', '-f', '-'], lbService('np-owner', '    nodePort: 31234\n').replace('    targetPort: 8080\n    nodePort', '    targetPort: 8080\n    nodePort'));
    const dup = await kubectl(api, ['create', '-f', '-'], { input: lbService('np-thief').replace('targetPort: 8080', 'targetPort: 8080\n    nodePort: 31234') });
    expect(dup.stderr).toContain('spec.ports[0].nodePort: Invalid value: 31234: provided port is already allocated');
    const range = await kubectl(api, ['create', '-f', '-'], { input: lbService('np-range').replace('targetPort: 8080', 'targetPort: 8080\n    nodePort: 80') });
    expect(range.stderr).toContain('spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767');
    const missingNs = await kubectl(api, ['create', '-n', 'nowhere', '-f', '-'], { input: lbService('lost') });
    expect(missingNs.stderr).toContain('namespaces "nowhere" not found');
  });

  it('kubectl create generators (protobuf bodies) work for namespaces, configmaps and services', async () => {
    await ok(['create', 'namespace', 'generated']);
    await ok(['create', 'configmap', 'gen-cm', '-n', 'generated', '--from-literal=a=b', '--from-literal=c=d']);
    expect(await ok(['get', 'cm', 'gen-cm', '-n', 'generated', '-o', 'jsonpath={.data}'])).toBe('{"a":"b","c":"d"}');
    await ok(['create', 'service', 'loadbalancer', 'gen-lb', '-n', 'generated', '--tcp=80:8080', '--tcp=443:8443']);
    await ok(['create', 'service', 'nodeport', 'gen-np', '-n', 'generated', '--tcp=80:8080', '--node-port=30555']);
    await ok(['create', 'service', 'externalname', 'gen-ext', '-n', 'generated', '--external-name=db.example.com']);
    const table = await ok(['get', 'svc', '-n', 'generated']);
    expect(table).toMatch(/^gen-ext\s+ExternalName\s+<none>\s+db\.example\.com\s+<none>/m);
    expect(table).toMatch(/^gen-lb\s+LoadBalancer\s+10\.\S+\s+<pending>\s+80:3\d{4}\/TCP,443:3\d{4}\/TCP/m);
    expect(table).toMatch(/^gen-np\s+NodePort\s+10\.\S+\s+<none>\s+80:30555\/TCP/m);
    const lb = JSON.parse(await ok(['get', 'svc', 'gen-lb', '-n', 'generated', '-o', 'json'])) as { spec: { ports: { name: string; targetPort: number }[]; selector: Record<string, string> } };
    expect(lb.spec.ports.map((p) => [p.name, p.targetPort])).toEqual([['80-8080', 8080], ['443-8443', 8443]]);
    expect(lb.spec.selector).toEqual({ app: 'gen-lb' });
  });

  it('field validation: strict by default in kubectl, a warning with --validate=warn', async () => {
    const typo = 'apiVersion: v1\nkind: Service\nmetadata: {name: typo}\nspec: {type: LoadBalancer, prots: [{port: 80}], ports: [{port: 80, nmae: x}]}\n';
    const strict = await kubectl(api, ['apply', '-f', '-'], { input: typo });
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.ports[0].nmae", unknown field "spec.prots"');
    expect((await kubectl(api, ['get', 'svc', 'typo'])).code).toBe(1);
    const warn = await kubectl(api, ['apply', '--validate=warn', '-f', '-'], { input: typo });
    expect(warn.code).toBe(0);
    expect(warn.stderr).toContain('Warning: unknown field "spec.prots"');
    const stored = JSON.parse(await ok(['get', 'svc', 'typo', '-o', 'json'])) as { spec: Record<string, unknown> };
    expect(stored.spec.prots).toBeUndefined();
  });

  it('pages with --chunk-size and shows nodes, leases and namespaces as tables', async () => {
    for (let i = 0; i < 5; i++) await ok(['apply', '-f', '-'], `apiVersion: v1\nkind: Namespace\nmetadata: {name: paged-${i}}\n`);
    const r = await kubectl(api, ['get', 'ns', '--chunk-size=2', '-v=6']);
    expect(r.code).toBe(0);
    for (let i = 0; i < 5; i++) expect(r.stdout).toMatch(new RegExp(`^paged-${i}\\s+Active\\s+\\d+s$`, 'm'));
    expect(r.stderr.match(/continue=/g)?.length).toBeGreaterThanOrEqual(4);
    await ok(['apply', '-f', '-'], `apiVersion: v1\nkind: Node\nmetadata:\n  name: worker-1\n  labels: {node-role.kubernetes.io/worker: ""}\nstatus:\n  conditions: [{type: Ready, status: "True"}]\n  nodeInfo: {kubeletVersion: v1.32.0}\n`);
    expect(await ok(['get', 'no'])).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\nworker-1\s+Ready\s+worker\s+\d+s\s+v1\.32\.0\n$/);
    await ok(['apply', '-f', '-'], 'apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: leader, namespace: kube-system}\nspec: {holderIdentity: pod-a, leaseDurationSeconds: 15}\n');
    expect(await ok(['get', 'lease', '-n', 'kube-system'])).toMatch(/^NAME\s+HOLDER\s+AGE\nleader\s+pod-a\s+\d+s\n$/);
  });
});
