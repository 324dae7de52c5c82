// The speaker DaemonSet in BGP mode and the liveness Secret, as helm renders them: FRR runs as a
// second container of the speaker Pod sharing /etc/frr and /var/run/frr (as MetalLB's FRR mode
// does), each container with only the capabilities it needs; the speaker may write
// ServiceBGPStatus only in BGP mode; the liveness key is a Secret the chart makes (or one named)
// and the speaker reads it from the file its flag names.
import { describe, expect, it } from 'vitest';
import { findManifest, releaseName, renderChart, withSiteValues, type Manifest } from './helmChart.js';

const fullname = `${releaseName}-kube-lb-provisioner`;

interface Container {
  name: string;
  image: string;
  args?: string[];
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  securityContext: { capabilities: { add: string[]; drop: string[] }; readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
}
interface PodSpec {
  containers: Container[];
  volumes: { name: string; emptyDir?: object; secret?: { secretName: string } }[];
}

const pod = (m: Manifest): PodSpec => (m.spec as { template: { spec: PodSpec } }).template.spec;
const render = (set: Record<string, string> = {}) => renderChart({ valuesFiles: withSiteValues('values-metal.yaml'), set });
const roleRules = (manifests: Manifest[]) => (findManifest(manifests, 'Role', `${fullname}-speaker`).rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]);

describe('the speaker in BGP mode', () => {
  it('runs FRR beside it in the Pod, sharing FRR\'s configuration and sockets, from the same image', async () => {
    const manifests = await render({ 'speaker.bgp.enabled': 'true' });
    const spec = pod(findManifest(manifests, 'DaemonSet'));
    expect(spec.containers.map((c) => c.name)).toEqual(['speaker', 'frr']);
    const [speaker, frr] = spec.containers as [Container, Container];
    expect(frr.image).toBe(speaker.image);
    expect(speaker.args).toContain('--bgp');
    expect(speaker.args!.some((a) => a.startsWith('--frr-start'))).toBe(false);
    for (const path of ['/etc/frr', '/var/run/frr']) {
      const a = speaker.volumeMounts.find((m) => m.mountPath === path);
      const b = frr.volumeMounts.find((m) => m.mountPath === path);
      expect(a?.name, path).toBeDefined();
      expect(b?.name).toBe(a?.name);
      expect(spec.volumes.find((v) => v.name === a!.name)?.emptyDir).toBeDefined();
    }
    expect(speaker.securityContext.capabilities.add.sort()).toEqual(['DAC_OVERRIDE', 'NET_ADMIN', 'NET_RAW']);
    expect(frr.securityContext.capabilities).toEqual({ drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW', 'NET_BIND_SERVICE', 'SYS_ADMIN', 'SETUID', 'SETGID', 'CHOWN'] });
    expect(frr.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(frr.securityContext.allowPrivilegeEscalation).toBe(false);
    // ServiceBGPStatus objects beside ServiceL2Status ones.
    expect(roleRules(manifests).filter((r) => r.apiGroups.includes('metallb.io')).flatMap((r) => r.resources)).toEqual([
      'servicel2statuses',
      'servicebgpstatuses',
      'servicel2statuses/status',
      'servicebgpstatuses/status',
    ]);
  });

  it('L2 only (the default): one container, no FRR volumes, no BGP flag, no ServiceBGPStatus', async () => {
    const manifests = await render();
    const spec = pod(findManifest(manifests, 'DaemonSet'));
    expect(spec.containers.map((c) => c.name)).toEqual(['speaker']);
    expect(spec.containers[0]!.args).not.toContain('--bgp');
    expect(spec.volumes.map((v) => v.name).sort()).toEqual(['liveness-secret', 'tmp']);
    expect(roleRules(manifests).flatMap((r) => r.resources)).not.toContain('servicebgpstatuses');
  });
});

describe('the liveness Secret', () => {
  const secretFile = (c: Container) => c.args!.find((a) => a.startsWith('--liveness-secret-file='))?.split('=')[1];

  it('is made by the chart with a random key, mounted read-only where --liveness-secret-file points', async () => {
    const manifests = await render();
    const secret = findManifest(manifests, 'Secret', `${fullname}-speaker-liveness`);
    const key = Buffer.from((secret.data as Record<string, string>).secret!, 'base64').toString();
    expect(key).toMatch(/^[A-Za-z0-9]{48}$/);
    // Another render (no cluster to look the old one up in): another key, so it is random.
    const again = findManifest(await render(), 'Secret', `${fullname}-speaker-liveness`);
    expect((again.data as Record<string, string>).secret).not.toBe((secret.data as Record<string, string>).secret);
    const spec = pod(findManifest(manifests, 'DaemonSet'));
    const speaker = spec.containers[0]!;
    const mount = speaker.volumeMounts.find((m) => m.name === 'liveness-secret')!;
    expect(mount.readOnly).toBe(true);
    expect(secretFile(speaker)).toBe(`${mount.mountPath}/secret`);
    expect(spec.volumes.find((v) => v.name === 'liveness-secret')?.secret?.secretName).toBe(secret.metadata.name);
  });

  it('an existing Secret instead: not made, referenced by name and key', async () => {
    const manifests = await render({ 'speaker.livenessSecret.create': 'false', 'speaker.livenessSecret.name': 'mine', 'speaker.livenessSecret.key': 'hmac' });
    expect(manifests.some((m) => m.kind === 'Secret')).toBe(false);
    const spec = pod(findManifest(manifests, 'DaemonSet'));
    expect(spec.volumes.find((v) => v.name === 'liveness-secret')?.secret?.secretName).toBe('mine');
    expect(secretFile(spec.containers[0]!)).toMatch(/\/hmac$/);
  });

  it('without liveness probes (port 0): no Secret, no flag', async () => {
    const manifests = await render({ 'speaker.livenessPort': '0' });
    expect(manifests.some((m) => m.kind === 'Secret')).toBe(false);
    expect(secretFile(pod(findManifest(manifests, 'DaemonSet')).containers[0]!)).toBeUndefined();
  });
});
