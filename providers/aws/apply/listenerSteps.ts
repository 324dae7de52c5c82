// Executors of the listener steps. A listener forwards one port to one target group.
import { CreateListenerCommand, DeleteListenerCommand, DescribeListenersCommand, ModifyListenerCommand, type Action } from '@aws-sdk/client-elastic-load-balancing-v2';
import { isCode } from '../awsApi.js';
import type { AwsStep } from '../awsTypes.js';
import { toTagList } from '../tags.js';
import type { ApplyRun } from './applyRun.js';

type Step<Op extends AwsStep['op']> = Extract<AwsStep, { op: Op }>;

function forward(arn: string): Action[] {
  return [{ Type: 'forward', TargetGroupArn: arn }];
}

export async function createListener(run: ApplyRun, { group: g }: Step<'createListener'>): Promise<void> {
  const tgArn = await run.targetGroupArn(g.targetGroupName);
  try {
    await run.api.elb('CreateListener', true, (c) =>
      c.send(new CreateListenerCommand({ LoadBalancerArn: run.needLb(), Protocol: g.protocol, Port: g.port, DefaultActions: forward(tgArn), Tags: toTagList(run.d.tags) })),
    );
  } catch (error) {
    if (!isCode(error, 'DuplicateListenerException', 'DuplicateListener')) throw error;
    // A crashed run created it (with other settings): point it where it belongs.
    const res = await run.api.elb('DescribeListeners', false, (c) => c.send(new DescribeListenersCommand({ LoadBalancerArn: run.needLb() })));
    const listener = res.Listeners?.find((l) => l.Port === g.port);
    if (!listener?.ListenerArn) throw error;
    await run.api.elb('ModifyListener', true, (c) => c.send(new ModifyListenerCommand({ ListenerArn: listener.ListenerArn, Protocol: g.protocol, Port: g.port, DefaultActions: forward(tgArn) })));
  }
}

export async function modifyListener(run: ApplyRun, step: Step<'modifyListener'>): Promise<void> {
  const tgArn = await run.targetGroupArn(step.group.targetGroupName);
  await run.api.elb('ModifyListener', true, (c) =>
    c.send(new ModifyListenerCommand({ ListenerArn: step.arn, Protocol: step.group.protocol, Port: step.group.port, DefaultActions: forward(tgArn) })),
  );
}

export async function deleteListener(run: ApplyRun, step: Step<'deleteListener'>): Promise<void> {
  try {
    await run.api.elb('DeleteListener', true, (c) => c.send(new DeleteListenerCommand({ ListenerArn: step.arn })));
  } catch (error) {
    if (!isCode(error, 'ListenerNotFoundException', 'ListenerNotFound')) throw error;
  }
}
