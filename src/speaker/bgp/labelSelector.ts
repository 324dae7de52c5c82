// Kubernetes label selectors (matchLabels + matchExpressions), as BGPPeer/BGPAdvertisement
// nodeSelectors and ipAddressPoolSelectors use them. A list of selectors matches when any one does;
// an empty list matches everything (MetalLB's rule). Pure.

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** Why a selector is malformed (for the field named by the caller), or undefined. */
export function selectorProblem(selector: LabelSelector): string | undefined {
  for (const e of selector.matchExpressions ?? []) {
    if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(e.operator)) return `unknown operator "${String(e.operator)}"`;
    const hasValues = (e.values ?? []).length > 0;
    if ((e.operator === 'In' || e.operator === 'NotIn') && !hasValues) return `operator ${e.operator} on "${e.key}" needs values`;
    if ((e.operator === 'Exists' || e.operator === 'DoesNotExist') && hasValues) return `operator ${e.operator} on "${e.key}" takes no values`;
  }
  return undefined;
}

export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const inValues = has && (e.values ?? []).includes(value!);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** Any of the selectors matches; no selectors: everything matches. */
export function anySelectorMatches(selectors: readonly LabelSelector[], labels: Readonly<Record<string, string>>): boolean {
  return selectors.length === 0 || selectors.some((s) => selectorMatches(s, labels));
}
