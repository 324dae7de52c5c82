// The GCP provider: passthrough network load balancers built on regional backend services (as GKE
// does for new Services), in front of every eligible node through one unmanaged instance group per
// zone shared by all Services. Nothing here waits for an operation: apply starts the next phase and
// answers "in progress"; the next reconcile polls what was started and plans again from what exists.
// A plan that must wait says so (GcpPlan.wait) and holds no step. The shared groups are deleted by
// sweep(), never by one Service's delete.
//
// State kept between calls (all of it a cache or a record of what this process started):
// - the operations it started (OperationTracker), per Service and per shared group's zone;
// - the converged view of each Service (snapshots, observeCacheMs), taken from the plan apply ran;
// - while a Service converges, the read its last phase was planned from and what that phase changed
//   (partialReads, observeCacheMs), so the next observe re-reads only that;
// - the shared groups' read and the region's address list (instanceGroupCacheMs, addressListCacheMs);
// - the zones a Service's next phase waits for (zoneWaiters), and the notices last reported.
import type { Logger } from '../../src/observability/logger.js';
import {
  ServiceConfigError,
  type ApplyResult,
  type Capabilities,
  type DeleteResult,
  type DesiredLoadBalancer,
  type LoadBalancerIngress,
  type Provider,
  type ProviderContext,
  type ServiceRef,
} from '../provider.js';
import { isNotFound } from './apiErrors.js';
import { backendServiceUpdate } from './backendServiceUpdate.js';
import type { ComputeApi, IAddress, OperationRef } from './computeApi.js';
import { IP_ADDRESSES_ANNOTATION, networkUrl, wantsDualStack, type GcpSettings } from './desiredGcp.js';
import { clusterDescription, healthCheckFirewallName, instanceGroupName, ipv6Twin, ownershipMatches, lastSegment, loadBalancerName, parseOwnership, serviceFirewallName } from './names.js';
import type { ExternalGroup, GcpObserved, ObservedGroup } from './observed.js';
import { observedAddresses, observedBackendService, observedFirewall, observedForwardingRule, observedHealthCheck } from './observedFromCompute.js';
import { OperationTracker } from './operationTracker.js';
import { GKE_CONDITION_TYPES, gkeConditions } from './serviceConditions.js';
import { slotsOf, type ResourceSlot } from './resourceSlots.js';
import { classifyStepFailure, fieldOf } from './stepFailure.js';
import { currentPhase, planActions, type GcpPlan, type Step } from './planActions.js';

export interface GcpProviderOptions {
  settings: GcpSettings;
  pollIntervalMs: number;
  instanceGroupCacheMs: number;
  observeCacheMs: number;
  addressListCacheMs: number;
  logger: Logger;
}

interface GroupsView {
  groups: ObservedGroup[];
  external: ExternalGroup[];
}

const serviceKeyOf = (ref: ServiceRef) => `${ref.namespace}/${ref.name}/${ref.uid}`;

/** The zones whose shared group a step changes or references. */
function zonesTouched(step: Step | undefined): string[] {
  if (!step) return [];
  if ('zone' in step) return [step.zone];
  if (step.op === 'insertBackendService' || step.op === 'updateBackendService')
    return step.body.backends.map((b) => /zones\/([^/]+)\//.exec(b.group)?.[1] ?? '').filter((z) => z !== '');
  return [];
}

/** A serving load balancer: its addresses and the conditions GKE writes for it (serviceConditions.ts). */
function ready(plan: GcpPlan, ingress: LoadBalancerIngress[]): Extract<ApplyResult, { state: 'ready' }> {
  return { state: 'ready', ingress, conditions: gkeConditions(plan.name, plan.ruleProtocol ?? 'TCP', plan.dualStack === true) };
}

/** The addresses the load balancer serves at, once every rule it wants exists as desired (both, when dual-stack). */
function servingIngress(plan: GcpPlan): LoadBalancerIngress[] | undefined {
  if (plan.ingressIP === undefined || (plan.dualStack === true && plan.ingressIPv6 === undefined)) return undefined;
  const ips = plan.dualStack ? [plan.ingressIP, plan.ingressIPv6!] : [plan.ingressIP];
  return ips.map((ip) => ({ ip, ipMode: 'VIP' }));
}

/** Only node membership changes, on a load balancer that serves as it should. */
function isMembershipOnly(plan: GcpPlan): boolean {
  return servingIngress(plan) !== undefined && plan.actions.some((a) => a.mutating) && plan.actions.every((a) => !a.mutating || a.membershipOnly === true);
}

export class GcpProvider implements Provider<GcpObserved, GcpPlan> {
  readonly name = 'gcp';
  readonly conditionTypes = GKE_CONDITION_TYPES;
  readonly capabilities: Capabilities = {
    protocols: ['TCP', 'UDP'],
    mixedProtocol: true,
    loadBalancerIP: true,
    sourceRanges: true,
    dualStack: true,
    ipFamilies: ['IPv4'],
    annotations: [],
    usesNodePorts: true,
    followsEndpoints: false,
    needsProviderID: true,
  };
  private readonly tracker: OperationTracker;
  private readonly groupName: string;
  private groupCache?: { at: number; view: GroupsView };
  private addressCache?: { at: number; addresses: Promise<IAddress[]> };
  private groupRead?: Promise<GroupsView>;
  private ctx?: ProviderContext;
  /** The last full read of each converged Service (see observeCacheMs). */
  private readonly snapshots = new Map<string, { at: number; observed: GcpObserved }>();
  /** Services whose next phase waits for these zones' group operations (observe skips the reads meanwhile). */
  private readonly zoneWaiters = new Map<string, string[]>();
  /** The read a Service's running phase was planned from, and the resources that phase changes. */
  private readonly partialReads = new Map<string, { base: GcpObserved; touched: Set<ResourceSlot> }>();
  /** Services whose `-ipv6` twins observe reads (they want, or had, dual-stack); others skip those reads. */
  private readonly ipv6Services = new Set<string>();
  /** The notices last reported per Service, so that each is one Warning Event, not one per round. */
  private readonly reportedNotices = new Map<string, string>();
  /** Bumped whenever a shared-group operation starts or ends: plans made before are stale for groups. */
  private groupGeneration = 0;

  /** A provider is cheap over an existing ComputeApi (a restarted provider in tests shares one). */
  constructor(
    readonly api: ComputeApi,
    readonly options: GcpProviderOptions,
  ) {
    this.tracker = new OperationTracker((ref) => api.getOperation(ref));
    this.groupName = instanceGroupName(options.settings.clusterName);
  }

  private get settings(): GcpSettings {
    return this.options.settings;
  }

  async start(ctx: ProviderContext): Promise<void> {
    this.ctx = ctx;
  }

  async stop(): Promise<void> {
    await this.api.close();
  }

  // ---- observe -----------------------------------------------------------------------------

  /** The shared groups (and others' reusable ones), read at most once per cache period however many Services ask. */
  private async readGroups(fresh = false): Promise<GroupsView> {
    const now = Date.now();
    if (!fresh && this.groupCache && now - this.groupCache.at < this.options.instanceGroupCacheMs) return this.groupCache.view;
    if (this.groupRead) return this.groupRead;
    const startedAt = this.groupGeneration;
    const read = (async () => {
      const prefix = this.settings.externalInstanceGroupsPrefix;
      const reusable = (n: string) => prefix !== undefined && prefix !== '' && n !== this.groupName && n.startsWith(prefix);
      const found = await this.api.findInstanceGroups((n) => n === this.groupName || reusable(n));
      const instancesOf = async (zone: string, name: string) => (await this.api.listGroupInstances(zone, name)) ?? [];
      const [groups, external] = await Promise.all([
        Promise.all(
          found
            .filter((g) => g.name === this.groupName)
            .map(async (g): Promise<ObservedGroup> => {
              const zone = lastSegment(g.zone);
              return { zone, owned: ownershipMatches(g.description, this.settings.clusterName), instances: await instancesOf(zone, this.groupName) };
            }),
        ),
        Promise.all(
          found
            .filter((g) => reusable(g.name ?? ''))
            .map(async (g): Promise<ExternalGroup> => ({ zone: lastSegment(g.zone), name: g.name!, instances: await instancesOf(lastSegment(g.zone), g.name!) })),
        ),
      ]);
      groups.sort((a, b) => a.zone.localeCompare(b.zone));
      const view: GroupsView = { groups, external };
      // A group operation that started or ended meanwhile makes this read stale: do not keep it.
      if (startedAt === this.groupGeneration) this.groupCache = { at: Date.now(), view };
      return view;
    })().finally(() => {
      if (this.groupRead === read) this.groupRead = undefined;
    });
    this.groupRead = read;
    return read;
  }

  /** The region's addresses, listed at most once per addressListCacheMs for all Services. */
  private readAddresses(): { list: Promise<IAddress[]>; cached: boolean } {
    const now = Date.now();
    if (this.addressCache && now - this.addressCache.at < this.options.addressListCacheMs) return { list: this.addressCache.addresses, cached: true };
    const list = this.api.listAddresses();
    this.addressCache = { at: now, addresses: list };
    list.catch(() => {
      if (this.addressCache?.addresses === list) this.addressCache = undefined;
    });
    return { list, cached: false };
  }

  /** The shared groups changed (or were found stale): forget the cached read and stale plans. */
  private groupsChanged(): void {
    this.groupCache = undefined;
    this.groupRead = undefined;
    this.groupGeneration += 1;
  }

  private async pollGroupOperations(): Promise<void> {
    const finished = await this.tracker.pollZones();
    if (finished.length === 0) return;
    this.groupsChanged();
    for (const f of finished)
      if (f.status.error) this.options.logger.warn({ operation: f.ref.description, error: f.status.error }, 'instance group operation failed; it will be planned again');
  }

  async observe(ref: ServiceRef): Promise<GcpObserved> {
    const key = serviceKeyOf(ref);
    const name = loadBalancerName(ref.uid);
    const running = await this.tracker.pollService(key);
    await this.pollGroupOperations();
    // Waiting on a shared group's operation: nothing of this Service changes meanwhile, so skip the reads.
    const waitingZones = (this.zoneWaiters.get(key) ?? []).filter((z) => this.tracker.zoneBusy(z));
    if (waitingZones.length === 0) this.zoneWaiters.delete(key);
    const observed: GcpObserved = {
      ref,
      name,
      pendingOperations: [...running.map((r) => r.description), ...(waitingZones.length > 0 ? [`instance group operation in ${waitingZones.join(', ')}`] : [])],
      groupZonesBusy: this.tracker.busyZones(),
      groupGeneration: this.groupGeneration,
      failures: this.tracker.takeFailures(key),
      addresses: [],
      groups: [],
      externalGroups: [],
    };
    // While this Service's operations run (or one just failed) nothing else is planned: skip the reads.
    if (observed.pendingOperations.length > 0 || observed.failures.length > 0) {
      // A wait on a shared group alone keeps the converged view (membership is planned from it).
      if (running.length > 0 || observed.failures.length > 0) this.snapshots.delete(key);
      if (observed.failures.length > 0) this.partialReads.delete(key);
      return observed;
    }
    const snapshot = this.snapshots.get(key);
    if (snapshot && Date.now() - snapshot.at < this.options.observeCacheMs) {
      const view = await this.readGroups();
      return { ...snapshot.observed, ...observed, addresses: snapshot.observed.addresses, groups: view.groups, externalGroups: view.external, fromCache: true };
    }
    // The phase that just finished changed only these: the rest of the read it was planned from stands
    // (readAt stays that read's time, so observeCacheMs bounds it).
    const partial = this.partialReads.get(key);
    this.partialReads.delete(key);
    if (partial?.base.readAt !== undefined && Date.now() - partial.base.readAt < this.options.observeCacheMs) {
      const { pendingOperations: _p, groupZonesBusy: _z, groupGeneration: _g, failures: _f, ...kept } = partial.base;
      const next: GcpObserved = { ...kept, ...observed, addresses: kept.addresses, readAt: partial.base.readAt };
      await this.readResources(next, partial.touched, false);
      return next;
    }
    const all: ResourceSlot[] = ['healthCheck', 'backendService', 'forwardingRule', 'firewall', 'healthCheckFirewall', 'address'];
    if (this.ipv6Services.has(key)) all.push('forwardingRuleV6', 'firewallV6', 'healthCheckFirewallV6');
    await this.readResources(observed, new Set(all), true);
    observed.readAt = Date.now();
    return observed;
  }

  /** Reads these of the Service's own resources into `observed` (absent ones removed), and the shared groups. */
  private async readResources(observed: GcpObserved, slots: Set<ResourceSlot>, full: boolean): Promise<void> {
    const { ref, name } = observed;
    const cluster = this.settings.clusterName;
    const mine = (d: string | null | undefined) => ownershipMatches(d, cluster, ref.uid);
    /** Reads one resource into its field; an absent one removes the field. */
    const into = async <R, V>(field: Exclude<ResourceSlot, 'address'>, read: Promise<R | undefined>, view: (r: R, m: typeof mine) => V) => {
      const found = await read;
      if (found === undefined) delete observed[field];
      else Object.assign(observed, { [field]: view(found, mine) });
    };
    const readers: Record<Exclude<ResourceSlot, 'address'>, () => Promise<void>> = {
      healthCheck: () => into('healthCheck', this.api.getHealthCheck(name), observedHealthCheck),
      backendService: () => into('backendService', this.api.getBackendService(name), observedBackendService),
      forwardingRule: () => into('forwardingRule', this.api.getForwardingRule(name), observedForwardingRule),
      firewall: () => into('firewall', this.api.getFirewall(serviceFirewallName(name)), observedFirewall),
      healthCheckFirewall: () => into('healthCheckFirewall', this.api.getFirewall(healthCheckFirewallName(name)), observedFirewall),
      forwardingRuleV6: () => into('forwardingRuleV6', this.api.getForwardingRule(ipv6Twin(name)), observedForwardingRule),
      firewallV6: () => into('firewallV6', this.api.getFirewall(ipv6Twin(serviceFirewallName(name))), observedFirewall),
      healthCheckFirewallV6: () => into('healthCheckFirewallV6', this.api.getFirewall(ipv6Twin(healthCheckFirewallName(name))), observedFirewall),
    };
    // Our own address is always read fresh with the list; the list only serves to find a loadBalancerIP's owner.
    const readAddresses = async () => {
      const region = this.readAddresses();
      const [own, listed] = await Promise.all([this.api.getAddress(name), region.list]);
      if (region.cached) observed.addressListCached = true;
      else delete observed.addressListCached;
      observed.addresses = observedAddresses([...listed.filter((a) => a.name !== name), ...(own ? [own] : [])], cluster, ref.uid);
    };
    const [groups] = await Promise.all([
      this.readGroups(),
      ...[...slots].map((slot) => (slot === 'address' ? readAddresses() : readers[slot]())),
    ]);
    if (full && slots.has('forwardingRuleV6')) observed.ipv6Read = true;
    observed.groups = groups.groups;
    observed.externalGroups = groups.external;
  }

  // ---- diff --------------------------------------------------------------------------------

  diff(observed: GcpObserved | undefined, desired: DesiredLoadBalancer): GcpPlan {
    const seen: GcpObserved = observed ?? {
      ref: desired.ref,
      name: loadBalancerName(desired.ref.uid),
      pendingOperations: [],
      groupZonesBusy: [],
      groupGeneration: -1,
      failures: [],
      addresses: [],
      groups: [],
      externalGroups: [],
    };
    const freshRead = (addresses: boolean, waiting: string, ipv6 = false): GcpPlan => ({
      ref: desired.ref,
      name: seen.name,
      creating: false,
      groupGeneration: seen.groupGeneration,
      waiting,
      wait: { kind: 'freshRead', addresses, ...(ipv6 ? { ipv6 } : {}) },
      actions: [],
    });
    // The IPv6 twins are read only for Services that want dual-stack or whose status shows they had it.
    const hadIPv6 = desired.currentIngress.some((i) => i.ip?.includes(':') === true);
    if ((seen.readAt !== undefined || seen.fromCache) && !seen.ipv6Read && (wantsDualStack(desired) || hadIPv6))
      return freshRead(false, 'a read of the IPv6 forwarding rule and firewalls', true);
    if (seen.fromCache) {
      // A cached view is trusted only to confirm the load balancer and to plan membership.
      let cachedPlan: GcpPlan | undefined;
      try {
        cachedPlan = planActions(seen, desired, this.settings, this.groupName);
      } catch {
        cachedPlan = undefined;
      }
      const decided = cachedPlan?.ingressIP !== undefined && cachedPlan.actions.every((a) => !a.mutating || a.membershipOnly === true);
      if (!cachedPlan || !decided) return freshRead(false, 'a fresh read of the load balancer from Compute before planning this change');
    }
    let plan: GcpPlan;
    try {
      plan = planActions(seen, desired, this.settings, this.groupName);
    } catch (error) {
      // An address reserved since the shared list was read: list again before saying it is not there.
      if (error instanceof ServiceConfigError && (error.field === 'spec.loadBalancerIP' || error.field.includes(IP_ADDRESSES_ANNOTATION)) && seen.addressListCached)
        return freshRead(true, `a fresh list of the region's addresses to find ${desired.loadBalancerIP}`);
      throw error;
    }
    // A shared group with an operation running: its membership is in motion, wait for it. So does a
    // backend service that uses it (Compute answers resourceNotReady meanwhile).
    const busyZones = new Set<string>();
    for (const a of plan.actions) for (const z of zonesTouched(a.step)) if (seen.groupZonesBusy.includes(z)) busyZones.add(z);
    if (busyZones.size > 0) {
      const zones = [...busyZones].sort();
      const { actions: _waitingFor, fullRead: _unused, ...rest } = plan;
      return {
        ...rest,
        actions: [],
        waiting: `the running instance group operation in ${zones.join(', ')}`,
        // Only membership changes wait, on a load balancer that serves: it serves meanwhile.
        wait: { kind: 'operations', zones, groupsOnly: true, servingMeanwhile: isMembershipOnly(plan) },
      };
    }
    if (!seen.fromCache && seen.readAt !== undefined && this.options.observeCacheMs > 0) plan.fullRead = seen;
    return plan;
  }

  // ---- apply -------------------------------------------------------------------------------

  private inProgress(reason: string): ApplyResult {
    return { state: 'inProgress', retryAfterMs: this.options.pollIntervalMs, reason };
  }

  /** Starts one step; answers its operation, or undefined when there is nothing to wait for. */
  private async startStep(step: Step, generation: number): Promise<{ ref: OperationRef; zone?: string } | undefined> {
    const api = this.api;
    const s = this.settings;
    switch (step.op) {
      case 'insertAddress':
        return { ref: await api.insertAddress(step.body) };
      case 'deleteAddress':
        return { ref: await api.deleteAddress(step.name) };
      case 'insertHealthCheck':
        return { ref: await api.insertHealthCheck(step.body) };
      case 'updateHealthCheck':
        return { ref: await api.updateHealthCheck(step.body) };
      case 'insertFirewall':
        return { ref: await api.insertFirewall(step.body) };
      case 'updateFirewall':
        return { ref: await api.updateFirewall(step.body) };
      case 'deleteFirewall':
        return { ref: await api.deleteFirewall(step.name) };
      case 'insertBackendService':
        return { ref: await api.insertBackendService(step.body) };
      case 'updateBackendService': {
        // Read it again right before the PUT: its fingerprint must be current (backendServiceUpdate.ts).
        const current = await api.getBackendService(step.body.name);
        if (!current) return undefined; // gone since the plan was made; the next round re-plans
        return { ref: await api.updateBackendService({ ...backendServiceUpdate(current, step.body), name: step.body.name }) };
      }
      case 'deleteBackendService':
        return { ref: await api.deleteBackendService(step.name) };
      case 'insertForwardingRule': {
        // The IPv6 twin takes an ephemeral address; an IPv4 rule waits for its reserved one.
        if (step.body.IPAddress === '' && step.body.ipVersion !== 'IPV6') return undefined;
        return { ref: await api.insertForwardingRule(step.body) };
      }
      case 'deleteForwardingRule':
        return { ref: await api.deleteForwardingRule(step.name) };
      case 'patchForwardingRule':
        return { ref: await api.patchForwardingRule(step.name, { allowGlobalAccess: step.allowGlobalAccess }) };
      case 'insertInstanceGroup':
      case 'addInstances':
      case 'removeInstances': {
        // Shared by every Service: one operation per zone at a time, whoever asks first, and only
        // from a plan that saw the groups as they are now.
        if (generation !== this.groupGeneration || !this.tracker.claimZone(step.zone)) return undefined;
        const net = networkUrl(s);
        let ref: OperationRef;
        try {
          ref =
            step.op === 'insertInstanceGroup'
              ? await api.insertInstanceGroup(step.zone, this.groupName, clusterDescription(s.clusterName), net)
              : step.op === 'addInstances'
                ? await api.addInstances(step.zone, this.groupName, step.instances)
                : await api.removeInstances(step.zone, this.groupName, step.instances);
        } finally {
          this.tracker.releaseZone(step.zone);
        }
        this.tracker.addForZone(step.zone, ref);
        this.groupsChanged();
        return { ref, zone: step.zone };
      }
    }
  }

  /** Nodes left out (subnet, group cap): a Warning Event when that changes. */
  private reportNotices(key: string, plan: GcpPlan): void {
    const text = (plan.notices ?? []).join('; ');
    if (text === (this.reportedNotices.get(key) ?? '')) return;
    this.reportedNotices.set(key, text);
    if (text !== '') this.ctx?.emit({ ref: plan.ref, type: 'Warning', reason: 'LoadBalancerNodesLeftOut', message: text });
  }

  /** The load balancer serves while shared groups change: ready, and the controller looks again. */
  private servingWhile(plan: GcpPlan, ingress: LoadBalancerIngress[], reason: string): ApplyResult {
    return { ...ready(plan, ingress), settling: { retryAfterMs: this.options.pollIntervalMs, reason } };
  }

  async apply(plan: GcpPlan): Promise<ApplyResult> {
    const key = serviceKeyOf(plan.ref);
    if (plan.wait?.kind === 'freshRead') {
      this.snapshots.delete(key);
      this.partialReads.delete(key);
      if (plan.wait.addresses) this.addressCache = undefined;
      if (plan.wait.ipv6) this.ipv6Services.add(key);
      return { state: 'inProgress', retryAfterMs: 0, reason: `waiting for ${plan.waiting}` };
    }
    this.reportNotices(key, plan);
    const ingress = servingIngress(plan);
    if (plan.wait) {
      if (plan.wait.servingMeanwhile && ingress) return this.servingWhile(plan, ingress, `waiting for ${plan.waiting}`);
      if (plan.wait.zones) this.zoneWaiters.set(key, plan.wait.zones);
      return this.inProgress(`waiting for ${plan.waiting}`);
    }
    const membershipOnly = isMembershipOnly(plan);
    const steps = currentPhase(plan);
    if (steps.length === 0) {
      if (ingress) {
        // Converged: the read this plan was made from is the view later node changes plan from.
        const read = plan.fullRead;
        if (read?.readAt !== undefined) this.snapshots.set(key, { at: read.readAt, observed: read });
        // Single-stack with no twin left: stop reading twins.
        if (read?.ipv6Read && !plan.dualStack && !read.forwardingRuleV6 && !read.firewallV6 && !read.healthCheckFirewallV6) this.ipv6Services.delete(key);
        return ready(plan, ingress);
      }
      return this.inProgress('waiting for the forwarding rule');
    }
    const requestedIP = plan.actions.some((a) => a.step?.op === 'insertForwardingRule' && a.step.userAddress);
    const results = await Promise.allSettled(steps.map((a) => this.startStep(a.step!, plan.groupGeneration)));
    const problems: ServiceConfigError[] = [];
    let other: unknown;
    const touched = new Set<ResourceSlot>();
    let partialStands = plan.fullRead !== undefined;
    results.forEach((r, i) => {
      const step = steps[i]!.step!;
      if (r.status === 'fulfilled') {
        if (r.value && r.value.zone === undefined) {
          this.tracker.addForService(key, r.value.ref, fieldOf(step, undefined, requestedIP));
          this.snapshots.delete(key);
          for (const slot of slotsOf(step, plan.name)) touched.add(slot);
        }
        // A step of ours that did not start found things otherwise than planned: read everything again.
        if (!r.value && !('zone' in step)) partialStands = false;
        // This Service's next phase needs the group change done: wait for it without re-reading.
        if (r.value?.zone !== undefined && !membershipOnly) this.zoneWaiters.set(key, [...(this.zoneWaiters.get(key) ?? []), r.value.zone]);
        return;
      }
      const failure = classifyStepFailure(step, steps[i]!.description, r.reason, requestedIP);
      if (failure.kind === 'groupsStale') this.groupsChanged();
      else if (failure.kind === 'config') problems.push(failure.error);
      else if (failure.kind === 'other') other ??= failure.error;
    });
    if (problems.length > 0 || other !== undefined || results.some((r) => r.status === 'rejected')) partialStands = false;
    if (partialStands && touched.size > 0) this.partialReads.set(key, { base: plan.fullRead!, touched });
    else this.partialReads.delete(key);
    if (problems.length > 0 || other !== undefined) this.snapshots.delete(key);
    if (problems.length > 0) throw problems[0];
    if (other !== undefined) throw other;
    const started = steps.map((a) => a.description).join('; ');
    if (membershipOnly) return this.servingWhile(plan, ingress!, started);
    return this.inProgress(started);
  }

  // ---- delete ------------------------------------------------------------------------------

  private async startOwned(key: string, starts: Array<() => Promise<OperationRef>>): Promise<void> {
    const results = await Promise.allSettled(starts.map((s) => s()));
    for (const r of results) {
      if (r.status === 'fulfilled') this.tracker.addForService(key, r.value, 'metadata');
      else if (!isNotFound(r.reason)) throw r.reason;
    }
  }

  async delete(ref: ServiceRef): Promise<DeleteResult> {
    const key = serviceKeyOf(ref);
    this.snapshots.delete(key);
    this.reportedNotices.delete(key);
    this.zoneWaiters.delete(key);
    this.ipv6Services.delete(key);
    this.partialReads.delete(key);
    const running = await this.tracker.pollService(key);
    await this.pollGroupOperations();
    // A failed delete operation is an error of this reconcile (a Warning Event), tried again after the backoff.
    const failure = this.tracker.takeFailures(key)[0];
    if (failure) throw new Error(`GCP failed to ${failure.action} (HTTP ${failure.status}): ${failure.message}`);
    if (running.length > 0) return { state: 'inProgress', retryAfterMs: this.options.pollIntervalMs, reason: running.map((r) => r.description).join('; ') };

    const name = loadBalancerName(ref.uid);
    const cluster = this.settings.clusterName;
    const mine = (d: string | null | undefined) => ownershipMatches(d, cluster, ref.uid);
    // The -ipv6 twins are looked for whatever the Service asked last: they may be left from a dual-stack past.
    const [fr, bs, hc, fw, hcFw, address, fr6, fw6, hcFw6] = await Promise.all([
      this.api.getForwardingRule(name),
      this.api.getBackendService(name),
      this.api.getHealthCheck(name),
      this.api.getFirewall(serviceFirewallName(name)),
      this.api.getFirewall(healthCheckFirewallName(name)),
      this.api.getAddress(name),
      this.api.getForwardingRule(ipv6Twin(name)),
      this.api.getFirewall(ipv6Twin(serviceFirewallName(name))),
      this.api.getFirewall(ipv6Twin(healthCheckFirewallName(name))),
    ]);
    const notMine = [fr, bs, hc, fw, hcFw, address, fr6, fw6, hcFw6].filter((r) => r && !mine(r.description)).map((r) => r!.name);
    if (notMine.length > 0) this.options.logger.warn({ service: key, resources: notMine }, 'resources with this load balancer name are not owned by this Service; left alone');
    const inProgress = (what: string): DeleteResult => ({ state: 'inProgress', retryAfterMs: this.options.pollIntervalMs, reason: what });

    // Phase 1: the forwarding rule (it holds the address and the backend service) and the firewalls.
    const first: Array<() => Promise<OperationRef>> = [];
    for (const rule of [fr, fr6]) if (rule && mine(rule.description)) first.push(() => this.api.deleteForwardingRule(rule.name!));
    for (const firewall of [fw, hcFw, fw6, hcFw6]) if (firewall && mine(firewall.description)) first.push(() => this.api.deleteFirewall(firewall.name!));
    if (first.length > 0) {
      await this.startOwned(key, first);
      return inProgress('deleting the forwarding rule and firewalls');
    }
    // Phase 2: the backend service and our own address (a user's static address is never released).
    const second: Array<() => Promise<OperationRef>> = [];
    if (bs && mine(bs.description)) second.push(() => this.api.deleteBackendService(name));
    if (address && mine(address.description)) second.push(() => this.api.deleteAddress(name));
    if (second.length > 0) {
      await this.startOwned(key, second);
      return inProgress('deleting the backend service and address');
    }
    // Phase 3: the health check, once nothing references it.
    if (hc && mine(hc.description)) {
      await this.startOwned(key, [() => this.api.deleteHealthCheck(name)]);
      return inProgress('deleting the health check');
    }
    // The shared instance groups are not this Service's: sweep() deletes them once nobody uses them.
    return { state: 'deleted' };
  }

  // ---- garbage collection ------------------------------------------------------------------

  /**
   * Deletes the cluster's instance groups when no Service wants a load balancer and no backend
   * service uses them. Each zone's delete is an operation: a later sweep sees it finished.
   */
  async sweep(): Promise<void> {
    await this.pollGroupOperations();
    await this.removeUnusedGroups();
  }

  private async removeUnusedGroups(): Promise<void> {
    if ((this.ctx?.listServices().length ?? 0) > 0) return;
    const [services, groups] = await Promise.all([this.api.listBackendServices(), this.api.findInstanceGroups((n) => n === this.groupName)]);
    const usedZones = new Set(services.flatMap((b) => (b.backends ?? []).filter((x) => lastSegment(x.group) === this.groupName).map((x) => /zones\/([^/]+)\//.exec(x.group ?? '')?.[1])));
    for (const g of groups) {
      const zone = lastSegment(g.zone);
      if (!ownershipMatches(g.description, this.settings.clusterName) || usedZones.has(zone)) continue;
      if (!this.tracker.claimZone(zone)) continue;
      try {
        this.tracker.addForZone(zone, await this.api.deleteInstanceGroup(zone, this.groupName));
        this.groupsChanged();
      } catch (error) {
        this.tracker.releaseZone(zone);
        if (!isNotFound(error)) throw error;
      }
    }
  }

  async listOwned(): Promise<ServiceRef[]> {
    const [hcs, bss, frs, addrs, fws] = await Promise.all([
      this.api.listHealthChecks(),
      this.api.listBackendServices(),
      this.api.listForwardingRules(),
      this.api.listAddresses(),
      this.api.listFirewalls(),
    ]);
    const found = new Map<string, ServiceRef>();
    for (const r of [...hcs, ...bss, ...frs, ...addrs, ...fws]) {
      const o = parseOwnership(r.description);
      if (o.cluster !== this.settings.clusterName || !o.service?.uid) continue;
      const lb = loadBalancerName(o.service.uid);
      if (r.name !== lb && r.name !== ipv6Twin(lb) && !(r.name ?? '').startsWith('k8s-')) continue;
      found.set(o.service.uid, o.service);
    }
    return [...found.values()];
  }
}
