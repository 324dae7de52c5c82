// The provider against AWS's documented rules that moto does not enforce (test/aws/support/awsRules.ts
// makes the fault proxy refuse what AWS refuses). Each test fails on a provider that breaks the rule.
import { CreateSecurityGroupCommand, StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceConfigError } from '../../providers/provider.js';
import { motoClients } from '../support/moto.js';
import { type AwsHarness, converge, inventory, makeService, ownedBy, refusal, startAwsHarness } from './support/awsHarness.js';

let h: AwsHarness;
beforeAll(async () => {
  h = await startAwsHarness({ clusterName: 'rules-cluster' });
});
afterAll(async () => {
  await h?.stop();
});

describe('AWS character sets', () => {
  it('the proxy refuses a security group description AWS refuses (an apostrophe), as AWS does', async () => {
    const viaProxy = motoClients(h.proxy.endpoint).ec2;
    const error = await refusal(viaProxy.send(new CreateSecurityGroupCommand({ GroupName: 'probe', Description: "cluster x's NLBs", VpcId: h.world.vpcId })));
    viaProxy.destroy();
    expect((error as Error).name).toBe('InvalidParameterValue');
  });

  it("the first Service of a cluster gets its NLB: the backend group's description is one AWS accepts", async () => {
    h.proxy.requests.length = 0;
    await converge(h.provider, makeService(h));
    const groups = h.proxy.requests.filter((r) => r.action === 'CreateSecurityGroup');
    expect(groups.map((r) => r.params.get('GroupName'))).toContainEqual(expect.stringMatching(/^k8s-backend-/));
    expect(h.proxy.requests.filter((r) => r.refused)).toEqual([]);
    for (const r of groups) expect(r.params.get('GroupDescription')).toMatch(/^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]{1,255}$/);
  });

  it.each([
    ['team=a&b', 'only letters, numbers, spaces'],
    [`k=${'v'.repeat(256)}`, 'longer than 255'],
    [`${'k'.repeat(128)}=v`, 'longer than 127'],
    ['cost*center=1', 'only letters, numbers, spaces'],
  ])('an additional tag AWS would refuse (%s) is a ServiceConfigError naming the annotation, before any call', async (tags, why) => {
    const svc = makeService(h, { annotations: { 'service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags': tags } });
    h.proxy.requests.length = 0;
    const error = await refusal(converge(h.provider, svc));
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as ServiceConfigError).field).toBe('service.beta.kubernetes.io/aws-load-balancer-additional-resource-tags');
    expect((error as Error).message).toContain(why);
    expect(h.proxy.requests.filter((r) => r.action.startsWith('Create'))).toEqual([]);
  });
});

describe('health check interval and timeout', () => {
  const interval = 'service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval';
  const timeout = 'service.beta.kubernetes.io/aws-load-balancer-healthcheck-timeout';

  it("an interval below AWS's default timeout is a ServiceConfigError naming both annotations, before any call", async () => {
    const svc = makeService(h, { annotations: { [interval]: '5' } });
    h.proxy.requests.length = 0;
    const error = await refusal(converge(h.provider, svc));
    expect(error).toBeInstanceOf(ServiceConfigError);
    expect((error as ServiceConfigError).field).toBe(interval);
    expect((error as Error).message).toContain(timeout);
    expect(h.proxy.requests.filter((r) => r.action.startsWith('Create'))).toEqual([]);
  });

  it('an interval with a timeout that fits converges', async () => {
    const svc = makeService(h, { annotations: { [interval]: '5', [timeout]: '5' } });
    h.proxy.requests.length = 0;
    await converge(h.provider, svc);
    expect(h.proxy.requests.filter((r) => r.refused)).toEqual([]);
  });

  it('lowering the interval under a timeout the group keeps sends a timeout that fits, so AWS accepts the modify', async () => {
    const svc = makeService(h, { annotations: { [interval]: '30', [timeout]: '20' } });
    await converge(h.provider, svc);
    svc.annotations = { [interval]: '10' };
    h.proxy.requests.length = 0;
    await converge(h.provider, svc);
    const modify = h.proxy.requests.filter((r) => r.action === 'ModifyTargetGroup');
    expect(modify.map((r) => r.refused)).toEqual([undefined]);
    expect(modify[0]!.params.get('HealthCheckTimeoutSeconds')).toBe('10');
  });
});

describe('instances AWS will not register', () => {
  it('a stopped node is skipped with a Warning; the running ones are registered and the rest of the plan runs', async () => {
    const stopped = h.world.nodes[1]!;
    await h.ec2.send(new StopInstancesCommand({ InstanceIds: [stopped.instanceId] }));
    try {
      const svc = makeService(h);
      h.events.length = 0;
      const { result } = await converge(h.provider, svc);
      expect(result.state).toBe('ready');
      const inv = await inventory(h);
      const tg = inv.targetGroups.find(ownedBy(svc.ref.uid))!;
      const running = h.world.nodes.filter((n) => n !== stopped).map((n) => n.instanceId);
      expect(tg.targets.map((t) => t.split(':')[0]).sort()).toEqual(running.sort());
      expect(h.events).toContainEqual(expect.objectContaining({ type: 'Warning', message: expect.stringContaining(`instance ${stopped.instanceId} is stopped`) }));
      // Steps after the registration ran: the node group admits the NodePorts from the backend group.
      expect(inv.nodeRules.map((r) => r.rule)).toContain('tcp/30000-32767');

      // Started again, the node becomes a target on the next reconcile.
      await h.ec2.send(new StartInstancesCommand({ InstanceIds: [stopped.instanceId] }));
      await converge(h.provider, svc);
      const again = (await inventory(h)).targetGroups.find(ownedBy(svc.ref.uid))!;
      expect(again.targets).toHaveLength(h.world.nodes.length);
    } finally {
      await h.ec2.send(new StartInstancesCommand({ InstanceIds: [stopped.instanceId] }));
    }
  });
});
