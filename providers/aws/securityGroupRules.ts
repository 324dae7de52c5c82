// Authorize/revoke that are safe to repeat: a duplicate rule on authorize and a missing rule on
// revoke are what a crashed run leaves behind, so they count as done. AWS rejects a whole batch when
// one rule is a duplicate, so a rejected batch is retried rule by rule.
import {
  AuthorizeSecurityGroupIngressCommand,
  RevokeSecurityGroupIngressCommand,
  type IpPermission,
  type TagSpecification,
} from '@aws-sdk/client-ec2';
import { cidrFamily } from '../common/cidr.js';
import { isCode, type AwsApi } from './awsApi.js';
import type { IngressRule } from './awsTypes.js';

export function cidrPermissions(rules: IngressRule[]): IpPermission[] {
  const byPort = new Map<string, IpPermission>();
  for (const r of rules) {
    const key = `${r.protocol}/${r.port}/${r.icmpCode ?? ''}`;
    let p = byPort.get(key);
    if (!p) byPort.set(key, (p = { IpProtocol: r.protocol, FromPort: r.port, ToPort: r.icmpCode ?? r.port, IpRanges: [], Ipv6Ranges: [], PrefixListIds: [] }));
    if (isPrefixList(r.source)) {
      p.PrefixListIds!.push({ PrefixListId: r.source });
      continue;
    }
    const v6 = cidrFamily(r.source) === 'IPv6';
    if (v6) p.Ipv6Ranges!.push({ CidrIpv6: r.source });
    else p.IpRanges!.push({ CidrIp: r.source });
  }
  return [...byPort.values()].map((p) => ({
    ...p,
    IpRanges: p.IpRanges!.length ? p.IpRanges : undefined,
    Ipv6Ranges: p.Ipv6Ranges!.length ? p.Ipv6Ranges : undefined,
    PrefixListIds: p.PrefixListIds!.length ? p.PrefixListIds : undefined,
  }));
}

/** A managed prefix list ID as a rule's source (the rest are CIDRs). */
export function isPrefixList(source: string): boolean {
  return source.startsWith('pl-');
}

export async function authorizeIngress(api: AwsApi, groupId: string, permissions: IpPermission[], tags?: TagSpecification[]): Promise<void> {
  const send = (IpPermissions: IpPermission[]) =>
    api.ec2('AuthorizeSecurityGroupIngress', true, (c) => c.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions, TagSpecifications: tags })));
  try {
    await send(permissions);
  } catch (error) {
    if (!isCode(error, 'InvalidPermission.Duplicate')) throw error;
    if (permissions.length === 1 && (permissions[0]!.IpRanges?.length ?? 0) + (permissions[0]!.Ipv6Ranges?.length ?? 0) + (permissions[0]!.PrefixListIds?.length ?? 0) <= 1) return;
    for (const single of splitPermissions(permissions)) {
      try {
        await send([single]);
      } catch (inner) {
        if (!isCode(inner, 'InvalidPermission.Duplicate')) throw inner;
      }
    }
  }
}

export async function revokeIngress(api: AwsApi, groupId: string, permissions: IpPermission[]): Promise<void> {
  const send = (IpPermissions: IpPermission[]) =>
    api.ec2('RevokeSecurityGroupIngress', true, (c) => c.send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions })));
  try {
    await send(permissions);
  } catch (error) {
    if (isCode(error, 'InvalidGroup.NotFound')) return;
    if (!isCode(error, 'InvalidPermission.NotFound')) throw error;
    for (const single of splitPermissions(permissions)) {
      try {
        await send([single]);
      } catch (inner) {
        if (!isCode(inner, 'InvalidPermission.NotFound')) throw inner;
      }
    }
  }
}

function splitPermissions(permissions: IpPermission[]): IpPermission[] {
  return permissions.flatMap((p) => [
    ...(p.IpRanges ?? []).map((r) => ({ ...p, IpRanges: [r], Ipv6Ranges: undefined, UserIdGroupPairs: undefined, PrefixListIds: undefined })),
    ...(p.Ipv6Ranges ?? []).map((r) => ({ ...p, IpRanges: undefined, Ipv6Ranges: [r], UserIdGroupPairs: undefined, PrefixListIds: undefined })),
    ...(p.UserIdGroupPairs ?? []).map((g) => ({ ...p, IpRanges: undefined, Ipv6Ranges: undefined, UserIdGroupPairs: [g], PrefixListIds: undefined })),
    ...(p.PrefixListIds ?? []).map((l) => ({ ...p, IpRanges: undefined, Ipv6Ranges: undefined, UserIdGroupPairs: undefined, PrefixListIds: [l] })),
  ]);
}
