// What happens to a Service on create/update/delete: defaulting, validation, then ClusterIP and
// NodePort allocation. Allocation is all-or-nothing: on any error, what this call took is given back.
import { internalError, invalidValue, type FieldError } from './apiErrors.js';
import type { ObjectStore } from './objectStore.js';
import { AllocationError, type ClusterIpAllocator } from './serviceAllocation.js';
import { defaultServiceSpec, needsHealthCheckNodePort, needsNodePorts, type ServiceSpec } from './serviceDefaults.js';
import { familyOf, settleIpFamilies } from './serviceIpFamilies.js';
import { validateServiceSpec } from './serviceValidation.js';

interface Taken {
  ips: string[];
  ports: number[];
}

function allocatedPorts(spec: ServiceSpec | undefined): number[] {
  if (!spec) return [];
  const ports = (spec.ports ?? []).map((p) => p.nodePort).filter((p): p is number => typeof p === 'number' && p > 0);
  if (spec.healthCheckNodePort) ports.push(spec.healthCheckNodePort);
  return ports;
}

function allocatedIps(spec: ServiceSpec | undefined): string[] {
  if (!spec || spec.type === 'ExternalName') return [];
  return (spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : [])).filter((ip) => ip && ip !== 'None');
}

function rangeOf(store: ObjectStore, ip: string): ClusterIpAllocator | undefined {
  const family = familyOf(ip);
  return store.clusterIpRanges.find((r) => r.family === family);
}

/** An asked-for IP or port that cannot be had: a 422 on its field. */
class FieldProblem extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    message: string,
  ) {
    super(message);
  }
}

/** What one admission takes from the allocators, given back on rollback. */
class Allocation {
  readonly taken: Taken = { ips: [], ports: [] };
  constructor(
    private readonly store: ObjectStore,
    private readonly owner: string,
  ) {}

  nextIp(range: ClusterIpAllocator): string {
    const ip = range.allocateNext(this.owner);
    this.taken.ips.push(ip);
    return ip;
  }

  specificIp(range: ClusterIpAllocator, ip: string, field: string, value: unknown): void {
    this.claim(field, value, () => range.allocateSpecific(ip, this.owner));
    this.taken.ips.push(ip);
  }

  nextPort(): number {
    const port = this.store.nodePorts.allocateNext(this.owner);
    this.taken.ports.push(port);
    return port;
  }

  specificPort(port: number, field: string): void {
    this.claim(field, port, () => this.store.nodePorts.allocateSpecific(port, this.owner));
    this.taken.ports.push(port);
  }

  rollback(): void {
    for (const ip of this.taken.ips) rangeOf(this.store, ip)?.release(ip);
    for (const p of this.taken.ports) this.store.nodePorts.release(p);
  }

  private claim(field: string, value: unknown, take: () => void): void {
    try {
      take();
    } catch (e) {
      if (e instanceof AllocationError) throw new FieldProblem(field, value, e.message);
      throw e;
    }
  }
}

/** One cluster IP per settled family, in the order of ipFamilies; asked-for ones are honoured. */
function allocateClusterIps(spec: ServiceSpec, ranges: readonly ClusterIpAllocator[], oldIps: ReadonlySet<string>, allocation: Allocation): void {
  if (spec.type === 'ExternalName') {
    delete spec.clusterIP;
    delete spec.clusterIPs;
    return;
  }
  if (spec.clusterIP === 'None') return;
  const asked = spec.clusterIPs ?? [];
  spec.clusterIPs = (spec.ipFamilies ?? []).map((family, i) => {
    const range = ranges.find((r) => r.family === family)!;
    const ip = asked[i];
    if (!ip) return allocation.nextIp(range);
    if (!oldIps.has(ip)) allocation.specificIp(range, ip, 'spec.clusterIPs', asked);
    return ip;
  });
  spec.clusterIP = spec.clusterIPs[0]!;
}

function allocateNodePorts(spec: ServiceSpec, oldPorts: ReadonlySet<number>, allocation: Allocation): void {
  if (needsNodePorts(spec)) {
    (spec.ports ?? []).forEach((p, i) => {
      if (p.nodePort) {
        if (!oldPorts.has(p.nodePort) && !allocation.taken.ports.includes(p.nodePort)) allocation.specificPort(p.nodePort, `spec.ports[${i}].nodePort`);
        return;
      }
      // The same port number for another protocol of this Service shares its NodePort.
      const sibling = spec.ports!.find((q) => q !== p && q.port === p.port && q.nodePort);
      p.nodePort = sibling?.nodePort ?? allocation.nextPort();
    });
  }
  if (needsHealthCheckNodePort(spec)) {
    if (!spec.healthCheckNodePort) spec.healthCheckNodePort = allocation.nextPort();
    else if (!oldPorts.has(spec.healthCheckNodePort)) allocation.specificPort(spec.healthCheckNodePort, 'spec.healthCheckNodePort');
  }
}

/**
 * Default, validate and allocate the spec of a Service being created (old undefined) or updated.
 * Returns field errors (nothing allocated then) or the final spec plus a function that gives back
 * what the old spec held and the new one no longer does (call it once the write is committed).
 */
export function admitServiceSpec(
  store: ObjectStore,
  owner: string,
  input: ServiceSpec | undefined,
  old: ServiceSpec | undefined,
): { errors: FieldError[] } | { spec: ServiceSpec; commit: () => void; rollback: () => void } {
  const spec = defaultServiceSpec(input, old);
  const errors = validateServiceSpec(spec, old);
  if (errors.length > 0) return { errors };
  const familyErrors = settleIpFamilies(spec, old, store.clusterIpRanges.map((r) => r.family));
  if (familyErrors.length > 0) return { errors: familyErrors };
  const allocation = new Allocation(store, owner);
  const oldIps = new Set(allocatedIps(old));
  const oldPorts = new Set(allocatedPorts(old));
  try {
    allocateClusterIps(spec, store.clusterIpRanges, oldIps, allocation);
    allocateNodePorts(spec, oldPorts, allocation);
  } catch (e) {
    allocation.rollback();
    // A full range is a server-side failure in Kubernetes (500), not an invalid Service.
    if (e instanceof AllocationError) throw internalError(`failed to allocate a ${e.message.includes('serviceIP') ? 'serviceIP' : 'nodePort'}: range is full`);
    if (e instanceof FieldProblem) return { errors: [invalidValue(e.field, e.value, e.message)] };
    throw e;
  }
  const commit = (): void => {
    const keepIps = new Set(allocatedIps(spec));
    const keepPorts = new Set(allocatedPorts(spec));
    for (const ip of oldIps) if (!keepIps.has(ip)) rangeOf(store, ip)?.release(ip);
    for (const p of oldPorts) if (!keepPorts.has(p)) store.nodePorts.release(p);
  };
  return { spec, commit, rollback: () => allocation.rollback() };
}

/** Give back everything a deleted Service held. */
export function releaseService(store: ObjectStore, spec: ServiceSpec | undefined): void {
  for (const ip of allocatedIps(spec)) rangeOf(store, ip)?.release(ip);
  for (const p of allocatedPorts(spec)) store.nodePorts.release(p);
}

/** Rebuild allocator state from stored Services (a server restarted on an existing store). */
export function reserveService(store: ObjectStore, owner: string, spec: ServiceSpec | undefined): void {
  for (const ip of allocatedIps(spec)) {
    try {
      (rangeOf(store, ip) ?? store.clusterIps)?.allocateSpecific(ip, owner);
    } catch {
      // Outside a new service CIDR: keep the Service as it is.
    }
  }
  for (const p of allocatedPorts(spec)) {
    try {
      store.nodePorts.allocateSpecific(p, owner);
    } catch {
      // Already reserved by this owner or out of range.
    }
  }
}
