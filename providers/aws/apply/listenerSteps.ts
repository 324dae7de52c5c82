// Executors of the listener steps. A listener forwards one port to one target group.
import {
  AddListenerCertificatesCommand,
  AddTagsCommand,
  ModifyListenerAttributesCommand,
  CreateListenerCommand,
  DeleteListenerCommand,
  DescribeListenersCommand,
  ModifyListenerCommand,
  RemoveListenerCertificatesCommand,
  type Action,
  type ProtocolEnum,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { isCode } from '../awsApi.js';
import type { AwsStep, DesiredPortGroup } from '../awsTypes.js';
import { LISTENER_ATTRIBUTES_TAG, toTagList } from '../tags.js';
import { ServiceConfigError } from '../../provider.js';
import { AWS_ANNOTATIONS } from '../annotations.js';
import type { ApplyRun } from './applyRun.js';

type Step<Op extends AwsStep['op']> = Extract<AwsStep, { op: Op }>;

function forward(arn: string): Action[] {
  return [{ Type: 'forward', TargetGroupArn: arn }];
}

/** Protocol, port, target and (TLS) the default certificate and policies: what create and modify both send. */
function listenerSettings(g: DesiredPortGroup, tgArn: string) {
  return {
    Protocol: g.listenerProtocol as ProtocolEnum,
    Port: g.port,
    DefaultActions: forward(tgArn),
    ...(g.tls
      ? {
          // CreateListenerInput.Certificates: "[HTTPS and TLS listeners] The default certificate for the listener. You must provide exactly one certificate."
          Certificates: [{ CertificateArn: g.tls.certificates[0]! }],
          ...(g.tls.sslPolicy ? { SslPolicy: g.tls.sslPolicy } : {}),
          ...(g.tls.alpnPolicy ? { AlpnPolicy: [g.tls.alpnPolicy] } : {}),
        }
      : {}),
  };
}

/** More certificates than the default (SNI) go on with AddListenerCertificates. */
async function addMoreCertificates(run: ApplyRun, listenerArn: string, g: DesiredPortGroup): Promise<void> {
  const more = g.tls?.certificates.slice(1) ?? [];
  if (more.length === 0) return;
  await run.api.elb('AddListenerCertificates', true, (c) => c.send(new AddListenerCertificatesCommand({ ListenerArn: listenerArn, Certificates: more.map((CertificateArn) => ({ CertificateArn })) })));
}

export async function createListener(run: ApplyRun, { group: g }: Step<'createListener'>): Promise<void> {
  const tgArn = await run.targetGroupArn(g.targetGroupName);
  try {
    const res = await run.api.elb('CreateListener', true, (c) => c.send(new CreateListenerCommand({ LoadBalancerArn: run.needLb(), ...listenerSettings(g, tgArn), Tags: toTagList(run.d.tags) })));
    run.written.listeners.push(res.Listeners![0]!);
    await addMoreCertificates(run, res.Listeners![0]!.ListenerArn!, g);
  } catch (error) {
    if (!isCode(error, 'DuplicateListenerException', 'DuplicateListener')) throw error;
    // A crashed run created it (with other settings): point it where it belongs.
    const res = await run.api.elb('DescribeListeners', false, (c) => c.send(new DescribeListenersCommand({ LoadBalancerArn: run.needLb() })));
    const listener = res.Listeners?.find((l) => l.Port === g.port);
    if (!listener?.ListenerArn) throw error;
    await run.api.elb('ModifyListener', true, (c) => c.send(new ModifyListenerCommand({ ListenerArn: listener.ListenerArn, ...listenerSettings(g, tgArn) })));
    await addMoreCertificates(run, listener.ListenerArn, g);
  }
}

export async function modifyListener(run: ApplyRun, step: Step<'modifyListener'>): Promise<void> {
  const tgArn = await run.targetGroupArn(step.group.targetGroupName);
  await run.api.elb('ModifyListener', true, (c) => c.send(new ModifyListenerCommand({ ListenerArn: step.arn, ...listenerSettings(step.group, tgArn) })));
}

/** SNI certificates: those no longer in ssl-cert off first, then the new ones on. */
export async function syncListenerCertificates(run: ApplyRun, step: Step<'syncListenerCertificates'>): Promise<void> {
  const list = (arns: string[]) => arns.map((CertificateArn) => ({ CertificateArn }));
  if (step.remove.length > 0) await run.api.elb('RemoveListenerCertificates', true, (c) => c.send(new RemoveListenerCertificatesCommand({ ListenerArn: step.arn, Certificates: list(step.remove) })));
  if (step.add.length > 0) await run.api.elb('AddListenerCertificates', true, (c) => c.send(new AddListenerCertificatesCommand({ ListenerArn: step.arn, Certificates: list(step.add) })));
}

export async function modifyListenerAttributes(run: ApplyRun, step: Step<'modifyListenerAttributes'>): Promise<void> {
  const lbArn = run.needLb();
  // The listener may have been created earlier in this run: found by port.
  const res = await run.api.elb('DescribeListeners', false, (c) => c.send(new DescribeListenersCommand({ LoadBalancerArn: lbArn })));
  const listener = res.Listeners?.find((l) => l.Port === step.port);
  if (!listener?.ListenerArn) throw new Error(`listener on port ${step.port} of ${run.d.lbName} is not known yet`);
  const Attributes = Object.entries(step.attributes).map(([Key, Value]) => ({ Key, Value }));
  try {
    await run.api.elb('ModifyListenerAttributes', true, (c) => c.send(new ModifyListenerAttributesCommand({ ListenerArn: listener.ListenerArn, Attributes })));
  } catch (error) {
    if (!isCode(error, 'ValidationError', 'InvalidConfigurationRequest', 'InvalidConfigurationRequestException')) throw error;
    throw new ServiceConfigError(`${AWS_ANNOTATIONS.listenerAttributesPrefix}${listener.Protocol}-${step.port}`, `AWS refused ${Attributes.map((a) => `${a.Key}=${a.Value}`).join(', ')}: ${(error as Error).message}`);
  }
  if (step.tag) await run.api.elb('AddTags', true, (c) => c.send(new AddTagsCommand({ ResourceArns: [lbArn], Tags: [{ Key: LISTENER_ATTRIBUTES_TAG, Value: 'managed' }] })));
}

export async function deleteListener(run: ApplyRun, step: Step<'deleteListener'>): Promise<void> {
  try {
    await run.api.elb('DeleteListener', true, (c) => c.send(new DeleteListenerCommand({ ListenerArn: step.arn })));
  } catch (error) {
    if (!isCode(error, 'ListenerNotFoundException', 'ListenerNotFound')) throw error;
  }
}
