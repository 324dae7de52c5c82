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
  /** Ours, on the Node: a cloud provider cannot target a node it cannot name. */
  NodeWithoutProviderID: 'NodeWithoutProviderID',
} as const;
