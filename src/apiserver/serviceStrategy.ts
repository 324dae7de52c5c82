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
  const ranges = store.clusterIpRanges;
  const familyErrors = settleIpFamilies(spec, old, ranges.map((r) => r.family));
  if (familyErrors.length > 0) return { errors: familyErrors };
  const taken: Taken = { ips: [], ports: [] };
  const rollback = (): void => {
    for (const ip of taken.ips) rangeOf(store, ip)?.release(ip);
    for (const p of taken.ports) store.nodePorts.release(p);
  };
  const oldIps = new Set(allocatedIps(old));
  const oldPorts = new Set(allocatedPorts(old));
  try {
    if (spec.type !== 'ExternalName' && spec.clusterIP !== 'None') {
      // One cluster IP per settled family, in the order of ipFamilies; asked-for ones are honoured.
      const asked = spec.clusterIPs ?? [];
      spec.clusterIPs = (spec.ipFamilies ?? []).map((family, i) => {
        const range = ranges.find((r) => r.family === family)!;
        const ip = asked[i];
        if (!ip) {
          const next = range.allocateNext(owner);
          taken.ips.push(next);
          return next;
        }
        if (!oldIps.has(ip)) {
          try {
            range.allocateSpecific(ip, owner);
          } catch (e) {
            if (e instanceof AllocationError) throw { field: 'spec.clusterIPs', value: asked, message: e.message };
            throw e;
          }
          taken.ips.push(ip);
        }
        return ip;
      });
      spec.clusterIP = spec.clusterIPs[0]!;
    }
    if (spec.type === 'ExternalName') {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    if (needsNodePorts(spec)) {
      (spec.ports ?? []).forEach((p, i) => {
        if (p.nodePort) {
          if (oldPorts.has(p.nodePort) || taken.ports.includes(p.nodePort)) return;
          try {
            store.nodePorts.allocateSpecific(p.nodePort, owner);
          } catch (e) {
            if (e instanceof AllocationError) throw { field: `spec.ports[${i}].nodePort`, value: p.nodePort, message: e.message };
            throw e;
          }
          taken.ports.push(p.nodePort);
        } else {
          // The same port number for another protocol of this Service shares its NodePort.
          const sibling = spec.ports!.find((q) => q !== p && q.port === p.port && q.nodePort);
          if (sibling?.nodePort) p.nodePort = sibling.nodePort;
          else {
            p.nodePort = store.nodePorts.allocateNext(owner);
            taken.ports.push(p.nodePort);
          }
        }
      });
    }
    if (needsHealthCheckNodePort(spec)) {
      if (spec.healthCheckNodePort) {
        if (!oldPorts.has(spec.healthCheckNodePort)) {
          try {
            store.nodePorts.allocateSpecific(spec.healthCheckNodePort, owner);
          } catch (e) {
            if (e instanceof AllocationError) throw { field: 'spec.healthCheckNodePort', value: spec.healthCheckNodePort, message: e.message };
            throw e;
          }
          taken.ports.push(spec.healthCheckNodePort);
        }
      } else {
        spec.healthCheckNodePort = store.nodePorts.allocateNext(owner);
        taken.ports.push(spec.healthCheckNodePort);
      }
    }
  } catch (e) {
    rollback();
    // A full range is a server-side failure in Kubernetes (500), not an invalid Service.
    if (e instanceof AllocationError) throw internalError(`failed to allocate a ${e.message.includes('serviceIP') ? 'serviceIP' : 'nodePort'}: range is full`);
    const f = e as { field: string; value: unknown; message: string };
    if (typeof f.field === 'string') return { errors: [invalidValue(f.field, f.value, f.message)] };
    throw e;
  }
  const commit = (): void => {
    const keepIps = new Set(allocatedIps(spec));
    const keepPorts = new Set(allocatedPorts(spec));
    for (const ip of oldIps) if (!keepIps.has(ip)) rangeOf(store, ip)?.release(ip);
    for (const p of oldPorts) if (!keepPorts.has(p)) store.nodePorts.release(p);
  };
  return { spec, commit, rollback };
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
