// The registerTargets step. RegisterTargets refuses the whole call when one instance is not running
// (stopped, stopping, pending: "If the target is an EC2 instance, it must be in the running state
// when you register it"). So a refused call is followed by one read of the instances' states: the
// running ones are registered, each other one is reported, and the plan goes on. A later reconcile
// registers an instance once it runs.
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { isCode, type AwsApi } from './awsApi.js';

export interface Target {
  id: string;
  port: number;
}

/** Registers what AWS accepts; answers the targets it left out, with their instance state ('gone' when none). */
export async function registerRunningTargets(api: AwsApi, targetGroupArn: string, targets: Target[]): Promise<{ target: Target; state: string }[]> {
  const send = (list: Target[]) =>
    api.elb('RegisterTargets', true, (c) => c.send(new RegisterTargetsCommand({ TargetGroupArn: targetGroupArn, Targets: list.map((t) => ({ Id: t.id, Port: t.port })) })));
  try {
    await send(targets);
    return [];
  } catch (error) {
    if (!isCode(error, 'InvalidTargetException', 'InvalidTarget')) throw error;
  }
  const states = await instanceStates(api, targets.map((t) => t.id));
  const running = targets.filter((t) => states.get(t.id) === 'running');
  if (running.length > 0) await send(running);
  return targets.filter((t) => states.get(t.id) !== 'running').map((target) => ({ target, state: states.get(target.id) ?? 'gone' }));
}

async function instanceStates(api: AwsApi, ids: string[]): Promise<Map<string, string>> {
  // A filter (not InstanceIds) so that an instance that no longer exists is simply absent.
  const res = await api.ec2('DescribeInstances', false, (c) => c.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: ids }] })));
  const states = new Map<string, string>();
  for (const i of (res.Reservations ?? []).flatMap((r) => r.Instances ?? [])) if (i.InstanceId) states.set(i.InstanceId, i.State?.Name ?? 'unknown');
  return states;
}
