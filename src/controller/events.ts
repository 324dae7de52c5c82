// Event reasons, as the upstream service controller emits them (users' alerts match on these).
export const Reasons = {
  Ensuring: 'EnsuringLoadBalancer',
  Ensured: 'EnsuredLoadBalancer',
  Updated: 'UpdatedLoadBalancer',
  Deleting: 'DeletingLoadBalancer',
  Deleted: 'DeletedLoadBalancer',
  SyncFailed: 'SyncLoadBalancerFailed',
  DeleteFailed: 'DeleteLoadBalancerFailed',
  Unavailable: 'UnAvailableLoadBalancer',
} as const;
