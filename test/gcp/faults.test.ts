// Throttling and server errors are retried (p-retry with jitter, one requestId per insert so a
// retry is the same request); bad requests and quota errors become ServiceConfigError with the
// API's message, whether the call itself fails or its operation does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBalancerName } from '../../providers/gcp/names.js';
import { ServiceConfigError } from '../../providers/provider.js';
import { converge, desired, newRef, node, startHarness, type Harness } from './gcpHarness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ pollsToComplete: 1 });
  h.fake.addInstance('us-central1-a', 'n1');
});
afterAll(async () => h.close());

const R = 'regions/us-central1';
const nodes = () => [node('n1', 'us-central1-a')];

async function applyError(provider: ReturnType<Harness['newProvider']>, want: ReturnType<typeof desired>): Promise<unknown> {
  for (let i = 0; i < 30; i++) {
    try {
      const result = await provider.apply(provider.diff(await provider.observe(want.ref), want));
      if (result.state === 'ready') return undefined;
    } catch (error) {
      return error;
    }
  }
  return undefined;
}

describe('gcp provider: API faults', () => {
  it('retries 429 rateLimitExceeded and 5xx, then converges', async () => {
    const provider = h.newProvider();
    h.fake.faults.add({ operation: 'forwardingRules.insert', status: 429, times: 2 });
    h.fake.faults.add({ operation: 'backendServices.get', status: 503, times: 2 });
    h.fake.faults.add({ operation: 'operations.get', status: 500, times: 1 });
    h.fake.faults.add({ operation: 'addresses.list', status: 403, reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded', times: 1 });
    h.calls.length = 0;
    const ref = newRef('flaky');
    const result = await converge(provider, desired(ref, nodes()));
    expect(result.ingress[0]!.ip).toMatch(/^34\./);
    expect(h.fake.count('forwardingRules.insert')).toBe(3);
    expect(h.calls.filter((c) => c.outcome === 'throttled').map((c) => c.operation).sort()).toEqual(['addresses.list', 'forwardingRules.insert', 'forwardingRules.insert']);
    const errors = (op: RegExp) => h.calls.filter((c) => c.outcome === 'error' && op.test(c.operation)).length;
    expect(errors(/Operations\.get$/)).toBe(1);
    // 404s before the backend service exists are errors too; the two 503s come on top of them.
    expect(errors(/^regionBackendServices\.get$/)).toBeGreaterThanOrEqual(2);
    expect(h.fake.count('backendServices.get')).toBe(h.calls.filter((c) => c.operation === 'regionBackendServices.get').length);
  });

  it('makes a retried insert idempotent with its requestId when the reply was lost', async () => {
    const provider = h.newProvider();
    const ref = newRef('lostreply');
    h.fake.faults.add({ operation: 'healthChecks.insert', status: 503, afterServe: true });
    await converge(provider, desired(ref, nodes()));
    const inserts = h.fake.calls.filter((c) => c.operation === 'healthChecks.insert' && c.path.endsWith('/healthChecks'));
    const name = loadBalancerName(ref.uid);
    const mine = inserts.slice(-2);
    expect(mine).toHaveLength(2);
    expect(mine[0]!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(mine[1]!.requestId).toBe(mine[0]!.requestId); // the retry is the same request
    expect(h.fake.operationsFor('healthChecks', name)).toBe(1);
    expect(h.fake.get('healthChecks', R, name)).toBeDefined();
  });

  it('treats 409 alreadyExists on an insert as "look again"', async () => {
    const provider = h.newProvider();
    const ref = newRef('conflict');
    h.fake.faults.add({ operation: 'backendServices.insert', status: 409 });
    const r = await converge(provider, desired(ref, nodes()));
    expect(r.ingress[0]!.ip).toMatch(/^34\./);
  });

  it('tells membership races by the error reason, not its wording', async () => {
    const provider = h.newProvider();
    const ref = newRef('member');
    await converge(provider, desired(ref, nodes()));
    h.fake.addInstance('us-central1-a', 'n2');
    // Reworded, as messages may be; the reason is what the API guarantees.
    h.fake.faults.add({ operation: 'instanceGroups.addInstances', status: 400, reason: 'memberAlreadyExists', message: "Instance 'n2' is in the group already." });
    const r = await converge(provider, desired(ref, [...nodes(), node('n2', 'us-central1-a')]));
    expect(r.ingress[0]!.ip).toMatch(/^34\./);
    expect(h.fake.count('instanceGroups.addInstances')).toBeGreaterThanOrEqual(2);
  });

  it('turns 403 quota and 400 bad request into ServiceConfigError with the API message', async () => {
    const provider = h.newProvider();
    const ref = newRef('quota');
    h.fake.faults.add({ operation: 'addresses.insert', status: 403, message: "Quota 'STATIC_ADDRESSES' exceeded. Limit: 8.0 in region us-central1." });
    const quota = await applyError(provider, desired(ref, nodes()));
    expect(quota).toBeInstanceOf(ServiceConfigError);
    expect((quota as ServiceConfigError).field).toBe('spec');
    expect((quota as Error).message).toContain("Quota 'STATIC_ADDRESSES' exceeded");

    h.fake.faults.add({ operation: 'firewalls.insert', status: 400, message: "Invalid value for field 'resource.sourceRanges[0]'" });
    const bad = await applyError(h.newProvider(), desired(newRef('bad'), nodes()));
    expect(bad).toBeInstanceOf(ServiceConfigError);
    expect((bad as ServiceConfigError).field).toBe('spec.loadBalancerSourceRanges');
    expect((bad as Error).message).toContain("Invalid value for field 'resource.sourceRanges[0]'");
  });

  it('reports an operation that finishes with a quota error once, then tries again', async () => {
    const provider = h.newProvider();
    const ref = newRef('opquota');
    h.fake.faults.add({ operation: 'forwardingRules.insert', status: 403, inOperation: true, message: "Quota 'FORWARDING_RULES' exceeded. Limit: 15.0" });
    const error = await applyError(provider, desired(ref, nodes()));
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as Error).message).toContain("Quota 'FORWARDING_RULES' exceeded");
    const r = await converge(provider, desired(ref, nodes()));
    expect(r.ingress[0]!.ip).toMatch(/^34\./);
  });
});
