// The simulated provider's pure diff: what exists (observed) vs what the Service wants (desired),
// as a printable plan of cloud calls. Node changes produce membership-only steps.
import ipaddr from 'ipaddr.js';
import { ServiceConfigError, type DesiredLoadBalancer, type Plan, type PlanAction } from '../provider.js';
import type { AddressPool } from './addressPool.js';
import type { CloudLoadBalancer, CreateLoadBalancerInput, LoadBalancerAttributes, Listener, SessionAffinityAttribute, Target } from './cloud.js';

export const IDLE_TIMEOUT_ANNOTATION = 'kube-lb-provisioner.io/idle-timeout-seconds';
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 350;
/** Our annotation for the requested address, as metal reads it; the simulated cloud has IPv4 only. */
export const LOAD_BALANCER_IPS_ANNOTATION = 'kube-lb-provisioner.io/load-balancer-ips';

export const TAG_CLUSTER = 'kube-lb-provisioner.io/cluster';
export const TAG_SERVICE = 'kube-lb-provisioner.io/service';
export const TAG_SERVICE_UID = 'kube-lb-provisioner.io/service-uid';

export type Step =
  | { op: 'create'; input: CreateLoadBalancerInput }
  | { op: 'delete'; id: string }
  | { op: 'modifyListeners'; id: string; listeners: Listener[] }
  | { op: 'modifyAttributes'; id: string; attributes: LoadBalancerAttributes }
  | { op: 'registerTargets'; id: string; targets: Target[] }
  | { op: 'deregisterTargets'; id: string; names: string[] }
  | { op: 'waitActive'; id: string };

export interface SimulatedPlan extends Plan {
  steps: Step[];
  /** The load balancer the plan works on, if it exists already. */
  observed?: CloudLoadBalancer;
  /** Where the Service asked for its address (spec.loadBalancerIP or our annotation), for errors. */
  requestedField?: string;
}

export function ownershipTags(desired: Pick<DesiredLoadBalancer, 'clusterName' | 'ref'>): Record<string, string> {
  return {
    [TAG_CLUSTER]: desired.clusterName,
    [TAG_SERVICE]: `${desired.ref.namespace}/${desired.ref.name}`,
    [TAG_SERVICE_UID]: desired.ref.uid,
  };
}

function idleTimeout(desired: DesiredLoadBalancer): number {
  const raw = desired.annotations[IDLE_TIMEOUT_ANNOTATION];
  if (raw === undefined) return DEFAULT_IDLE_TIMEOUT_SECONDS;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(n) || n < 1 || n > 4000) {
    throw new ServiceConfigError(`metadata.annotations[${IDLE_TIMEOUT_ANNOTATION}]`, `"${raw}" is not a whole number of seconds between 1 and 4000`);
  }
  return n;
}

function targetsOf(desired: DesiredLoadBalancer): Target[] {
  return desired.nodes.map((n) => ({ name: n.name, ip: n.internalIPs[0] ?? n.externalIPs[0] ?? '' }));
}

function sessionAffinityOf(desired: DesiredLoadBalancer): SessionAffinityAttribute {
  if (desired.sessionAffinity !== 'ClientIP') return { type: 'None' };
  return desired.sessionAffinityTimeoutSeconds === undefined ? { type: 'ClientIP' } : { type: 'ClientIP', timeoutSeconds: desired.sessionAffinityTimeoutSeconds };
}

/** "None" or "ClientIP/<timeout>s"; a load balancer recorded without affinity counts as None. */
const affinityKey = (a: SessionAffinityAttribute | undefined) => (a?.type === 'ClientIP' ? `ClientIP/${a.timeoutSeconds ?? '-'}s` : 'None');

const listenerKey = (l: Listener) => `${l.protocol}/${l.port}->${l.nodePort}`;
const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The address the Service asks for, from spec.loadBalancerIP or our annotation, and where it was asked. */
function requestedAddress(desired: DesiredLoadBalancer): { ip: string; field: string } | undefined {
  const fromSpec = desired.loadBalancerIP;
  const raw = desired.annotations[LOAD_BALANCER_IPS_ANNOTATION]?.trim();
  if (raw === undefined || raw === '') return fromSpec === undefined ? undefined : { ip: fromSpec, field: 'spec.loadBalancerIP' };
  const field = `metadata.annotations[${LOAD_BALANCER_IPS_ANNOTATION}]`;
  const ips = raw.split(',').map((s) => s.trim());
  if (ips.length !== 1 || !ipaddr.IPv4.isValidFourPartDecimal(ips[0] ?? '')) {
    throw new ServiceConfigError(field, `"${raw}" is not one IPv4 address: the simulated cloud gives one IPv4 address per load balancer`);
  }
  const ip = ipaddr.parse(ips[0] ?? '').toString();
  if (fromSpec !== undefined && fromSpec !== ip) throw new ServiceConfigError('spec.loadBalancerIP', `${fromSpec} disagrees with ${field} (${ip}): set only one of them`);
  return { ip, field };
}

export function simulatedDiff(observed: CloudLoadBalancer | undefined, desired: DesiredLoadBalancer, pool: AddressPool): SimulatedPlan {
  const asked = requestedAddress(desired);
  const plan = planSteps(observed, desired, pool, asked);
  return asked ? { ...plan, requestedField: asked.field } : plan;
}

function planSteps(observed: CloudLoadBalancer | undefined, desired: DesiredLoadBalancer, pool: AddressPool, asked: { ip: string; field: string } | undefined): SimulatedPlan {
  const requested = asked?.ip;
  if (asked && !pool.owns(asked.ip)) {
    throw new ServiceConfigError(asked.field, `${asked.ip} is not an address this account owns; use a static address of the account or remove the field`);
  }
  const attributes: LoadBalancerAttributes = {
    healthCheck: { ...desired.healthCheck },
    sourceRanges: [...desired.sourceRanges].sort(),
    idleTimeoutSeconds: idleTimeout(desired),
    sessionAffinity: sessionAffinityOf(desired),
  };
  const listeners: Listener[] = desired.ports.map((p) => ({ protocol: p.protocol, port: p.port, nodePort: p.nodePort }));
  const targets = targetsOf(desired);
  const steps: Step[] = [];
  const actions: PlanAction[] = [];
  const ref = desired.ref;
  const create = () => {
    const input: CreateLoadBalancerInput = { clientToken: `${desired.clusterName}/${ref.uid}`, tags: ownershipTags(desired), listeners, targets, ...attributes };
    if (requested !== undefined) input.requestedAddress = requested;
    steps.push({ op: 'create', input });
    actions.push({
      kind: 'createLoadBalancer',
      description: `create load balancer (${listeners.map(listenerKey).join(', ')}; ${targets.length} targets; address ${requested ?? 'from the pool'})`,
      mutating: true,
    });
  };

  if (!observed) {
    create();
    return { ref, steps, actions };
  }
  if (requested !== undefined && observed.address !== requested) {
    // An address cannot move between load balancers: replace it (deleting frees the client token).
    steps.push({ op: 'delete', id: observed.id });
    actions.push({ kind: 'deleteLoadBalancer', description: `delete ${observed.id}: it holds ${observed.address}, the Service asks for ${requested}`, mutating: true });
    create();
    return { ref, steps, actions, observed };
  }
  if (observed.state === 'provisioning') {
    steps.push({ op: 'waitActive', id: observed.id });
    actions.push({ kind: 'waitActive', description: `wait for ${observed.id} to become active`, mutating: false });
    return { ref, steps, actions, observed };
  }
  const haveListeners = observed.listeners.map(listenerKey).sort();
  const wantListeners = listeners.map(listenerKey).sort();
  if (!sameList(haveListeners, wantListeners)) {
    steps.push({ op: 'modifyListeners', id: observed.id, listeners });
    actions.push({ kind: 'modifyListeners', description: `listeners ${haveListeners.join(', ') || '(none)'} -> ${wantListeners.join(', ')}`, mutating: true });
  }
  const hc = (a: LoadBalancerAttributes) => `${a.healthCheck.protocol}:${a.healthCheck.port}${a.healthCheck.path ?? ''}`;
  const haveRanges = [...observed.sourceRanges].sort();
  const affinityChanged = affinityKey(observed.sessionAffinity) !== affinityKey(attributes.sessionAffinity);
  if (
    hc(observed) !== hc(attributes) ||
    !sameList(haveRanges, attributes.sourceRanges) ||
    observed.idleTimeoutSeconds !== attributes.idleTimeoutSeconds ||
    affinityChanged
  ) {
    steps.push({ op: 'modifyAttributes', id: observed.id, attributes });
    const affinity = affinityChanged ? `; session affinity ${affinityKey(observed.sessionAffinity)} -> ${affinityKey(attributes.sessionAffinity)}` : '';
    actions.push({
      kind: 'modifyAttributes',
      description: `health check ${hc(observed)} -> ${hc(attributes)}; source ranges [${haveRanges.join(', ')}] -> [${attributes.sourceRanges.join(', ')}]; idle timeout ${observed.idleTimeoutSeconds}s -> ${attributes.idleTimeoutSeconds}s${affinity}`,
      mutating: true,
    });
  }
  const have = new Map(observed.targets.map((t) => [t.name, t.ip]));
  const want = new Map(targets.map((t) => [t.name, t.ip]));
  const add = targets.filter((t) => have.get(t.name) !== t.ip);
  const remove = [...have.keys()].filter((name) => !want.has(name));
  if (add.length > 0) {
    steps.push({ op: 'registerTargets', id: observed.id, targets: add });
    actions.push({ kind: 'registerTargets', description: `register ${add.map((t) => t.name).join(', ')}`, mutating: true, membershipOnly: true });
  }
  if (remove.length > 0) {
    steps.push({ op: 'deregisterTargets', id: observed.id, names: remove });
    actions.push({ kind: 'deregisterTargets', description: `deregister ${remove.join(', ')}`, mutating: true, membershipOnly: true });
  }
  return { ref, steps, actions, observed };
}
