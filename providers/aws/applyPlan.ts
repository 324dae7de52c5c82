// Carries out an AwsPlan step by step, each step by its own executor (apply/executors.ts). Every
// step is safe to repeat after a crash at any point: creates look for an owned resource with the
// deterministic name first (AWS would otherwise hand back a foreign one with the same name),
// deletes treat "not found" as done.
import type { ApplyResult } from '../provider.js';
import { ApplyRun, type ApplyDeps } from './apply/applyRun.js';
import { executeStep } from './apply/executors.js';
import type { AwsPlan } from './awsTypes.js';
import { StillReleasingError } from './deleteStack.js';
import { ingressFor } from './planActions.js';
import { writtenMembership, writtenStack } from './written.js';


export async function applyPlan(plan: AwsPlan, deps: ApplyDeps): Promise<ApplyResult> {
  const run = new ApplyRun(plan, deps);
  const d = plan.desired;

  // Said when something changes (a create, a membership change), not on every steady resync.
  const changing = plan.actions.some((a) => a.mutating);
  for (const node of changing ? d.skippedNodes : []) {
    deps.emit({ ref: d.ref, type: 'Warning', reason: 'UnAvailableLoadBalancer', message: `node ${node.name} is not a target: ${node.reason}` });
  }

  try {
    for (const [index, action] of plan.actions.entries()) {
      deps.beforeStep?.(index, action.kind);
      await executeStep(run, action.step);
    }
  } catch (error) {
    if (error instanceof StillReleasingError) return { state: 'inProgress', retryAfterMs: deps.provisioningRetryMs, reason: error.message };
    throw error;
  }
  const created = changing ? writtenStack(run) : undefined;
  const moved = changing && !created ? writtenMembership(run) : undefined;
  if (created) deps.written?.(created, 'create');
  if (moved) deps.written?.(moved, 'membership');
  return resultOf(run);
}

/** What the load balancer is once every step ran: provisioning, replaced ones still to go, or ready. */
function resultOf(run: ApplyRun): ApplyResult {
  const { plan, deps, lb, d } = run;
  if (!lb || lb.state === 'provisioning') {
    return { state: 'inProgress', retryAfterMs: deps.provisioningRetryMs, reason: `NLB ${d.lbName} is provisioning` };
  }
  if (lb.state === 'failed') throw new Error(`NLB ${d.lbName} failed to provision; delete it in AWS or recreate the Service`);
  const retired = new Set(plan.actions.flatMap((a) => (a.step.op === 'retireStack' && !run.stillReleasing.has(a.step.stack.lbName) ? [a.step.stack.lbName] : [])));
  const remaining = plan.retiring.filter((s) => !retired.has(s.lbName));
  if (remaining.length > 0) {
    return { state: 'inProgress', retryAfterMs: deps.provisioningRetryMs, reason: `replaced NLB ${remaining.map((s) => s.lbName).join(', ')} is still to be deleted` };
  }
  if (plan.ingress) return { state: 'ready', ingress: plan.ingress };
  return { state: 'ready', ingress: plan.current ? ingressFor({ ...plan.current, loadBalancer: { ...plan.current.loadBalancer!, dnsName: lb.dnsName } }, d.proxyProtocol) : [{ hostname: lb.dnsName }] };
}
