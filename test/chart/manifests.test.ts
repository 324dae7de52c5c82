// Every manifest the chart renders is valid Kubernetes (kubernetes-models' OpenAPI validators, plus
// a check for fields the API does not declare), and the chart is secure and wired by default:
// selectors match, probes, securityContext, speaker capabilities, cloud identity annotations.
import { beforeAll, describe, expect, it } from 'vitest';
import { speakerCommand } from '../../src/cli/speakerCommand.js';
import { parseSpeakerMetricsAddress } from '../../src/speaker/speakerHealth.js';
import { findManifest, releaseName, releaseNamespace, renderChart, type Manifest, type RenderOptions, withSiteValues } from './helmChart.js';
import { hasModel, modelNameFor, unknownFields } from './unknownFields.js';

interface Validatable {
  validate(): void;
}
type ModelConstructor = new (data: unknown) => Validatable;

/** kubernetes-models' class for an apiVersion and kind, e.g. apps/v1 Deployment. */
async function modelFor(apiVersion: string, kind: string): Promise<ModelConstructor | undefined> {
  // Core objects live in kubernetes-models/v1, the others in kubernetes-models/<group>/<version>.
  try {
    const module = (await import(`kubernetes-models/${apiVersion}`)) as Record<string, unknown>;
    return module[kind] as ModelConstructor | undefined;
  } catch {
    return undefined;
  }
}

/**
 * The Prometheus Operator's ServiceMonitor is a custom resource, which neither kubernetes-models
 * nor client-node knows. Check the fields the chart sets against the CRD's documented shape.
 */
function serviceMonitorProblems(m: Manifest): string[] {
  const problems: string[] = [];
  const spec = m.spec as { selector?: { matchLabels?: Record<string, string> }; endpoints?: Record<string, unknown>[]; namespaceSelector?: { matchNames?: string[] } } & Record<string, unknown>;
  const allowedSpec = new Set(['selector', 'endpoints', 'namespaceSelector', 'jobLabel']);
  for (const key of Object.keys(spec)) if (!allowedSpec.has(key)) problems.push(`spec.${key} is not a ServiceMonitor field the chart should set`);
  if (!spec.selector?.matchLabels || Object.keys(spec.selector.matchLabels).length === 0) problems.push('spec.selector.matchLabels is required');
  if (!Array.isArray(spec.endpoints) || spec.endpoints.length === 0) problems.push('spec.endpoints needs at least one endpoint');
  const allowedEndpoint = new Set(['port', 'path', 'interval', 'scrapeTimeout', 'scheme']);
  for (const [i, endpoint] of (spec.endpoints ?? []).entries()) {
    for (const key of Object.keys(endpoint)) if (!allowedEndpoint.has(key)) problems.push(`spec.endpoints[${i}].${key} is unexpected`);
    for (const key of ['interval', 'scrapeTimeout']) {
      if (!/^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/.test(String(endpoint[key]))) {
        problems.push(`spec.endpoints[${i}].${key} is not a Prometheus duration`);
      }
    }
  }
  return problems;
}

async function validationProblems(m: Manifest): Promise<string[]> {
  const where = `${m.kind}/${m.metadata.name}`;
  if (m.apiVersion === 'monitoring.coreos.com/v1' && m.kind === 'ServiceMonitor') return serviceMonitorProblems(m).map((p) => `${where}: ${p}`);
  const Model = await modelFor(m.apiVersion, m.kind);
  if (!Model) return [`${where}: kubernetes-models has no ${m.apiVersion} ${m.kind}`];
  const problems: string[] = [];
  try {
    new Model(m).validate();
  } catch (error) {
    problems.push(`${where}: ${(error as Error).message}`);
  }
  if (!hasModel(m.apiVersion, m.kind)) problems.push(`${where}: client-node has no model ${modelNameFor(m.apiVersion, m.kind)}`);
  else for (const field of unknownFields(m, modelNameFor(m.apiVersion, m.kind))) problems.push(`${where}: unknown field ${field}`);
  return problems;
}

const renders: [label: string, options: RenderOptions][] = [
  ['values-aws.yaml', { valuesFiles: withSiteValues('values-aws.yaml') }],
  ['values-gcp.yaml', { valuesFiles: withSiteValues('values-gcp.yaml') }],
  ['values-metal.yaml', { valuesFiles: withSiteValues('values-metal.yaml') }],
  ['values-metal.yaml in BGP mode (FRR container)', { valuesFiles: withSiteValues('values-metal.yaml'), set: { 'speaker.bgp.enabled': 'true' } }],
  [
    'every provider, ServiceMonitor, custom spread and affinity',
    {
      valuesFiles: withSiteValues('values-aws.yaml', 'values-gcp.yaml', 'values-metal.yaml'),
      set: {
        'providers.gcp.default': 'false',
        'providers.metal.default': 'false',
        'providers.metal.loadBalancerClass': 'kube-lb-provisioner.io/metal',
        'metrics.serviceMonitor.enabled': 'true',
        'metrics.serviceMonitor.labels.release': 'prometheus',
        'controller.priorityClassName': 'system-cluster-critical',
        'speaker.priorityClassName': 'system-node-critical',
        'speaker.metricsPort': '9473',
        'image.digest': 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
        'imagePullSecrets[0].name': 'registry',
        'controller.topologySpreadConstraints[0].maxSkew': '1',
        'controller.topologySpreadConstraints[0].topologyKey': 'kubernetes.io/hostname',
        'controller.topologySpreadConstraints[0].whenUnsatisfiable': 'DoNotSchedule',
        'controller.topologySpreadConstraints[0].labelSelector.matchLabels.app\\.kubernetes\\.io/component': 'controller',
        'controller.tolerations[0].key': 'dedicated',
        'controller.tolerations[0].operator': 'Equal',
        'controller.tolerations[0].value': 'infra',
        'controller.tolerations[0].effect': 'NoSchedule',
      },
    },
  ],
  ['one replica, no PDB, no metrics Service', { valuesFiles: withSiteValues('values-aws.yaml'), set: { 'controller.replicas': '1', 'controller.podDisruptionBudget.enabled': 'false', 'metrics.service.enabled': 'false' } }],
];

const fullname = `${releaseName}-kube-lb-provisioner`;

function podSpec(workload: Manifest): { containers: Record<string, unknown>[] } & Record<string, unknown> {
  return (workload.spec as { template: { spec: { containers: Record<string, unknown>[] } & Record<string, unknown> } }).template.spec;
}
function templateLabels(workload: Manifest): Record<string, string> {
  return (workload.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels;
}
function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

describe.each(renders)('rendered with %s', (_label, options) => {
  let manifests: Manifest[] = [];
  beforeAll(async () => {
    manifests = await renderChart(options);
  });

  it('every manifest validates against the Kubernetes schemas, with no unknown fields', async () => {
    expect(manifests.length).toBeGreaterThan(5);
    const problems = (await Promise.all(manifests.map(validationProblems))).flat();
    expect(problems).toEqual([]);
  });

  it('namespaced objects are in the release namespace (the metal Role for metallb.io in metallb-system); names are unique per kind', () => {
    const clusterScoped = new Set(['ClusterRole', 'ClusterRoleBinding']);
    for (const m of manifests) {
      if (clusterScoped.has(m.kind)) expect(m.metadata.namespace, m.kind).toBeUndefined();
      else if (m.metadata.name.endsWith('-metallb-config')) expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe('metallb-system');
      else expect(m.metadata.namespace, `${m.kind}/${m.metadata.name}`).toBe(releaseNamespace);
    }
    const keys = manifests.map((m) => `${m.kind}/${m.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('the controller Deployment: selector, probes, resources, securityContext, config, spread', () => {
    const deployment = findManifest(manifests, 'Deployment', fullname);
    const spec = deployment.spec as { replicas: number; selector: { matchLabels: Record<string, string> } };
    expect(selects(spec.selector.matchLabels, templateLabels(deployment))).toBe(true);
    const pod = podSpec(deployment);
    expect(pod.hostNetwork).toBeUndefined();
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.containers).toHaveLength(1);
    const container = pod.containers[0] as {
      securityContext: Record<string, unknown>;
      livenessProbe: { httpGet: { path: string; port: string } };
      readinessProbe: { httpGet: { path: string; port: string } };
      ports: { name: string; containerPort: number }[];
      resources: { requests?: Record<string, string>; limits?: Record<string, string> };
      volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
    };
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(container.ports.map((p) => p.name)).toContain('metrics');
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits).toMatchObject({ memory: expect.any(String) });
    const volumes = pod.volumes as { name: string; configMap?: { name: string } }[];
    const configVolume = volumes.find((v) => v.configMap);
    expect(configVolume?.configMap?.name).toBe(findManifest(manifests, 'ConfigMap', fullname).metadata.name);
    expect(container.volumeMounts.find((m) => m.name === configVolume?.name)?.readOnly).toBe(true);
    expect(pod.serviceAccountName).toBe(findManifest(manifests, 'ServiceAccount', fullname).metadata.name);
    const spread = pod.topologySpreadConstraints as { topologyKey: string; labelSelector: { matchLabels: Record<string, string> } }[];
    expect(spread.length).toBeGreaterThan(0);
    for (const constraint of spread) expect(selects(constraint.labelSelector.matchLabels, templateLabels(deployment))).toBe(true);
  });

  it('replicas, leader election and the PodDisruptionBudget agree', () => {
    const deployment = findManifest(manifests, 'Deployment', fullname);
    const replicas = (deployment.spec as { replicas: number }).replicas;
    const pdb = manifests.find((m) => m.kind === 'PodDisruptionBudget');
    if (replicas > 1) {
      expect(pdb).toBeDefined();
      const roles = manifests.filter((m) => m.kind === 'Role').flatMap((m) => (m as unknown as { rules: { resources: string[] }[] }).rules);
      expect(roles.some((r) => r.resources.includes('leases'))).toBe(true);
    }
    if (pdb) {
      const spec = pdb.spec as { maxUnavailable: number; selector: { matchLabels: Record<string, string> } };
      expect(spec.maxUnavailable).toBe(1);
      expect(selects(spec.selector.matchLabels, templateLabels(deployment))).toBe(true);
    }
  });

  it('the speaker DaemonSet exists exactly when metal is enabled, with hostNetwork and only NET_ADMIN and NET_RAW (FRR: what its daemons need)', () => {
    const config = findManifest(manifests, 'ConfigMap', fullname).data as Record<string, string>;
    const metal = /type: metal/.test(config['config.yaml'] ?? '');
    const daemonSet = manifests.find((m) => m.kind === 'DaemonSet');
    expect(daemonSet !== undefined).toBe(metal);
    if (!daemonSet) return;
    const pod = podSpec(daemonSet);
    expect(selects((daemonSet.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels, templateLabels(daemonSet))).toBe(true);
    expect(pod.hostNetwork).toBe(true);
    expect(pod.dnsPolicy).toBe('ClusterFirstWithHostNet');
    const bgp = (pod.containers as { name: string }[]).some((c) => c.name === 'frr');
    // BGP mode: the speaker's vtysh opens FRR's files (DAC_OVERRIDE); FRR's daemons switch to the
    // frr user, route, listen on 179 and read the host's namespaces.
    const allowed: Record<string, string[]> = {
      speaker: bgp ? ['DAC_OVERRIDE', 'NET_ADMIN', 'NET_RAW'] : ['NET_ADMIN', 'NET_RAW'],
      frr: ['CHOWN', 'NET_ADMIN', 'NET_BIND_SERVICE', 'NET_RAW', 'SETGID', 'SETUID', 'SYS_ADMIN'],
    };
    for (const container of pod.containers as { name: string; securityContext: Record<string, unknown> }[]) {
      const sc = container.securityContext as { privileged?: boolean; capabilities: { add: string[]; drop: string[] } } & Record<string, unknown>;
      expect(sc.privileged).not.toBe(true);
      expect(sc.allowPrivilegeEscalation).toBe(false);
      expect(sc.readOnlyRootFilesystem).toBe(true);
      expect(sc.capabilities.drop).toEqual(['ALL']);
      expect([...sc.capabilities.add].sort(), container.name).toEqual(allowed[container.name]);
      expect(sc.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    }
    const tolerations = (pod.tolerations ?? []) as { key?: string; operator?: string }[];
    expect(tolerations.length).toBeGreaterThan(0);
    for (const toleration of tolerations) expect(toleration.key, 'a keyless toleration tolerates every taint').toBeTruthy();
    expect(pod.serviceAccountName).not.toBe(podSpec(findManifest(manifests, 'Deployment', fullname)).serviceAccountName);
  });

  it('the speaker’s probes and port are where its --metrics-address tells it to listen', () => {
    const daemonSet = manifests.find((m) => m.kind === 'DaemonSet');
    if (!daemonSet) return;
    const container = podSpec(daemonSet).containers[0] as {
      args: string[];
      ports: { name: string; containerPort: number; hostPort?: number }[];
      livenessProbe: { httpGet: { path: string; port: string | number } };
      readinessProbe: { httpGet: { path: string; port: string | number } };
    };
    // The flag as the speaker command itself parses it (its default when the chart passes none).
    const command = speakerCommand().exitOverride().action(() => undefined);
    command.parse(['--node-name=n', ...container.args.slice(1).filter((a) => !a.includes('$('))], { from: 'user' });
    const address = parseSpeakerMetricsAddress(String(command.opts().metricsAddress));
    expect(address, 'the speaker serves its health endpoints').toBeDefined();
    const port = Number(address!.slice(address!.lastIndexOf(':') + 1));
    expect(port).toBeGreaterThan(0);
    // hostNetwork: the speaker binds the node's addresses, so it must listen on all of them.
    expect(address!.slice(0, address!.lastIndexOf(':'))).toBe('0.0.0.0');
    const portOf = (ref: string | number) => (typeof ref === 'number' ? ref : container.ports.find((p) => p.name === ref)?.containerPort);
    expect(container.ports.find((p) => p.name === 'metrics')?.containerPort).toBe(port);
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(portOf(container.livenessProbe.httpGet.port)).toBe(port);
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(portOf(container.readinessProbe.httpGet.port)).toBe(port);
  });

  it('the ServiceAccount carries the cloud identity of each enabled cloud', () => {
    const config = (findManifest(manifests, 'ConfigMap', fullname).data as Record<string, string>)['config.yaml'] ?? '';
    const annotations = findManifest(manifests, 'ServiceAccount', fullname).metadata.annotations ?? {};
    // The identities come from the user's own values (fixtures/site-*.yaml); the example files set none.
    if (config.includes('type: aws')) expect(annotations['eks.amazonaws.com/role-arn']).toBe('arn:aws:iam::409876543210:role/shop-prod-eu1-lb');
    else expect(annotations['eks.amazonaws.com/role-arn']).toBeUndefined();
    if (config.includes('type: gcp')) expect(annotations['iam.gke.io/gcp-service-account']).toBe('lb-controller@shop-prod-31337.iam.gserviceaccount.com');
    else expect(annotations['iam.gke.io/gcp-service-account']).toBeUndefined();
  });

  it('bindings point at the chart’s roles and service accounts', () => {
    for (const binding of manifests.filter((m) => m.kind === 'ClusterRoleBinding' || m.kind === 'RoleBinding')) {
      const b = binding as unknown as { roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace: string }[] };
      expect(manifests.some((m) => m.kind === b.roleRef.kind && m.metadata.name === b.roleRef.name), `${binding.metadata.name} -> ${b.roleRef.name}`).toBe(true);
      for (const subject of b.subjects) {
        expect(subject.kind).toBe('ServiceAccount');
        expect(subject.namespace).toBe(releaseNamespace);
        expect(manifests.some((m) => m.kind === 'ServiceAccount' && m.metadata.name === subject.name)).toBe(true);
      }
    }
  });

  it('the metrics Service and the ServiceMonitor reach the controller’s metrics port', () => {
    const service = manifests.find((m) => m.kind === 'Service');
    const monitor = manifests.find((m) => m.kind === 'ServiceMonitor');
    if (!service) {
      expect(monitor).toBeUndefined();
      return;
    }
    const deployment = findManifest(manifests, 'Deployment', fullname);
    const spec = service.spec as { selector: Record<string, string>; ports: { name: string; targetPort: string }[] };
    expect(selects(spec.selector, templateLabels(deployment))).toBe(true);
    expect(spec.ports[0]?.targetPort).toBe('metrics');
    if (monitor) {
      const monitorSpec = monitor.spec as { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] };
      expect(selects(monitorSpec.selector.matchLabels, service.metadata.labels ?? {})).toBe(true);
      expect(monitorSpec.endpoints[0]?.port).toBe(spec.ports[0]?.name);
    }
  });
});

describe('the manifest checks catch what they claim to catch', () => {
  it('a wrong type and an unknown (misspelt) field are both reported', async () => {
    const broken: Manifest = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'broken' },
      spec: {
        replicas: 'two',
        selector: { matchLabels: { a: 'b' } },
        template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', securityContex: {} }] } },
      },
    };
    const problems = (await validationProblems(broken)).join('\n');
    expect(problems).toContain('replicas must be integer');
    expect(problems).toContain('unknown field spec.template.spec.containers[0].securityContex');
  });
});
