// Kubernetes RBAC evaluation over the chart's rendered roles, for the RBAC proof: which rules bind to
// a ServiceAccount, whether they grant a recorded request, and which granted permissions no request
// ever used. Follows the RBAC authorizer's rules for resource requests: apiGroups, resources
// ("resource/subresource"), verbs, resourceNames (never matching a request without a name, such as
// create or list), a Role's rules only inside its namespace.
import type { Manifest } from './helmChart.js';

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** A rule together with where it applies: everywhere (ClusterRole via ClusterRoleBinding) or in one namespace. */
export interface ScopedRule {
  rule: PolicyRule;
  /** undefined: cluster-wide. */
  namespace?: string;
  /** "ClusterRole/name" or "Role/namespace/name", for messages. */
  source: string;
}

/** What the authorizer sees of one request. */
export interface RequestAttributes {
  verb: string;
  apiGroup: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

interface Binding {
  roleRef: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/** The rules bound to a ServiceAccount by the rendered manifests. */
export function rulesFor(manifests: readonly Manifest[], serviceAccount: { name: string; namespace: string }): ScopedRule[] {
  const bound = (b: Manifest) =>
    ((b as unknown as Binding).subjects ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === serviceAccount.name && s.namespace === serviceAccount.namespace);
  const roleRules = (kind: string, name: string, namespace?: string): PolicyRule[] => {
    const role = manifests.find((m) => m.kind === kind && m.metadata.name === name && (kind === 'ClusterRole' || m.metadata.namespace === namespace));
    if (!role) throw new Error(`a binding refers to ${kind} ${name}, which the chart does not render`);
    return (role as unknown as { rules?: PolicyRule[] }).rules ?? [];
  };
  const scoped: ScopedRule[] = [];
  for (const binding of manifests.filter((m) => m.kind === 'ClusterRoleBinding' && bound(m))) {
    const { roleRef } = binding as unknown as Binding;
    if (roleRef.kind !== 'ClusterRole') throw new Error(`ClusterRoleBinding ${binding.metadata.name} refers to a ${roleRef.kind}`);
    for (const rule of roleRules('ClusterRole', roleRef.name)) scoped.push({ rule, source: `ClusterRole/${roleRef.name}` });
  }
  for (const binding of manifests.filter((m) => m.kind === 'RoleBinding' && bound(m))) {
    const { roleRef } = binding as unknown as Binding;
    const namespace = binding.metadata.namespace;
    if (!namespace) throw new Error(`RoleBinding ${binding.metadata.name} has no namespace`);
    for (const rule of roleRules(roleRef.kind, roleRef.name, namespace)) scoped.push({ rule, namespace, source: `${roleRef.kind}/${namespace}/${roleRef.name}` });
  }
  return scoped;
}

function includesOrStar(list: readonly string[] | undefined, value: string): boolean {
  return (list ?? []).some((v) => v === '*' || v === value);
}

export function ruleGrants(scoped: ScopedRule, request: RequestAttributes): boolean {
  const { rule } = scoped;
  if (scoped.namespace !== undefined && request.namespace !== scoped.namespace) return false;
  if (!includesOrStar(rule.verbs, request.verb)) return false;
  if (!includesOrStar(rule.apiGroups, request.apiGroup)) return false;
  const resource = request.subresource ? `${request.resource}/${request.subresource}` : request.resource;
  if (!includesOrStar(rule.resources, resource)) return false;
  if (rule.resourceNames && rule.resourceNames.length > 0) return request.name !== undefined && rule.resourceNames.includes(request.name);
  return true;
}

export function granted(rules: readonly ScopedRule[], request: RequestAttributes): boolean {
  return rules.some((r) => ruleGrants(r, request));
}

export function describeRequest(r: RequestAttributes): string {
  const resource = r.subresource ? `${r.resource}/${r.subresource}` : r.resource;
  return `${r.verb} ${r.apiGroup || 'core'}/${resource}${r.namespace ? ` in ${r.namespace}` : ''}${r.name ? ` (${r.name})` : ''}`;
}

/**
 * Each (verb, apiGroup, resource) a rule grants, split into single permissions, that no recorded
 * request used. Wildcards are reported as unused as a whole: a least-privilege chart has none.
 */
export function unusedPermissions(rules: readonly ScopedRule[], requests: readonly RequestAttributes[]): string[] {
  const unused: string[] = [];
  for (const scoped of rules) {
    const { rule } = scoped;
    if (rule.nonResourceURLs?.length) unused.push(`${scoped.source}: nonResourceURLs ${rule.nonResourceURLs.join(',')}`);
    for (const apiGroup of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        for (const verb of rule.verbs) {
          if ([apiGroup, resource, verb].includes('*')) {
            unused.push(`${scoped.source}: wildcard ${verb} ${apiGroup}/${resource}`);
            continue;
          }
          const single: ScopedRule = { ...scoped, rule: { ...rule, apiGroups: [apiGroup], resources: [resource], verbs: [verb] } };
          if (!requests.some((request) => ruleGrants(single, request))) {
            unused.push(`${scoped.source}: ${verb} ${apiGroup || 'core'}/${resource}${rule.resourceNames?.length ? ` [${rule.resourceNames.join(',')}]` : ''}`);
          }
        }
      }
    }
  }
  return unused;
}
