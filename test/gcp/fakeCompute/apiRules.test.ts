// The fake's API rules answer as the real API does (status and reason), so the provider tests that
// rely on them mean something. Requests go over plain HTTP, as any Compute client would send them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeCompute, type FakeCompute } from './server.js';

let fake: FakeCompute;
const P = 'rules-project';
beforeAll(async () => {
  fake = await startFakeCompute(P, { pollsToComplete: 0, defaultNetworkTier: 'STANDARD', customModeNetworks: ['vpc'], dualStackSubnets: { ds: 'EXTERNAL', ids: 'INTERNAL' } });
  fake.seed('healthChecks', 'regions/r1', { name: 'hc', type: 'TCP', tcpHealthCheck: { port: 80 } });
  fake.seed('backendServices', 'regions/r1', { name: 'bs', protocol: 'TCP', loadBalancingScheme: 'EXTERNAL', healthChecks: [`projects/${P}/regions/r1/healthChecks/hc`] });
  fake.seed('addresses', 'regions/r1', { name: 'std', address: '35.0.0.1', addressType: 'EXTERNAL' });
});
afterAll(async () => fake.close());

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; reason?: string }> {
  const res = await fetch(`http://127.0.0.1:${fake.port}/compute/v1/projects/${P}/${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as { error?: { errors?: Array<{ reason?: string }> } };
  const reason = json.error?.errors?.[0]?.reason;
  return { status: res.status, ...(reason ? { reason } : {}) };
}

const rule = (extra: Record<string, unknown>) => ({
  name: `fr${Math.random().toString(36).slice(2, 8)}`,
  IPProtocol: 'TCP',
  loadBalancingScheme: 'EXTERNAL',
  backendService: `projects/${P}/regions/r1/backendServices/bs`,
  ...extra,
});

describe('fake Compute API rules', () => {
  it('refuses a backend service update without a current fingerprint (412 conditionNotMet)', async () => {
    const current = fake.get('backendServices', 'regions/r1', 'bs')!;
    const { fingerprint, ...without } = current;
    expect(await call('PUT', 'regions/r1/backendServices/bs', without)).toEqual({ status: 412, reason: 'conditionNotMet' });
    expect(await call('PUT', 'regions/r1/backendServices/bs', { ...current, fingerprint: 'stale' })).toEqual({ status: 412, reason: 'conditionNotMet' });
    expect((await call('PUT', 'regions/r1/backendServices/bs', { ...without, fingerprint })).status).toBe(200);
    expect(fake.get('backendServices', 'regions/r1', 'bs')!.fingerprint).not.toBe(fingerprint);
  });

  it("gives untiered resources the project's default tier and refuses a rule whose tier differs from its address's", async () => {
    expect(fake.get('addresses', 'regions/r1', 'std')!.networkTier).toBe('STANDARD');
    expect(await call('POST', 'regions/r1/forwardingRules', rule({ IPAddress: '35.0.0.1', ports: ['80'], networkTier: 'PREMIUM' }))).toEqual({ status: 400, reason: 'invalid' });
    expect((await call('POST', 'regions/r1/forwardingRules', rule({ IPAddress: '35.0.0.1', ports: ['80'], networkTier: 'STANDARD' }))).status).toBe(200);
  });

  it('refuses ports, portRange and allPorts together', async () => {
    expect(await call('POST', 'regions/r1/forwardingRules', rule({ ports: ['80'], portRange: '80-81' }))).toEqual({ status: 400, reason: 'invalid' });
    expect(await call('POST', 'regions/r1/forwardingRules', rule({ portRange: '80-81', allPorts: true }))).toEqual({ status: 400, reason: 'invalid' });
  });

  it('accepts CLIENT_IP_NO_DESTINATION on internal backend services only', async () => {
    const bs = (name: string, scheme: string) => ({ name, protocol: 'TCP', loadBalancingScheme: scheme, healthChecks: [`projects/${P}/regions/r1/healthChecks/hc`], sessionAffinity: 'CLIENT_IP_NO_DESTINATION' });
    expect(await call('POST', 'regions/r1/backendServices', bs('ext', 'EXTERNAL'))).toEqual({ status: 400, reason: 'invalid' });
    expect((await call('POST', 'regions/r1/backendServices', bs('int', 'INTERNAL'))).status).toBe(200);
  });

  it('requires a subnetwork for internal addresses on a custom-mode network', async () => {
    const address = { name: 'ilb', addressType: 'INTERNAL', network: `projects/${P}/global/networks/vpc` };
    expect(await call('POST', 'regions/r1/addresses', address)).toEqual({ status: 400, reason: 'invalid' });
    expect((await call('POST', 'regions/r1/addresses', { ...address, subnetwork: `projects/${P}/regions/r1/subnetworks/s` })).status).toBe(200);
  });

  it('gives an IPv6 rule an address from a named subnet with an IPv6 range of its scheme, Premium tier only', async () => {
    const subnet = (n: string) => `projects/${P}/regions/r1/subnetworks/${n}`;
    const v6 = (extra: Record<string, unknown>) => rule({ ipVersion: 'IPV6', ports: ['80'], ...extra });
    expect(await call('POST', 'regions/r1/forwardingRules', v6({}))).toEqual({ status: 400, reason: 'invalid' });
    expect(await call('POST', 'regions/r1/forwardingRules', v6({ subnetwork: subnet('plain') }))).toEqual({ status: 400, reason: 'invalid' });
    expect(await call('POST', 'regions/r1/forwardingRules', v6({ subnetwork: subnet('ids') }))).toEqual({ status: 400, reason: 'invalid' });
    expect(await call('POST', 'regions/r1/forwardingRules', v6({ subnetwork: subnet('ds'), networkTier: 'STANDARD' }))).toEqual({ status: 400, reason: 'invalid' });
    expect((await call('POST', 'regions/r1/forwardingRules', v6({ name: 'six', subnetwork: subnet('ds'), networkTier: 'PREMIUM' }))).status).toBe(200);
    expect(String(fake.get('forwardingRules', 'regions/r1', 'six')!.IPAddress)).toMatch(/^2600:.*\/96$/);
  });

  it('refuses a firewall mixing IPv4 and IPv6 source ranges', async () => {
    const fw = (name: string, sourceRanges: string[]) => ({ name, network: `projects/${P}/global/networks/vpc`, sourceRanges, allowed: [{ IPProtocol: 'tcp', ports: ['80'] }] });
    expect(await call('POST', 'global/firewalls', fw('mixed', ['0.0.0.0/0', '::/0']))).toEqual({ status: 400, reason: 'invalid' });
    expect((await call('POST', 'global/firewalls', fw('six', ['::/0']))).status).toBe(200);
  });
});
