// OpenAPI v3 with the real `kubectl explain`: built-in kinds described from kubernetes-models'
// published API types, custom resources from their CRD's schema, and document hashes that change
// when a CRD changes (kubectl caches documents by that URL).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServerHandle } from '../../src/apiserver/index.js';
import { kubectlOk } from '../support/kube.js';

let api: ApiServerHandle;
const crdYaml = readFileSync(new URL('./fixtures/widgets-crd.yaml', import.meta.url), 'utf8');

beforeAll(async () => {
  api = await startApiServer();
});
afterAll(async () => {
  await api.stop();
});

const ok = (args: string[], input?: string): Promise<string> => kubectlOk(api, args, input);

describe('kubectl explain', () => {
  it('describes built-in fields with Kubernetes\' own descriptions', async () => {
    const out = await ok(['explain', 'service.spec.loadBalancerIP']);
    expect(out).toMatch(/^KIND:\s+Service\nVERSION:\s+v1\n\nFIELD: loadBalancerIP <string>/);
    expect(out).toContain('Only applies to Service Type: LoadBalancer.');
    const ports = await ok(['explain', 'svc.spec.ports']);
    expect(ports).toContain('FIELD: ports <[]ServicePort>');
    expect(ports).toMatch(/^ {2}port\t<integer> -required-$/m);
    expect(ports).toContain('Number or name of the port to access on the pods targeted by the service.');
    expect(await ok(['explain', 'lease.spec.holderIdentity'])).toContain('holderIdentity contains the identity of the holder of a current lease.');
  });

  it('describes a custom resource from its CRD, and sees a changed CRD at once', async () => {
    await ok(['apply', '-f', '-'], crdYaml);
    await ok(['wait', '--for', 'condition=established', '--timeout=10s', 'crd/widgets.example.com']);
    const size = await ok(['explain', 'widget.spec.size']);
    expect(size).toMatch(/^GROUP:\s+example\.com\nKIND:\s+Widget\nVERSION:\s+v1\n\nFIELD: size <integer>/);
    expect(size).toContain('How big the widget is.');
    expect(await ok(['explain', 'widgets.metadata.name'])).toContain('FIELD: name <string>');
    await ok(['apply', '-f', '-'], crdYaml.replace('description: How big the widget is.', 'description: The size, from 1 to 10.'));
    expect(await ok(['explain', 'widget.spec.size'])).toContain('The size, from 1 to 10.');
  });
});
