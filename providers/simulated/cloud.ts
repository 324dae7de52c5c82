// An in-memory cloud with a load-balancer API shaped like a real one: per-call latency, a
// server-side rate limit on mutating calls (answering Throttling), injected faults (5xx, timeouts),
// idempotent creation by client token, ownership tags, and an account of every call.
import type { HealthCheckSpec, Protocol } from '../provider.js';
import { AddressPool } from './addressPool.js';

export type CloudErrorCode =
  | 'Throttling'
  | 'InternalError'
  | 'RequestTimeout'
  | 'NotFound'
  | 'AddressNotOwned'
  | 'AddressInUse'
  | 'AddressPoolExhausted';

export class CloudError extends Error {
  constructor(
    readonly code: CloudErrorCode,
    readonly status: number,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'CloudError';
  }
}

export interface Listener {
  protocol: Protocol;
  port: number;
  nodePort: number;
}

export interface Target {
  name: string;
  ip: string;
}

/** Client-IP affinity as the simulated cloud records it; absent means None. Forwarding ignores it. */
export interface SessionAffinityAttribute {
  type: 'None' | 'ClientIP';
  timeoutSeconds?: number;
}

export interface LoadBalancerAttributes {
  healthCheck: HealthCheckSpec;
  sourceRanges: string[];
  idleTimeoutSeconds: number;
  sessionAffinity?: SessionAffinityAttribute;
}

export interface CloudLoadBalancer extends LoadBalancerAttributes {
  id: string;
  clientToken: string;
  tags: Record<string, string>;
  address: string;
  state: 'provisioning' | 'active';
  listeners: Listener[];
  targets: Target[];
}

export interface CreateLoadBalancerInput extends LoadBalancerAttributes {
  clientToken: string;
  tags: Record<string, string>;
  requestedAddress?: string;
  listeners: Listener[];
  targets: Target[];
}

export interface CallRecord {
  operation: string;
  mutating: boolean;
  outcome: 'ok' | 'error' | 'throttled';
  at: number;
}

/** lostReply: the call takes effect but the answer is lost (a 5xx), as after a network cut. */
export type FaultKind = '5xx' | 'timeout' | 'throttle' | 'lostReply';

export interface CloudOptions {
  addressPool: string;
  staticAddresses?: string[];
  latencyMs?: number;
  mutatingCallsPerSecond?: number;
  provisioningMs?: number;
  faults?: { errorRate?: number; timeoutRate?: number; timeoutMs?: number };
  random?: () => number;
  now?: () => number;
}

/** Observes every change to a load balancer (the TCP forwarder uses it). */
export type CloudListener = (lb: CloudLoadBalancer | undefined, id: string) => void;

export class SimulatedCloud {
  /** The most recent calls (the last 10,000); stats() counts all of them. */
  readonly calls: CallRecord[] = [];
  private readonly totals = { total: 0, mutating: 0, throttled: 0, errors: 0, byOperation: {} as Record<string, number> };
  private readonly lbs = new Map<string, CloudLoadBalancer & { readyAt: number }>();
  private readonly byToken = new Map<string, string>();
  private readonly pool: AddressPool;
  private readonly recentMutations: number[] = [];
  private readonly scripted: Array<{ operation?: string; kind: FaultKind; remaining: number }> = [];
  private readonly listeners = new Set<CloudListener>();
  private nextId = 1;
  private readonly random: () => number;
  private readonly now: () => number;

  constructor(private readonly options: CloudOptions) {
    this.pool = new AddressPool(options.addressPool, options.staticAddresses ?? []);
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  /** The next `count` calls (of `operation`, or any) fail with `kind`. */
  injectFault(fault: { operation?: string; kind: FaultKind; count: number }): void {
    this.scripted.push({ operation: fault.operation, kind: fault.kind, remaining: fault.count });
  }

  clearFaults(): void {
    this.scripted.length = 0;
  }

  setLatency(ms: number): void {
    this.options.latencyMs = ms;
  }

  onChange(listener: CloudListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Everything that exists, without accounting (for tests and the playground). */
  snapshot(): CloudLoadBalancer[] {
    return [...this.lbs.values()].map(copy);
  }

  stats(): { total: number; mutating: number; throttled: number; errors: number; byOperation: Record<string, number> } {
    return { ...this.totals, byOperation: { ...this.totals.byOperation } };
  }

  /** A load balancer somebody else made (no ownership tags of ours); tests check we never touch it. */
  createForeign(tags: Record<string, string>): CloudLoadBalancer {
    const address = this.pool.allocate() ?? '0.0.0.0';
    const lb = this.store({
      id: `lb-${this.nextId++}`,
      clientToken: `foreign-${this.nextId}`,
      tags,
      address,
      state: 'active',
      listeners: [],
      targets: [],
      healthCheck: { protocol: 'TCP', port: 80 },
      sourceRanges: [],
      idleTimeoutSeconds: 60,
      readyAt: 0,
    });
    return copy(lb);
  }

  // ---- the API ---------------------------------------------------------------------------

  describeLoadBalancers(filter: { tags: Record<string, string> }): Promise<CloudLoadBalancer[]> {
    return this.call('DescribeLoadBalancers', false, () =>
      [...this.lbs.values()].filter((lb) => Object.entries(filter.tags).every(([k, v]) => lb.tags[k] === v)).map((lb) => copy(this.refresh(lb))),
    );
  }

  createLoadBalancer(input: CreateLoadBalancerInput): Promise<CloudLoadBalancer> {
    return this.call('CreateLoadBalancer', true, () => {
      // Idempotent by client token: a retry after a lost answer gets the same load balancer.
      const existingId = this.byToken.get(input.clientToken);
      const existing = existingId ? this.lbs.get(existingId) : undefined;
      if (existing) return copy(this.refresh(existing));
      let address: string | undefined;
      if (input.requestedAddress) {
        if (!this.pool.owns(input.requestedAddress)) throw new CloudError('AddressNotOwned', 400, `address ${input.requestedAddress} is not owned by this account`);
        if (!this.pool.claim(input.requestedAddress)) throw new CloudError('AddressInUse', 409, `address ${input.requestedAddress} is in use`);
        address = input.requestedAddress;
      } else {
        address = this.pool.allocate();
        if (!address) throw new CloudError('AddressPoolExhausted', 409, 'no free address in the pool');
      }
      const provisioningMs = this.options.provisioningMs ?? 0;
      const lb = this.store({
        id: `lb-${this.nextId++}`,
        clientToken: input.clientToken,
        tags: { ...input.tags },
        address,
        state: provisioningMs > 0 ? 'provisioning' : 'active',
        listeners: input.listeners.map((l) => ({ ...l })),
        targets: input.targets.map((t) => ({ ...t })),
        healthCheck: { ...input.healthCheck },
        sourceRanges: [...input.sourceRanges],
        idleTimeoutSeconds: input.idleTimeoutSeconds,
        ...(input.sessionAffinity ? { sessionAffinity: { ...input.sessionAffinity } } : {}),
        readyAt: this.now() + provisioningMs,
      });
      return copy(lb);
    });
  }

  modifyListeners(id: string, listeners: Listener[]): Promise<void> {
    return this.call('ModifyListeners', true, () => {
      this.mutate(id, (lb) => (lb.listeners = listeners.map((l) => ({ ...l }))));
    });
  }

  modifyAttributes(id: string, attributes: LoadBalancerAttributes): Promise<void> {
    return this.call('ModifyLoadBalancerAttributes', true, () => {
      this.mutate(id, (lb) => {
        lb.healthCheck = { ...attributes.healthCheck };
        lb.sourceRanges = [...attributes.sourceRanges];
        lb.idleTimeoutSeconds = attributes.idleTimeoutSeconds;
        if (attributes.sessionAffinity) lb.sessionAffinity = { ...attributes.sessionAffinity };
        else delete lb.sessionAffinity;
      });
    });
  }

  registerTargets(id: string, targets: Target[]): Promise<void> {
    return this.call('RegisterTargets', true, () => {
      this.mutate(id, (lb) => {
        const names = new Set(targets.map((t) => t.name));
        lb.targets = [...lb.targets.filter((t) => !names.has(t.name)), ...targets.map((t) => ({ ...t }))];
      });
    });
  }

  deregisterTargets(id: string, names: string[]): Promise<void> {
    return this.call('DeregisterTargets', true, () => {
      const drop = new Set(names);
      this.mutate(id, (lb) => (lb.targets = lb.targets.filter((t) => !drop.has(t.name))));
    });
  }

  deleteLoadBalancer(id: string): Promise<void> {
    return this.call('DeleteLoadBalancer', true, () => {
      const lb = this.lbs.get(id);
      if (!lb) throw new CloudError('NotFound', 404, `load balancer ${id} not found`);
      this.lbs.delete(id);
      this.byToken.delete(lb.clientToken);
      this.pool.release(lb.address);
      this.emit(undefined, id);
    });
  }

  // ---- internals -------------------------------------------------------------------------

  private store(lb: CloudLoadBalancer & { readyAt: number }): CloudLoadBalancer & { readyAt: number } {
    this.lbs.set(lb.id, lb);
    this.byToken.set(lb.clientToken, lb.id);
    this.emit(lb, lb.id);
    return lb;
  }

  private refresh(lb: CloudLoadBalancer & { readyAt: number }): CloudLoadBalancer {
    if (lb.state === 'provisioning' && this.now() >= lb.readyAt) {
      lb.state = 'active';
      this.emit(lb, lb.id);
    }
    return lb;
  }

  private mutate(id: string, change: (lb: CloudLoadBalancer) => void): void {
    const lb = this.lbs.get(id);
    if (!lb) throw new CloudError('NotFound', 404, `load balancer ${id} not found`);
    change(lb);
    this.emit(lb, id);
  }

  private emit(lb: CloudLoadBalancer | undefined, id: string): void {
    for (const listener of this.listeners) listener(lb ? copy(lb) : undefined, id);
  }

  private async call<T>(operation: string, mutating: boolean, body: () => T): Promise<T> {
    const record = (outcome: CallRecord['outcome']) => {
      this.calls.push({ operation, mutating, outcome, at: this.now() });
      if (this.calls.length > 10_000) this.calls.splice(0, this.calls.length - 10_000);
      const t = this.totals;
      t.total++;
      if (mutating) t.mutating++;
      if (outcome === 'throttled') t.throttled++;
      if (outcome === 'error') t.errors++;
      t.byOperation[operation] = (t.byOperation[operation] ?? 0) + 1;
    };
    const latency = this.options.latencyMs ?? 0;
    if (latency > 0) await sleep(latency);
    const fault = this.takeFault(operation);
    if (fault === 'timeout') {
      await sleep(this.options.faults?.timeoutMs ?? 1_000);
      record('error');
      throw new CloudError('RequestTimeout', 504, `${operation} timed out`);
    }
    if (fault === '5xx') {
      record('error');
      throw new CloudError('InternalError', 500, `${operation} failed: internal error`);
    }
    if (fault === 'throttle' || (mutating && this.overRateLimit())) {
      record('throttled');
      throw new CloudError('Throttling', 429, `${operation}: rate exceeded`);
    }
    let value: T;
    try {
      value = body();
    } catch (error) {
      record('error');
      throw error;
    }
    if (fault === 'lostReply') {
      record('error');
      throw new CloudError('InternalError', 502, `${operation}: connection reset before the reply`);
    }
    record('ok');
    return value;
  }

  private takeFault(operation: string): FaultKind | undefined {
    const scripted = this.scripted.find((f) => f.remaining > 0 && (f.operation === undefined || f.operation === operation));
    if (scripted) {
      scripted.remaining--;
      return scripted.kind;
    }
    const { errorRate = 0, timeoutRate = 0 } = this.options.faults ?? {};
    const r = this.random();
    if (r < errorRate) return '5xx';
    if (r < errorRate + timeoutRate) return 'timeout';
    return undefined;
  }

  /** A one-second sliding window of accepted mutating calls. */
  private overRateLimit(): boolean {
    const limit = this.options.mutatingCallsPerSecond ?? 0;
    if (limit <= 0) return false;
    const now = this.now();
    while (this.recentMutations.length > 0 && (this.recentMutations[0] ?? 0) <= now - 1_000) this.recentMutations.shift();
    if (this.recentMutations.length >= limit) return true;
    this.recentMutations.push(now);
    return false;
  }
}

function copy(lb: CloudLoadBalancer): CloudLoadBalancer {
  return {
    id: lb.id,
    clientToken: lb.clientToken,
    tags: { ...lb.tags },
    address: lb.address,
    state: lb.state,
    listeners: lb.listeners.map((l) => ({ ...l })),
    targets: lb.targets.map((t) => ({ ...t })),
    healthCheck: { ...lb.healthCheck },
    sourceRanges: [...lb.sourceRanges],
    idleTimeoutSeconds: lb.idleTimeoutSeconds,
    ...(lb.sessionAffinity ? { sessionAffinity: { ...lb.sessionAffinity } } : {}),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
