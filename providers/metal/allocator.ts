// The address allocator: which Service holds which pool address. Pure state and rules, no client:
// the provider feeds it claims (from Services) and asks for assignments.
//
// Rules, as MetalLB's where MetalLB has one:
// - requested addresses (spec.loadBalancerIP or the loadBalancerIPs annotations) must lie in a pool
//   the Service may use, and cover every family the Service has (an IPv4 and an IPv6 address for
//   a dual-stack Service);
// - otherwise the lowest free address of the pool it names, or of the first pool in MetalLB's
//   order: pools whose serviceAllocation admits it, by priority (lower first, 0 last) then name,
//   then auto-assign pools with no serviceAllocation, by name;
// - two Services share an address only if both carry the same allow-shared-ip key, no
//   protocol/port pair is used by both, and under externalTrafficPolicy Local both are Local with
//   the same selector. A sharing Service still takes the lowest free address first, and joins a
//   shared one only when its pools have no free address;
// - families: SingleStack one; PreferDualStack those of spec.ipFamilies (the API server gives one
//   on a single-stack cluster); RequireDualStack both; both from one pool. A dual-stack Service
//   holding one family gets the other from its pool once it has one free, keeping the address;
// - an existing assignment is kept while it stays valid, so nothing reshuffles. Better than
//   MetalLB: an address that left every pool (pool edited or deleted) is kept with a warning
//   until the Service lets it go, and a changed request that cannot be met keeps the old address
//   with a warning instead of dropping it.
import { ServiceConfigError, type IPFamily } from '../provider.js';
import { bigIntToIP, canonicalIP, familyOf, ipToBigInt } from '../../src/metallb/addressRange.js';
import { byName, describePool, isUsable, poolContains, poolRefusal, poolsInOrder, usableCount, type AddressPool } from './addressPools.js';
import type { ServiceClaim } from './serviceClaim.js';

export interface Assignment {
  /** Canonical addresses, primary family first. */
  ips: string[];
  /** The pool of each address, same order ("" for an address kept outside every pool). */
  pools: string[];
  /** Why an address is kept though it should not be (outside every pool, request unmet): Warnings. */
  warnings?: string[];
}

export interface PoolUsage {
  pool: string;
  family: IPFamily;
  assigned: number;
  available: number;
}

interface Holding {
  claim: ServiceClaim;
  assignment: Assignment;
}

const AUTO_FIELD = 'spec.type';

function sameSelector(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

/** Why `claim` may not share an address with `holder`, or undefined when it may. */
export function sharingConflict(claim: ServiceClaim, holder: ServiceClaim): string | undefined {
  if (!holder.sharing) return 'which has no allow-shared-ip annotation';
  if (!claim.sharing) return `which shares it under key "${holder.sharing.key}" while this Service has no allow-shared-ip annotation`;
  if (holder.sharing.key !== claim.sharing.key) {
    return `whose allow-shared-ip key is "${holder.sharing.key}", not "${claim.sharing.key}"`;
  }
  const clash = claim.ports.find((p) => holder.ports.some((q) => q.protocol === p.protocol && q.port === p.port));
  if (clash) return `which also uses ${clash.protocol}/${clash.port}`;
  if (claim.trafficPolicy === 'Local' || holder.trafficPolicy === 'Local') {
    if (claim.trafficPolicy !== holder.trafficPolicy) return 'and externalTrafficPolicy differs (Local must share only with Local)';
    if (!sameSelector(claim.selector, holder.selector)) return 'with externalTrafficPolicy Local and a different selector';
  }
  return undefined;
}

/** The families the Service gets addresses of, primary first. */
function wantedFamilies(claim: ServiceClaim): IPFamily[] {
  const primary = claim.families[0] ?? 'IPv4';
  const both: IPFamily[] = [primary, primary === 'IPv4' ? 'IPv6' : 'IPv4'];
  if (claim.familyPolicy === 'SingleStack') return [primary];
  // PreferDualStack follows spec.ipFamilies, which the API server settled against the cluster.
  if (claim.familyPolicy === 'PreferDualStack') return claim.families.length > 1 ? both : [primary];
  return both;
}

function describeIPs(a: Assignment): string {
  return a.ips.join(', ');
}

export class Allocator {
  private currentPools: AddressPool[];
  private readonly byService = new Map<string, Holding>();
  private readonly holders = new Map<string, Set<string>>();
  private readonly held: Record<IPFamily, Set<bigint>> = { IPv4: new Set(), IPv6: new Set() };
  /** "pool|family" -> addresses held, kept as addresses are taken and freed (usage() is O(pools)). */
  private readonly heldPerPool = new Map<string, number>();

  constructor(pools: AddressPool[]) {
    this.currentPools = [...pools].sort(byName);
  }

  get pools(): readonly AddressPool[] {
    return this.currentPools;
  }

  /**
   * Takes a new set of pools (live reconfiguration). Every assignment is kept as it is: the next
   * plan() of each Service decides whether it still holds (it does while its pool admits it, and
   * an address outside every pool is kept with a warning).
   */
  reconfigure(pools: AddressPool[]): void {
    this.currentPools = [...pools].sort(byName);
    this.heldPerPool.clear();
    for (const ip of this.holders.keys()) this.countHeld(ip, 1);
  }

  /** Addresses held that no pool contains any more, with their holders. */
  outsidePools(): { ip: string; holders: string[] }[] {
    return [...this.holders.entries()].filter(([ip]) => !this.poolOf(ip)).map(([ip, keys]) => ({ ip, holders: [...keys] }));
  }

  assignmentOf(key: string): Assignment | undefined {
    return this.byService.get(key)?.assignment;
  }

  serviceKeys(): string[] {
    return [...this.byService.keys()];
  }

  claimOf(key: string): ServiceClaim | undefined {
    return this.byService.get(key)?.claim;
  }

  /** Services holding `ip`. */
  holdersOf(ip: string): string[] {
    return [...(this.holders.get(ip) ?? [])];
  }

  poolOf(ip: string): AddressPool | undefined {
    return this.pools.find((p) => poolContains(p, ip));
  }

  /** What assign() would give, without changing anything (metal's diff). Throws ServiceConfigError. */
  plan(claim: ServiceClaim): Assignment {
    // What the Service holds, or (not yet adopted, e.g. start() was skipped) what its status says.
    const existing = this.byService.get(claim.key)?.assignment ?? this.fromStatus(claim);
    if (existing) {
      const kept = this.keepable(existing, claim);
      if (kept) {
        const widened = this.withSecondFamily(kept, claim);
        if (widened) return widened;
      }
    }
    try {
      return claim.requested ? this.planRequested(claim) : this.planAuto(claim);
    } catch (error) {
      // A changed request that cannot be met: the Service keeps what it holds, with a warning.
      const held = this.byService.get(claim.key)?.assignment;
      if (!(error instanceof ServiceConfigError) || !held || !held.ips.every((ip) => this.firstConflict(ip, claim) === undefined)) throw error;
      const warning = `${error.message}; keeping ${describeIPs(held)} until this can be met`;
      return { ips: held.ips, pools: held.ips.map((ip) => this.poolOf(ip)?.name ?? ''), warnings: [warning] };
    }
  }

  /**
   * A kept assignment, given the second family when a dual-stack Service holds one: its pool may
   * have gained addresses of the other family, or the Service moved from SingleStack. The address
   * it holds stays (both from its pool). Undefined when RequireDualStack cannot be met there, so
   * the Service is planned afresh (or refused).
   */
  private withSecondFamily(existing: Assignment, claim: ServiceClaim): Assignment | undefined {
    const wanted = wantedFamilies(claim);
    if (claim.requested || wanted.length < 2 || existing.ips.length !== 1 || !existing.pools[0]) return existing;
    const other = wanted[1]!;
    const pool = this.pools.find((p) => p.name === existing.pools[0]);
    const ip = pool && !pool.draining ? this.pick(pool, other, claim) : undefined;
    if (ip !== undefined) return { ...existing, ips: [...existing.ips, ip], pools: [...existing.pools, pool!.name] };
    return claim.familyPolicy === 'PreferDualStack' ? existing : undefined;
  }

  /**
   * Assigns and records. Returns the addresses the Service gave up that nobody holds any more
   * (so the caller can hand them to pending Services).
   */
  assign(claim: ServiceClaim): { assignment: Assignment; freed: string[] } {
    const assignment = this.plan(claim);
    return { assignment, freed: this.take(claim, assignment).freed };
  }

  /**
   * Records `planned`, what plan(claim) answered when a plan was made, if plan(claim) still answers
   * the same addresses from the same pools; undefined when the pools or another Service changed
   * since (plan again). Answers the addresses the Service gave up that nobody holds any more.
   */
  reserve(claim: ServiceClaim, planned: Assignment): { freed: string[] } | undefined {
    const now = this.plan(claim);
    const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
    if (!same(now.ips, planned.ips) || !same(now.pools, planned.pools)) return undefined;
    return this.take(claim, now);
  }

  private take(claim: ServiceClaim, assignment: Assignment): { freed: string[] } {
    const freed = this.release(claim.key).filter((ip) => !assignment.ips.includes(ip));
    this.record(claim, assignment);
    return { freed };
  }

  /**
   * Adopts an assignment found in a Service's status (after a restart). Refuses, answering why,
   * when an address is no longer in any pool, the pool refuses the Service, or it clashes with
   * what was adopted before; the Service is then re-allocated at its next reconcile.
   */
  restore(claim: ServiceClaim, ips: string[]): string | undefined {
    const assignment: Assignment = { ips: [], pools: [] };
    for (const raw of ips) {
      const ip = canonicalIP(raw);
      if (!ip) return `${raw} is not an IP address`;
      const pool = this.poolOf(ip);
      // Outside every pool (the pool went while we were down): kept, and plan() warns about it.
      const refusal = pool ? poolRefusal(pool, claim) : undefined;
      if (refusal) return refusal;
      const conflict = this.firstConflict(ip, claim);
      if (conflict) return conflict;
      assignment.ips.push(ip);
      assignment.pools.push(pool?.name ?? '');
    }
    if (assignment.ips.length === 0) return 'no address';
    this.release(claim.key);
    this.record(claim, assignment);
    return undefined;
  }

  /** Forgets a Service's assignment; answers the addresses nobody holds any more. */
  release(key: string): string[] {
    const holding = this.byService.get(key);
    if (!holding) return [];
    this.byService.delete(key);
    const freed: string[] = [];
    for (const ip of holding.assignment.ips) {
      const set = this.holders.get(ip);
      set?.delete(key);
      if (!set || set.size === 0) {
        this.holders.delete(ip);
        this.held[familyOf(ip)!].delete(ipToBigInt(ip));
        this.countHeld(ip, -1);
        freed.push(ip);
      }
    }
    return freed;
  }

  /** Whether an unassigned Service with `claim` might get `ip` (used to pick whom to requeue). */
  couldUse(claim: ServiceClaim, ip: string): boolean {
    if (claim.requested) return claim.requested.ips.includes(ip);
    const pool = this.poolOf(ip);
    if (!pool || pool.draining || poolRefusal(pool, claim)) return false;
    return claim.pool ? claim.pool.name === pool.name : pool.autoAssign;
  }

  /**
   * Whether the Service `key`, dual-stack and holding one family, could take `ip` as its second
   * (the other family, from the pool of the address it holds): a freed address requeues it.
   */
  couldWiden(key: string, ip: string): boolean {
    const holding = this.byService.get(key);
    if (!holding || holding.claim.requested || holding.claim.familyPolicy === 'SingleStack') return false;
    const { ips, pools } = holding.assignment;
    if (ips.length !== 1 || familyOf(ip) === familyOf(ips[0]!)) return false;
    return this.poolOf(ip)?.name === pools[0];
  }

  usage(): PoolUsage[] {
    const out: PoolUsage[] = [];
    for (const pool of this.pools) {
      for (const family of ['IPv4', 'IPv6'] as const) {
        if (!pool.ranges.some((r) => r.family === family)) continue;
        const assigned = this.heldIn(pool, family);
        const size = usableCount(pool, family);
        out.push({ pool: pool.name, family, assigned, available: Number(size - BigInt(assigned)) });
      }
    }
    return out;
  }

  private countHeld(ip: string, delta: number): void {
    const pool = this.poolOf(ip);
    if (!pool) return;
    const key = `${pool.name}|${familyOf(ip)}`;
    this.heldPerPool.set(key, (this.heldPerPool.get(key) ?? 0) + delta);
  }

  private heldIn(pool: AddressPool, family: IPFamily): number {
    return this.heldPerPool.get(`${pool.name}|${family}`) ?? 0;
  }

  private record(claim: ServiceClaim, assignment: Assignment): void {
    this.byService.set(claim.key, { claim, assignment });
    for (const ip of assignment.ips) {
      let set = this.holders.get(ip);
      if (!set) {
        set = new Set();
        this.holders.set(ip, set);
        this.held[familyOf(ip)!].add(ipToBigInt(ip));
        this.countHeld(ip, 1);
      }
      set.add(claim.key);
    }
  }

  /** The first holder of `ip` (other than the claim's own Service) it may not share with. */
  private firstConflict(ip: string, claim: ServiceClaim): string | undefined {
    for (const key of this.holders.get(ip) ?? []) {
      if (key === claim.key) continue;
      const holder = this.byService.get(key)!;
      const reason = sharingConflict(claim, holder.claim);
      if (reason) return `${ip} is in use by ${key}, ${reason}`;
    }
    return undefined;
  }

  private fromStatus(claim: ServiceClaim): Assignment | undefined {
    if (claim.current.length === 0) return undefined;
    return { ips: [...claim.current], pools: claim.current.map((ip) => this.poolOf(ip)?.name ?? '') };
  }

  /**
   * The part of what the Service holds that it keeps (pools as they are now, warnings for
   * addresses outside every pool), or undefined when it must be planned afresh.
   */
  private keepable(assignment: Assignment, claim: ServiceClaim): Assignment | undefined {
    if (claim.requested) {
      const want = claim.requested.ips;
      if (want.length !== assignment.ips.length || !want.every((ip) => assignment.ips.includes(ip))) return undefined;
    }
    const wanted = wantedFamilies(claim);
    // A family the Service no longer wants (ipFamilies shrank) is dropped; the other is kept.
    const ips = assignment.ips.filter((ip) => wanted.includes(familyOf(ip)!));
    if (ips.length === 0 || familyOf(ips[0]!) !== wanted[0]) return undefined;
    // A dual-stack Service holding only its primary family keeps it; plan() adds the other.
    if (claim.requested && ips.length !== wanted.length) return undefined;
    const kept: Assignment = { ips, pools: [] };
    for (const ip of ips) {
      if (this.firstConflict(ip, claim) !== undefined) return undefined;
      const pool = this.poolOf(ip);
      if (!pool) {
        kept.pools.push('');
        (kept.warnings ??= []).push(
          `${ip} is in no pool any more (its pool was edited or deleted): kept until the Service releases it; add it back to a pool, or delete the Service or its requested address to free it`,
        );
        continue;
      }
      if (poolRefusal(pool, claim)) return undefined;
      if (claim.pool && claim.pool.name !== pool.name) return undefined;
      kept.pools.push(pool.name);
    }
    return kept;
  }

  private planRequested(claim: ServiceClaim): Assignment {
    const { ips, field } = claim.requested!;
    const families = ips.map((ip) => familyOf(ip)!);
    if (claim.familyPolicy === 'SingleStack' && ips.length > 1) {
      throw new ServiceConfigError(field, `asks for ${ips.join(',')} but ipFamilyPolicy is SingleStack: give one address or set PreferDualStack`);
    }
    const wanted = wantedFamilies(claim);
    if (wanted.length === 2 && !wanted.every((f) => families.includes(f))) {
      throw new ServiceConfigError(
        field,
        `asks for only ${ips.join(',')} but the Service is dual-stack (ipFamilyPolicy ${claim.familyPolicy}, ipFamilies ${claim.families.join(',')}): give one IPv4 and one IPv6 address, or set ipFamilyPolicy SingleStack`,
      );
    }
    if (claim.familyPolicy === 'SingleStack' && families[0] !== claim.families[0]) {
      throw new ServiceConfigError(field, `${ips[0]} is ${families[0]} but the Service's ipFamilies is ${claim.families.join(',')}`);
    }
    const assignment: Assignment = { ips: [], pools: [] };
    // Primary family first, as status.loadBalancer.ingress lists them.
    const ordered = [...ips].sort((a, b) => Number(familyOf(a) !== claim.families[0]) - Number(familyOf(b) !== claim.families[0]));
    for (const ip of ordered) {
      const pool = this.poolOf(ip);
      if (!pool) {
        throw new ServiceConfigError(field, `${ip} is outside every pool (${this.pools.map(describePool).join('; ')}): ask for an address in a pool or add one`);
      }
      if (claim.pool && claim.pool.name !== pool.name) {
        throw new ServiceConfigError(field, `${ip} belongs to pool "${pool.name}", not to "${claim.pool.name}" named by ${claim.pool.field}`);
      }
      const refusal = poolRefusal(pool, claim);
      if (refusal) throw new ServiceConfigError(field, `${ip} is in pool "${pool.name}", but ${refusal}`);
      if (pool.draining) throw new ServiceConfigError(field, `${ip} is in pool "${pool.name}", which is being deleted`);
      if (!isUsable(pool, ipToBigInt(ip), familyOf(ip)!)) {
        throw new ServiceConfigError(field, `${ip} ends in .0 or .255, which pool "${pool.name}" avoids (avoidBuggyIPs)`);
      }
      const conflict = this.firstConflict(ip, claim);
      if (conflict) throw new ServiceConfigError(claim.sharing?.field ?? field, conflict);
      assignment.ips.push(ip);
      assignment.pools.push(pool.name);
    }
    return assignment;
  }

  private candidatePools(claim: ServiceClaim): AddressPool[] {
    if (claim.pool) {
      const pool = this.pools.find((p) => p.name === claim.pool!.name);
      if (!pool) {
        throw new ServiceConfigError(claim.pool.field, `there is no pool "${claim.pool.name}" (pools: ${this.pools.map((p) => p.name).join(', ')})`);
      }
      const refusal = poolRefusal(pool, claim);
      if (refusal) throw new ServiceConfigError(claim.pool.field, refusal);
      if (pool.draining) throw new ServiceConfigError(claim.pool.field, `pool "${pool.name}" is being deleted`);
      return [pool];
    }
    const auto = this.pools.filter((p) => p.autoAssign && !p.draining);
    const admitted = poolsInOrder(this.pools, claim);
    if (admitted.length === 0) {
      const why = auto.map((p) => poolRefusal(p, claim)).join('; ');
      throw new ServiceConfigError(
        'metadata.labels',
        auto.length === 0
          ? 'no pool assigns addresses automatically: name a pool with kube-lb-provisioner.io/address-pool or ask for an address'
          : `no pool admits Service ${claim.key}: ${why}`,
      );
    }
    return admitted;
  }

  private planAuto(claim: ServiceClaim): Assignment {
    const pools = this.candidatePools(claim);
    const wanted = wantedFamilies(claim);
    let partial: Assignment | undefined;
    for (const pool of pools) {
      const picked: Assignment = { ips: [], pools: [] };
      for (const family of wanted) {
        const ip = this.pick(pool, family, claim);
        if (ip === undefined) continue;
        picked.ips.push(ip);
        picked.pools.push(pool.name);
      }
      if (picked.ips.length === wanted.length) return picked;
      // PreferDualStack settles for the primary family when no pool can give both.
      if (claim.familyPolicy === 'PreferDualStack' && !partial && picked.ips.length === 1 && familyOf(picked.ips[0]!) === wanted[0]) {
        partial = picked;
      }
    }
    if (partial) return partial;
    if (claim.familyPolicy === 'RequireDualStack' && !pools.some((p) => wanted.every((f) => usableCount(p, f) > 0n))) {
      const offered = pools.map((p) => `"${p.name}" ${(['IPv4', 'IPv6'] as const).filter((f) => usableCount(p, f) > 0n).join('+') || 'none'}`).join('; ');
      throw new ServiceConfigError(
        'spec.ipFamilyPolicy',
        `is RequireDualStack, but no pool this Service may use has both IPv4 and IPv6 addresses (${offered}): add the missing family to a pool, or set PreferDualStack`,
      );
    }
    throw this.exhausted(claim, pools, wanted);
  }

  private exhausted(claim: ServiceClaim, pools: AddressPool[], wanted: IPFamily[]): ServiceConfigError {
    const state = pools
      .map((p) => {
        const parts = wanted
          .map((f) => {
            const size = usableCount(p, f);
            if (size === 0n) return `no ${f}`;
            const used = this.heldIn(p, f);
            return `${used}/${size} ${f} in use`;
          })
          .join(', ');
        return `"${p.name}" ${parts}`;
      })
      .join('; ');
    const need = claim.familyPolicy === 'RequireDualStack' ? 'an IPv4 and an IPv6 address from one pool' : `an ${wanted[0]} address`;
    const field = claim.pool?.field ?? AUTO_FIELD;
    const subject = pools.length === 1 ? `pool "${pools[0]!.name}" is exhausted` : 'every pool this Service may use is exhausted';
    return new ServiceConfigError(
      field,
      `${subject}: no free ${need} (${state}); the Service stays pending and gets the next address freed (or add addresses to a pool)`,
    );
  }

  /**
   * An address of `family` in `pool` for `claim`: the lowest free one, else (with an allow-shared-ip
   * key) the lowest it may share, as MetalLB.
   */
  private pick(pool: AddressPool, family: IPFamily, claim: ServiceClaim): string | undefined {
    const free = this.lowestFree(pool, family, claim);
    if (free !== undefined || !claim.sharing) return free;
    let shared: { ip: string; value: bigint } | undefined;
    for (const [ip, keys] of this.holders) {
      if (familyOf(ip) !== family || !poolContains(pool, ip)) continue;
      if (keys.has(claim.key) && keys.size === 1) continue;
      if (this.firstConflict(ip, claim) !== undefined) continue;
      const value = ipToBigInt(ip);
      if (!shared || value < shared.value) shared = { ip, value };
    }
    return shared?.ip;
  }

  private lowestFree(pool: AddressPool, family: IPFamily, claim: ServiceClaim): string | undefined {
    const own = new Set((this.byService.get(claim.key)?.assignment.ips ?? []).filter((ip) => this.holders.get(ip)?.size === 1));
    const held = this.held[family];
    for (const range of pool.ranges) {
      if (range.family !== family) continue;
      for (let value = range.first; value <= range.last; value++) {
        if (!isUsable(pool, value, family)) continue;
        if (!held.has(value)) return bigIntToIP(value, family);
        // An address only this Service holds is free for it (it is changing pool or family).
        if (own.size > 0) {
          const ip = bigIntToIP(value, family);
          if (own.has(ip)) return ip;
        }
      }
    }
    return undefined;
  }
}
