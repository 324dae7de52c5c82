// IP family fields of a Service (spec.ipFamilyPolicy, spec.ipFamilies), settled before ClusterIPs
// are allocated, following the kube-apiserver's service allocation rules (pure):
// - no policy: the old one on update; RequireDualStack for a headless Service without selector;
//   SingleStack otherwise;
// - ipFamilies are inferred from clusterIPs given, otherwise the cluster's default (first range);
// - a dual-stack policy on a dual-stack cluster gets the other family appended;
// - a family the cluster has no range for, or RequireDualStack on a single-stack cluster, is
//   refused with the server's own messages.
import ipaddr from 'ipaddr.js';
import { duplicateValue, invalidValue, unsupportedValue, type FieldError } from './apiErrors.js';
import type { ServiceSpec } from './serviceDefaults.js';

export type IpFamily = 'IPv4' | 'IPv6';

const families = ['IPv4', 'IPv6'] as const;
const policies = ['PreferDualStack', 'RequireDualStack', 'SingleStack'] as const;

export function familyOf(ip: string): IpFamily | undefined {
  if (!ipaddr.isValid(ip)) return undefined;
  return ipaddr.parse(ip).kind() === 'ipv6' ? 'IPv6' : 'IPv4';
}

const sameList = (a: readonly string[] | undefined, b: readonly string[] | undefined): boolean =>
  (a ?? []).length === (b ?? []).length && (a ?? []).every((v, i) => v === b?.[i]);

function other(family: IpFamily): IpFamily {
  return family === 'IPv4' ? 'IPv6' : 'IPv4';
}

/** Values and pairing of the fields, before any defaulting depends on them. */
function validateFields(spec: ServiceSpec): FieldError[] {
  const errors: FieldError[] = [];
  if (spec.ipFamilyPolicy !== undefined && !policies.includes(spec.ipFamilyPolicy as (typeof policies)[number])) {
    errors.push(unsupportedValue('spec.ipFamilyPolicy', spec.ipFamilyPolicy, policies));
  }
  const given = spec.ipFamilies ?? [];
  given.forEach((f, i) => {
    if (!families.includes(f as IpFamily)) errors.push(unsupportedValue(`spec.ipFamilies[${i}]`, f, families));
    else if (given.indexOf(f) !== i) errors.push(duplicateValue(`spec.ipFamilies[${i}]`, f));
  });
  if (given.length > 2) errors.push(invalidValue('spec.ipFamilies', given, 'may specify no more than one IP for each IP family'));
  const ips = spec.clusterIPs ?? [];
  if (ips.length > 2) errors.push(invalidValue('spec.clusterIPs', ips, 'may only hold up to 2 values'));
  ips.forEach((ip, i) => {
    if (i === 0 || ip === 'None') return;
    const family = familyOf(ip);
    if (!family) errors.push(invalidValue(`spec.clusterIPs[${i}]`, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
    else if (i === 1 && familyOf(ips[0] ?? '') === family) errors.push(invalidValue('spec.clusterIPs', ips, 'may specify no more than one IP for each IP family'));
  });
  ips.forEach((ip, i) => {
    const family = familyOf(ip);
    const declared = given[i];
    if (family && declared && families.includes(declared as IpFamily) && family !== declared) {
      errors.push(invalidValue(`spec.clusterIPs[${i}]`, ip, `expected an ${declared} value as indicated by \`ipFamilies[${i}]\``));
    }
  });
  return errors;
}

/**
 * Settle ipFamilyPolicy and ipFamilies in place for a Service on a cluster whose service ranges
 * cover `configured` (the first is the default family). Returns the field errors, if any.
 */
export function settleIpFamilies(spec: ServiceSpec, old: ServiceSpec | undefined, configured: readonly IpFamily[]): FieldError[] {
  if (spec.type === 'ExternalName') return [];
  // A PreferDualStack Service keeps what it has while the cluster's stacks change under it.
  if (old && spec.ipFamilyPolicy === 'PreferDualStack' && old.ipFamilyPolicy === 'PreferDualStack' && sameList(spec.clusterIPs, old.clusterIPs) && sameList(spec.ipFamilies, old.ipFamilies)) {
    return [];
  }
  const headlessWithoutSelector = spec.clusterIP === 'None' && Object.keys(spec.selector ?? {}).length === 0;
  spec.ipFamilyPolicy ??= old?.ipFamilyPolicy ?? (headlessWithoutSelector ? 'RequireDualStack' : 'SingleStack');
  const fieldErrors = validateFields(spec);
  if (fieldErrors.length > 0) return fieldErrors;

  const errors: FieldError[] = [];
  const policy = spec.ipFamilyPolicy;
  if (old) {
    if (policy === 'SingleStack') {
      // Going single-stack with the lists as they were is clear intent: keep the primary only.
      if (sameList(spec.clusterIPs, old.clusterIPs) && (spec.clusterIPs ?? []).length > 1) spec.clusterIPs = spec.clusterIPs!.slice(0, 1);
      if (sameList(spec.ipFamilies, old.ipFamilies) && (spec.ipFamilies ?? []).length > 1) spec.ipFamilies = spec.ipFamilies!.slice(0, 1);
    } else {
      if ((old.clusterIPs ?? []).length > (spec.clusterIPs ?? []).length && (spec.clusterIPs ?? []).length > 0) {
        errors.push(invalidValue('spec.ipFamilyPolicy', policy, "must be 'SingleStack' to release the secondary cluster IP"));
      }
      if ((old.ipFamilies ?? []).length > (spec.ipFamilies ?? []).length && (spec.ipFamilies ?? []).length > 0) {
        errors.push(invalidValue('spec.ipFamilyPolicy', policy, "must be 'SingleStack' to release the secondary IP family"));
      }
    }
  }
  if (policy === 'SingleStack') {
    if ((spec.clusterIPs ?? []).length === 2) errors.push(invalidValue('spec.ipFamilyPolicy', policy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"));
    if ((spec.ipFamilies ?? []).length === 2) errors.push(invalidValue('spec.ipFamilyPolicy', policy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"));
  }
  // Families follow the cluster IPs asked for.
  const ips = spec.clusterIPs ?? [];
  for (let i = 0; i < ips.length; i++) {
    const ip = ips[i]!;
    if (ip === 'None' || ip === '') break;
    const family = familyOf(ip);
    if (!family || i < (spec.ipFamilies ?? []).length) continue;
    if (!configured.includes(family)) errors.push(invalidValue(`spec.clusterIPs[${i}]`, ips, `${family} is not configured on this cluster`));
    else spec.ipFamilies = [...(spec.ipFamilies ?? []), family];
  }
  if (errors.length > 0) return errors;

  if (headlessWithoutSelector) {
    // Headless without selector may name families the cluster does not serve: it allocates nothing.
    if ((spec.ipFamilies ?? []).length === 0) spec.ipFamilies = [configured[0]!];
    if (spec.ipFamilies!.length < 2 && policy !== 'SingleStack') spec.ipFamilies = [spec.ipFamilies![0]!, other(spec.ipFamilies![0] as IpFamily)];
    return [];
  }
  if (policy === 'RequireDualStack' && configured.length < 2) {
    errors.push(invalidValue('spec.ipFamilyPolicy', policy, 'this cluster is not configured for dual-stack services'));
  }
  (spec.ipFamilies ?? []).forEach((family, i) => {
    if (!configured.includes(family as IpFamily)) errors.push(invalidValue(`spec.ipFamilies[${i}]`, family, 'not configured on this cluster'));
  });
  if (errors.length > 0) return errors;
  if ((spec.ipFamilies ?? []).length === 0) spec.ipFamilies = [configured[0]!];
  if (policy !== 'SingleStack' && spec.ipFamilies!.length === 1 && configured.length === 2) spec.ipFamilies = [spec.ipFamilies![0]!, other(spec.ipFamilies![0] as IpFamily)];
  return [];
}
