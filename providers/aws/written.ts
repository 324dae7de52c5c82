// What a write did, in the shape observe reads it back in: ReadCache keeps it instead of reading
// back what this controller has just made or changed. Recorded are a plain create (one new stack,
// every resource made by this run, every target accepted, nothing that observe reads deeply:
// attributes of an NLB with addresses or managed attributes, listener attributes; AWS's answers to
// the creates carry the ARNs, the NLB's zones and DNS name, the groups' health checks) and a
// membership change (targets registered and deregistered). Anything else is read afresh after it.
import type { ApplyRun } from './apply/applyRun.js';
import type { AwsStep, ObservedStack } from './awsTypes.js';
import { listenerOf, stacksOf, targetGroupOf, withLoadBalancer } from './observe.js';
import { TARGET_GROUP_ATTRIBUTE_DEFAULTS } from './planActions.js';
import { cidrPermissions } from './securityGroupRules.js';
import { LOAD_BALANCER_NAME_TAG, PLACEMENT_TAG, SERVICE_PORT_TAG, toTagList } from './tags.js';

const CREATE_STEPS = new Set<AwsStep['op']>([
  'createSecurityGroup',
  'authorizeIngress',
  'createTargetGroup',
  'modifyTargetGroupAttributes',
  'createLoadBalancer',
  'createListener',
  'registerTargets',
  'ensureBackendSecurityGroup',
  'authorizeNodeRules',
]);

/** The stack after a write that only registered and deregistered targets, from the one it was planned on. */
export function writtenMembership(run: ApplyRun): ObservedStack | undefined {
  const { plan, written } = run;
  if (!plan.current || plan.retiring.length > 0 || written.refused) return undefined;
  const stack = structuredClone(plan.current);
  for (const { step } of plan.actions) {
    if (step.op !== 'registerTargets' && step.op !== 'deregisterTargets') return undefined;
    const group = stack.targetGroups.find((g) => g.name === step.targetGroupName);
    if (!group) return undefined;
    const key = (t: { id: string; port: number }) => `${t.id}:${t.port}`;
    const changed = new Set(step.targets.map(key));
    group.targets = [...group.targets.filter((t) => !changed.has(key(t))), ...(step.op === 'registerTargets' ? step.targets : [])];
  }
  return stack;
}

export function writtenStack(run: ApplyRun): ObservedStack | undefined {
  const { plan, d, written } = run;
  const lb = written.loadBalancer;
  if (plan.current || plan.retiring.length > 0 || !run.anchorMade || !run.sgId || !lb || written.refused) return undefined;
  if (!plan.actions.every((a) => CREATE_STEPS.has(a.step.op))) return undefined;
  if (d.addresses.length > 0 || d.loadBalancerAttributes || d.crossZone || d.groups.some((g) => g.listenerAttributes)) return undefined;
  if (d.groups.some((g) => !written.groups.has(g.targetGroupName)) || written.listeners.length !== d.groups.length) return undefined;

  // The tags each create call set (securityGroupSteps, loadBalancerSteps, targetGroupSteps).
  const rules = plan.actions.flatMap((a) => (a.step.op === 'authorizeIngress' ? a.step.rules : []));
  const [stack] = stacksOf([
    {
      GroupId: run.sgId,
      Tags: toTagList({ ...d.tags, ...run.heldTag, Name: d.lbName, [LOAD_BALANCER_NAME_TAG]: d.lbName, [PLACEMENT_TAG]: d.placement }),
      IpPermissions: cidrPermissions(rules),
    },
  ]);
  withLoadBalancer(stack!, lb, { ...d.tags, ...run.heldTag, [PLACEMENT_TAG]: d.placement }, run.clusterName, run.uid);
  // A TLS listener got its SNI certificates right after its create (listenerSteps).
  stack!.listeners = written.listeners.map((l) => {
    const tls = d.groups.find((g) => g.port === l.Port)?.tls;
    return tls ? { ...listenerOf(l), extraCertificates: tls.certificates.slice(1).filter((c) => c !== tls.certificates[0]) } : listenerOf(l);
  });
  stack!.targetGroups = d.groups.map((g) => {
    const set = plan.actions.flatMap((a) => (a.step.op === 'modifyTargetGroupAttributes' && a.step.targetGroupName === g.targetGroupName ? [a.step.attributes] : []));
    return {
      ...targetGroupOf(written.groups.get(g.targetGroupName)!, { ...d.tags, [SERVICE_PORT_TAG]: `${g.port}/${g.protocol}` }, run.clusterName, run.uid),
      targets: written.targets.get(g.targetGroupName) ?? [],
      // A new group has AWS's defaults, and what this run set on it.
      attributes: Object.assign({ ...TARGET_GROUP_ATTRIBUTE_DEFAULTS }, ...set) as Record<string, string>,
    };
  });
  return stack;
}
