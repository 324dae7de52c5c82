// The periodic resync's safety net for target groups that no anchor leads to: an owned target group
// that no listener uses, that no current Service wants under that name, and that stayed so across
// two sweeps at least minAgeMs apart (so a create in progress, which makes its groups before its
// listeners, is never swept). This is how a protocol change interrupted between the listener switch
// and the old group's deletion gets cleaned up.
import { listTargetGroups } from './listAll.js';
import type { AwsApi } from './awsApi.js';
import { deleteTargetGroup, StillReleasingError } from './deleteStack.js';
import { describeElbTags } from './observe.js';
import { clusterOwns, SERVICE_UID_TAG } from './tags.js';

export interface WantedTargetGroups {
  /** Target group names the current Services want. */
  names: Set<string>;
  /** Services whose wanted names could not be worked out: none of their groups is swept. */
  protectedUids: Set<string>;
}

export class TargetGroupSweeper {
  private readonly suspects = new Map<string, number>();

  constructor(
    private readonly api: AwsApi,
    private readonly clusterName: string,
    private readonly minAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Returns how many target groups it deleted. Without `wanted`, it only watches. */
  async sweep(wanted: WantedTargetGroups | undefined): Promise<number> {
    const unattached = (await listTargetGroups(this.api)).filter((g) => g.TargetGroupArn && (g.LoadBalancerArns ?? []).length === 0);

    const tags = unattached.length > 0 ? await describeElbTags(this.api, unattached.map((g) => g.TargetGroupArn!)) : new Map<string, Record<string, string>>();
    const seen = new Set<string>();
    let deleted = 0;
    for (const g of unattached) {
      const arn = g.TargetGroupArn!;
      const t = tags.get(arn) ?? {};
      const uid = t[SERVICE_UID_TAG];
      if (!clusterOwns(t, this.clusterName) || uid === undefined) continue;
      if (wanted && (wanted.names.has(g.TargetGroupName ?? '') || wanted.protectedUids.has(uid))) continue;
      seen.add(arn);
      const first = this.suspects.get(arn);
      if (first === undefined) {
        this.suspects.set(arn, this.now());
        continue;
      }
      if (!wanted || this.now() - first < this.minAgeMs) continue;
      try {
        await deleteTargetGroup(this.api, arn);
        deleted++;
        seen.delete(arn);
      } catch (error) {
        if (!(error instanceof StillReleasingError)) throw error;
      }
    }
    for (const arn of [...this.suspects.keys()]) if (!seen.has(arn)) this.suspects.delete(arn);
    return deleted;
  }
}
