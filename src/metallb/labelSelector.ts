// Kubernetes label selectors (metav1.LabelSelector) as MetalLB's resources carry them: matchLabels
// AND every matchExpression. Pure. An empty selector matches everything, as upstream.
export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** Why `selector` is malformed (naming the sub-field under `field`), or undefined. */
export function selectorProblem(selector: LabelSelector, field: string): string | undefined {
  for (const [i, r] of (selector.matchExpressions ?? []).entries()) {
    const at = `${field}.matchExpressions[${i}]`;
    if (!(OPERATORS as readonly string[]).includes(r.operator)) return `${at}.operator: "${r.operator}" is not one of ${OPERATORS.join(', ')}`;
    const count = r.values?.length ?? 0;
    if ((r.operator === 'In' || r.operator === 'NotIn') && count === 0) return `${at}.values: ${r.operator} needs at least one value`;
    if ((r.operator === 'Exists' || r.operator === 'DoesNotExist') && count > 0) return `${at}.values: ${r.operator} takes no values`;
  }
  return undefined;
}

export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const r of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, r.key);
    const values = r.values ?? [];
    switch (r.operator) {
      case 'In':
        if (!has || !values.includes(labels[r.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[r.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

export function describeSelector(selector: LabelSelector): string {
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const r of selector.matchExpressions ?? []) parts.push(`${r.key} ${r.operator}${r.values?.length ? ` (${r.values.join(',')})` : ''}`);
  return parts.join(',') || '(everything)';
}

/** Any of the selectors matches; no selectors: everything matches (MetalLB's nodeSelectors rule). */
export function anySelectorMatches(selectors: readonly LabelSelector[], labels: Readonly<Record<string, string>>): boolean {
  return selectors.length === 0 || selectors.some((s) => selectorMatches(s, labels));
}
