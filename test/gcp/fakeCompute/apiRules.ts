// The rules of the real Compute API that the fake holds requests to, each with the documentation it
// comes from. They exist so that a provider that shares a wrong assumption with the fake still
// fails here: every rule answers with the HTTP status and `reason` the real API uses.
//
// Sources cited below:
// - proto: node_modules/@google-cloud/compute/build/protos/google/cloud/compute/v1/compute.proto
// - tiers: https://cloud.google.com/network-tiers/docs/set-network-tier (a resource created without
//   a tier gets the project's default tier, which may be STANDARD)
// - one-ig: https://cloud.google.com/load-balancing/docs/backend-service#restrictions_and_guidance
//   ("an instance can belong to only one load-balanced unmanaged instance group"); the API answers
//   400 instanceInMultipleLoadBalancedIgs "instance may belong to at most one load-balanced
//   instance group" (seen in ingress-gce and terraform reports)
// - shared-vpc: https://cloud.google.com/vpc/docs/shared-vpc (firewall rules of a Shared VPC
//   network are created in the host project, which owns the network)
// - custom-mode: https://cloud.google.com/vpc/docs/vpc#subnet-ranges (custom mode VPCs have no
//   automatic subnet; an internal address or forwarding rule must name one)
// - ipv6-lb: https://cloud.google.com/load-balancing/docs/network/networklb-backend-service#ipv6 and
//   .../internal#ipv6 (an IPv6 passthrough forwarding rule takes its address from a dual-stack
//   subnet with external, respectively internal, IPv6 access); Premium tier only
//   (https://cloud.google.com/network-tiers/docs/overview: Standard Tier is IPv4 only)
// - firewall-family: https://cloud.google.com/firewall/docs/firewalls#sources-for-rules (a rule's
//   source ranges are IPv4 or IPv6 ranges, not a mix; GKE's L4 controllers make `-ipv6` twin
//   firewalls for that reason). The stored copies available here did not show the sentence itself.

type Json = Record<string, unknown>;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new HttpError(400, message, 'invalid');

/**
 * proto, BackendService.fingerprint: "An up-to-date fingerprint must be provided in order to update
 * the BackendService, otherwise the request will fail with error 412 conditionNotMet."
 */
export function checkFingerprint(existing: Json, body: Json): void {
  if (body.fingerprint === undefined || body.fingerprint === '')
    throw new HttpError(412, "Required field 'resource.fingerprint' not specified", 'conditionNotMet');
  if (body.fingerprint !== existing.fingerprint)
    throw new HttpError(412, `Invalid fingerprint: the resource changed since it was read (fingerprint ${String(body.fingerprint)} is stale)`, 'conditionNotMet');
}

/**
 * proto, ForwardingRule.networkTier: "If IPAddress is specified, this value must be equal to the
 * networkTier of the Address." Both default to the project's tier (tiers).
 */
export function checkTierMatch(ruleTier: string, address: Json | undefined): void {
  if (!address || address.addressType === 'INTERNAL') return;
  if (address.networkTier !== ruleTier)
    throw invalid(`Invalid value for field 'resource.networkTier': '${ruleTier}'. The address ${String(address.name)} is ${String(address.networkTier)} tier; the forwarding rule must use the same tier.`);
}

/** proto, ForwardingRule.ports/portRange/allPorts: "The ports, portRange, and allPorts fields are mutually exclusive." */
export function checkPortFieldsExclusive(body: Json): void {
  const set = [((body.ports as unknown[] | undefined) ?? []).length > 0, typeof body.portRange === 'string' && body.portRange !== '', body.allPorts === true];
  if (set.filter(Boolean).length > 1) throw invalid('Invalid value for field \'resource\': the ports, portRange and allPorts fields are mutually exclusive.');
}

/**
 * proto, BackendService.SessionAffinity.CLIENT_IP_NO_DESTINATION: "This option can only be used
 * for Internal TCP/UDP Load Balancing."
 */
export function checkAffinityForScheme(body: Json): void {
  if (body.sessionAffinity === 'CLIENT_IP_NO_DESTINATION' && body.loadBalancingScheme !== 'INTERNAL')
    throw invalid("Invalid value for field 'resource.sessionAffinity': 'CLIENT_IP_NO_DESTINATION'. It is only supported for internal passthrough load balancers.");
}

/** custom-mode: internal addresses and forwarding rules on a custom-mode network must name a subnetwork. */
export function checkSubnetworkNamed(body: Json, networkIsCustomMode: boolean, what: string): void {
  if (networkIsCustomMode && (body.subnetwork === undefined || body.subnetwork === ''))
    throw invalid(`Invalid value for field 'resource.subnetwork': ''. The ${what} is internal on a custom mode network, so a subnetwork must be specified.`);
}

/** one-ig: the error an instance gets when a second load-balanced group would hold it. */
export function instanceInMultipleLoadBalancedIgs(instanceUrl: string): HttpError {
  return new HttpError(400, `Validation failed for instance '${instanceUrl}': instance may belong to at most one load-balanced instance group.`, 'instanceInMultipleLoadBalancedIgs');
}

/**
 * A request that references a resource whose own operation is still running is refused until that
 * operation is done (400 resourceNotReady), e.g. addInstances on a group while the backend service
 * that uses it is being updated. Source: issue 18's report of the real API's behaviour; no public
 * reference page was found for it, so the message wording is the fake's own.
 */
export function resourceNotReady(link: string): HttpError {
  return new HttpError(400, `The resource '${link}' is not ready`, 'resourceNotReady');
}

/** shared-vpc: a firewall belongs to the project of its network. (The wording of this error is the fake's own.) */
export function firewallOutsideNetworkProject(network: string, firewallProject: string): HttpError {
  return invalid(`Invalid value for field 'resource.network': '${network}'. A firewall rule in project ${firewallProject} can only apply to a network of that project; create it in the network's host project.`);
}

/**
 * An IPv6 forwarding rule (ipVersion IPV6). proto, ForwardingRule.subnetwork: "a subnetwork must be
 * specified if the network is in custom subnet mode or when creating external forwarding rule with
 * IPv6"; the subnet's ipv6AccessType (proto, Subnetwork.ipv6_access_type) must be the rule's scheme
 * (ipv6-lb), and an external one is Premium tier (ipv6-lb). `subnetAccess` is the named subnet's
 * IPv6 access type, undefined for an IPv4-only subnet.
 */
export function checkIPv6Rule(body: Json, subnetAccess: 'EXTERNAL' | 'INTERNAL' | undefined): void {
  if (body.subnetwork === undefined || body.subnetwork === '')
    throw invalid("Invalid value for field 'resource.subnetwork': ''. An IPv6 forwarding rule must specify a subnetwork with an IPv6 range.");
  const scheme = String(body.loadBalancingScheme);
  if (subnetAccess !== scheme)
    throw invalid(`Invalid value for field 'resource.subnetwork': '${String(body.subnetwork)}'. The subnetwork has no ${scheme.toLowerCase()} IPv6 range${subnetAccess ? ` (its IPv6 access type is ${subnetAccess})` : ''}.`);
  if (scheme === 'EXTERNAL' && body.networkTier !== undefined && body.networkTier !== 'PREMIUM')
    throw invalid(`Invalid value for field 'resource.networkTier': '${String(body.networkTier)}'. IPv6 forwarding rules are Premium tier only.`);
}

/** firewall-family: the source ranges of one firewall rule are all IPv4 or all IPv6. */
export function checkOneFamily(sourceRanges: string[]): void {
  const families = new Set(sourceRanges.map((r) => (r.includes(':') ? 'IPv6' : 'IPv4')));
  if (families.size > 1) throw invalid(`Invalid value for field 'resource.sourceRanges': a firewall rule's source ranges must be all IPv4 or all IPv6.`);
}
