// Pure: Compute's resources as the diff compares them (observed.ts), with whether each is this
// Service's (`mine`, from the ownership description).
import type { IAddress, IBackendService, IFirewall, IForwardingRule, IHealthCheck } from './computeApi.js';
import { lastSegment, parseOwnership, type Ownership } from './names.js';
import type { AddressOwner, ObservedAddress, ObservedBackendService, ObservedFirewall, ObservedForwardingRule, ObservedHealthCheck } from './observed.js';

type Mine = (description: string | null | undefined) => boolean;

export function observedHealthCheck(hc: IHealthCheck, mine: Mine): ObservedHealthCheck {
  const check = hc.type === 'TCP' ? hc.tcpHealthCheck : hc.httpHealthCheck;
  const observed: ObservedHealthCheck = { owned: mine(hc.description), path: hc.type === 'TCP' ? '' : (hc.httpHealthCheck?.requestPath ?? '/') };
  if (typeof check?.port === 'number') observed.port = check.port;
  if (typeof hc.checkIntervalSec === 'number') observed.checkIntervalSec = hc.checkIntervalSec;
  if (typeof hc.unhealthyThreshold === 'number') observed.unhealthyThreshold = hc.unhealthyThreshold;
  return observed;
}

export function observedBackendService(bs: IBackendService, mine: Mine): ObservedBackendService {
  return {
    owned: mine(bs.description),
    protocol: bs.protocol ?? '',
    scheme: bs.loadBalancingScheme ?? '',
    healthCheck: bs.healthChecks?.[0] ?? '',
    sessionAffinity: bs.sessionAffinity || 'NONE',
    groups: (bs.backends ?? [])
      .map((b) => /zones\/([^/]+)\/instanceGroups\/([^/]+)$/.exec(b.group ?? ''))
      .filter((m) => m !== null)
      .map((m) => `${m[1]}/${m[2]}`)
      .sort(),
  };
}

export function observedForwardingRule(fr: IForwardingRule, mine: Mine): ObservedForwardingRule {
  const observed: ObservedForwardingRule = {
    owned: mine(fr.description),
    // Compute shows an IPv6 rule's address as its /96 range (compute.proto, ForwardingRule.IPAddress).
    ip: (fr.IPAddress ?? '').split('/')[0]!,
    protocol: fr.IPProtocol ?? '',
    scheme: fr.loadBalancingScheme ?? '',
    backendService: fr.backendService ?? '',
    networkTier: fr.networkTier || 'PREMIUM',
    ports: [...(fr.ports ?? [])],
    allPorts: fr.allPorts === true,
  };
  if (fr.portRange) observed.portRange = fr.portRange;
  if (fr.subnetwork) observed.subnetwork = fr.subnetwork;
  if (fr.allowGlobalAccess) observed.allowGlobalAccess = true;
  return observed;
}

export function observedFirewall(fw: IFirewall, mine: Mine): ObservedFirewall {
  return {
    owned: mine(fw.description),
    sourceRanges: [...(fw.sourceRanges ?? [])],
    allowed: (fw.allowed ?? []).flatMap((a) => (a.ports ?? []).map((p) => `${(a.IPProtocol ?? '').toLowerCase()}:${p}`)).sort(),
    targetTags: [...(fw.targetTags ?? [])],
  };
}

/**
 * The ownership of each listed address, parsed once: every Service's observe maps the same cached
 * region list, and parsing each description again made that quadratic in the number of Services.
 */
const ownershipOfListed = new WeakMap<IAddress, Ownership>();
function ownershipOf(address: IAddress): Ownership {
  let owner = ownershipOfListed.get(address);
  if (!owner) ownershipOfListed.set(address, (owner = parseOwnership(address.description)));
  return owner;
}

/** Every address with an IP, and whose it is: this Service's, another Service's of the cluster, or anyone else's. */
export function observedAddresses(addresses: IAddress[], cluster: string, uid: string): ObservedAddress[] {
  return addresses
    .filter((a) => a.address)
    .map((a) => {
      const owner = ownershipOf(a);
      const who: AddressOwner = owner.cluster === cluster && owner.service?.uid === uid ? 'thisService' : owner.cluster === cluster && owner.service ? 'otherService' : 'foreign';
      return {
        name: a.name ?? '',
        ip: a.address ?? '',
        type: a.addressType ?? 'EXTERNAL',
        networkTier: a.networkTier || 'PREMIUM',
        owner: who,
        users: (a.users ?? []).map(lastSegment),
        ...(a.subnetwork ? { subnetwork: a.subnetwork } : {}),
      };
    });
}
