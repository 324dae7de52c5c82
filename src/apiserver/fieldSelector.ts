// Field selectors: field=value, field==value, field!=value joined by commas, over the fields each
// resource supports (metadata.name/namespace everywhere, involvedObject.* and friends for events).
import { badRequest } from './apiErrors.js';
import { ownValue } from './ownProperties.js';

export interface FieldRequirement {
  field: string;
  negate: boolean;
  value: string;
}

type FieldGetter = (obj: Record<string, unknown>) => string;

function path(...keys: string[]): FieldGetter {
  return (obj) => {
    let cur: unknown = obj;
    for (const k of keys) {
      if (cur === null || typeof cur !== 'object') return '';
      cur = (cur as Record<string, unknown>)[k];
    }
    if (cur === undefined || cur === null) return '';
    return typeof cur === 'string' ? cur : String(cur);
  };
}

const common: Record<string, FieldGetter> = {
  'metadata.name': path('metadata', 'name'),
  'metadata.namespace': path('metadata', 'namespace'),
};

// Events are stored in core/v1 shape; events.k8s.io names map onto the same fields.
const eventFields: Record<string, FieldGetter> = {
  'involvedObject.kind': path('involvedObject', 'kind'),
  'involvedObject.namespace': path('involvedObject', 'namespace'),
  'involvedObject.name': path('involvedObject', 'name'),
  'involvedObject.uid': path('involvedObject', 'uid'),
  'involvedObject.apiVersion': path('involvedObject', 'apiVersion'),
  'involvedObject.resourceVersion': path('involvedObject', 'resourceVersion'),
  'involvedObject.fieldPath': path('involvedObject', 'fieldPath'),
  'regarding.kind': path('involvedObject', 'kind'),
  'regarding.namespace': path('involvedObject', 'namespace'),
  'regarding.name': path('involvedObject', 'name'),
  'regarding.uid': path('involvedObject', 'uid'),
  'regarding.apiVersion': path('involvedObject', 'apiVersion'),
  reason: path('reason'),
  reportingComponent: path('reportingComponent'),
  reportingController: path('reportingComponent'),
  source: path('source', 'component'),
  type: path('type'),
};

const perStorage: Record<string, Record<string, FieldGetter>> = {
  events: eventFields,
  services: { 'spec.clusterIP': path('spec', 'clusterIP'), 'spec.type': path('spec', 'type') },
  nodes: { 'spec.unschedulable': (o) => String((o.spec as { unschedulable?: boolean } | undefined)?.unschedulable ?? false) },
  namespaces: { 'status.phase': path('status', 'phase') },
};

export type FieldSelector = { requirements: FieldRequirement[]; getters: FieldGetter[] };

export function parseFieldSelector(storage: string, selector: string | undefined): FieldSelector {
  const out: FieldSelector = { requirements: [], getters: [] };
  if (selector === undefined || selector.trim() === '') return out;
  for (const raw of selector.split(',')) {
    const term = raw.trim();
    const m = term.match(/^([^=!]+?)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    const field = m[1]!;
    const getter = ownValue(common, field) ?? ownValue(ownValue(perStorage, storage), field);
    if (!getter) throw badRequest(`field label not supported: ${field}`);
    out.requirements.push({ field, negate: m[2] === '!=', value: m[3]! });
    out.getters.push(getter);
  }
  return out;
}

export function matchesFields(selector: FieldSelector, obj: Record<string, unknown>): boolean {
  for (let i = 0; i < selector.requirements.length; i++) {
    const r = selector.requirements[i]!;
    const actual = selector.getters[i]!(obj);
    if ((actual === r.value) === r.negate) return false;
  }
  return true;
}

/** A `metadata.name=x` requirement lets list and watch skip straight to one key. */
export function exactName(selector: FieldSelector): string | undefined {
  return selector.requirements.find((r) => r.field === 'metadata.name' && !r.negate)?.value;
}
