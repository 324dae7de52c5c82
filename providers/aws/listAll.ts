// Every load balancer and target group of the region, 400 a page (ELB's largest PageSize): what
// the quota count, the sweep and the per-resync snapshot read instead of one call per resource.
import { DescribeLoadBalancersCommand, DescribeTargetGroupsCommand, type LoadBalancer, type TargetGroup } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { AwsApi } from './awsApi.js';

export async function listLoadBalancers(api: AwsApi): Promise<LoadBalancer[]> {
  const all: LoadBalancer[] = [];
  let marker: string | undefined;
  do {
    const page = await api.elb('DescribeLoadBalancers', false, (c) => c.send(new DescribeLoadBalancersCommand({ PageSize: 400, Marker: marker })));
    all.push(...(page.LoadBalancers ?? []));
    marker = page.NextMarker;
  } while (marker);
  return all;
}

export async function listTargetGroups(api: AwsApi): Promise<TargetGroup[]> {
  const all: TargetGroup[] = [];
  let marker: string | undefined;
  do {
    const page = await api.elb('DescribeTargetGroups', false, (c) => c.send(new DescribeTargetGroupsCommand({ PageSize: 400, Marker: marker })));
    all.push(...(page.TargetGroups ?? []));
    marker = page.NextMarker;
  } while (marker);
  return all;
}
