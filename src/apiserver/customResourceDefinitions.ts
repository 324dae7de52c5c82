// CustomResourceDefinitions (apiextensions.k8s.io/v1): defaulting, validation with the
// apiextensions server's messages, the status it reports (NamesAccepted and Established at once,
// so `kubectl wait --for condition=established` returns), and the resources a CRD makes served.
// Conversion webhooks are not called: every version is served as `conversion: None` would serve it.
import { forbiddenField, invalidValue, requiredValue, unsupportedValue, type FieldError } from './apiErrors.js';
import type { PrinterColumn, SchemaNode } from './customResourceVersion.js';
import type { KubeObject } from './objectStore.js';
import { dns1035LabelErrors, dns1123SubdomainErrors } from './objectValidation.js';
import type { ResourceDefinition } from './resourceCatalog.js';
import { compileSchema } from './structuralSchema.js';

interface CrdNames {
  plural?: string;
  singular?: string;
  kind?: string;
  listKind?: string;
  shortNames?: string[];
  categories?: string[];
}

interface CrdVersion {
  name?: string;
  served?: boolean;
  storage?: boolean;
  deprecated?: boolean;
  deprecationWarning?: string;
  schema?: { openAPIV3Schema?: SchemaNode };
  subresources?: { status?: object; scale?: object };
  additionalPrinterColumns?: PrinterColumn[];
}

interface CrdSpec {
  group?: string;
  names?: CrdNames;
  scope?: string;
  versions?: CrdVersion[];
  conversion?: { strategy?: string };
  preserveUnknownFields?: boolean;
}

const scopes = ['Cluster', 'Namespaced'] as const;

export const crdStorage = 'customresourcedefinitions';

/** Storage shared by every version of the CRD's resource. */
export const customStorageOf = (group: string, plural: string): string => `${group}/${plural}`;

export function defaultCrd(obj: KubeObject): void {
  const spec = (obj.spec ?? {}) as CrdSpec;
  obj.spec = spec;
  const names = spec.names;
  if (names?.kind) {
    names.singular ??= names.kind.toLowerCase();
    names.listKind ??= `${names.kind}List`;
  }
  spec.conversion ??= { strategy: 'None' };
  for (const v of spec.versions ?? []) {
    for (const c of v.additionalPrinterColumns ?? []) c.priority ??= 0;
  }
}

/** Every node of a structural schema says its type (or preserves unknown fields, or is int-or-string). */
function structuralErrors(node: SchemaNode, path: string, errors: FieldError[], root: boolean): void {
  const typed = node.type !== undefined && node.type !== '';
  if (!typed && node['x-kubernetes-int-or-string'] !== true && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    errors.push(requiredValue(`${path}.type`, root ? 'must not be empty at the root' : 'must not be empty for specified object fields'));
  }
  if (root && typed && node.type !== 'object') errors.push(invalidValue(`${path}.type`, node.type, 'must be object at the root'));
  for (const [name, child] of Object.entries(node.properties ?? {})) structuralErrors(child, `${path}.properties[${name}]`, errors, false);
  if (node.items && typeof node.items === 'object') structuralErrors(node.items, `${path}.items`, errors, false);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') structuralErrors(node.additionalProperties, `${path}.additionalProperties`, errors, false);
}

export function validateCrd(obj: KubeObject, old?: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  const spec = (obj.spec ?? {}) as CrdSpec;
  const names = spec.names ?? {};
  if (!spec.group) errors.push(requiredValue('spec.group'));
  else {
    for (const e of dns1123SubdomainErrors(spec.group)) errors.push(invalidValue('spec.group', spec.group, e));
    if (!spec.group.includes('.')) errors.push(invalidValue('spec.group', spec.group, 'should be a domain with at least one dot'));
  }
  if (!names.plural) errors.push(requiredValue('spec.names.plural'));
  else for (const e of dns1035LabelErrors(names.plural)) errors.push(invalidValue('spec.names.plural', names.plural, e));
  if (!names.kind) errors.push(requiredValue('spec.names.kind'));
  if (!names.listKind) errors.push(requiredValue('spec.names.listKind'));
  if (names.plural && spec.group && obj.metadata.name !== `${names.plural}.${spec.group}`) {
    errors.push(invalidValue('metadata.name', obj.metadata.name ?? '', 'must be spec.names.plural+"."+spec.group'));
  }
  if (!scopes.includes(spec.scope as (typeof scopes)[number])) errors.push(unsupportedValue('spec.scope', spec.scope ?? '', scopes));
  const versions = spec.versions ?? [];
  if (versions.length === 0) errors.push(requiredValue('spec.versions', 'must have exactly one version marked as storage version'));
  else if (versions.filter((v) => v.storage === true).length !== 1) {
    errors.push(invalidValue('spec.versions', versions.map((v) => v.name), 'must have exactly one version marked as storage version'));
  }
  if (versions.length > 0 && !versions.some((v) => v.served === true)) errors.push(invalidValue('spec.versions', versions.map((v) => v.name), 'must have at least one version marked as served'));
  const seen = new Set<string>();
  versions.forEach((v, i) => {
    const at = `spec.versions[${i}]`;
    if (!v.name) errors.push(requiredValue(`${at}.name`));
    else if (seen.has(v.name)) errors.push(invalidValue(`${at}.name`, v.name, 'must appear only once'));
    if (v.name) seen.add(v.name);
    const schema = v.schema?.openAPIV3Schema;
    if (!schema) {
      errors.push(requiredValue(`${at}.schema.openAPIV3Schema`, 'schemas are required'));
      return;
    }
    const before = errors.length;
    structuralErrors(schema, `${at}.schema.openAPIV3Schema`, errors, true);
    if (errors.length === before) {
      try {
        compileSchema(schema);
      } catch (e) {
        errors.push(invalidValue(`${at}.schema.openAPIV3Schema`, '', `the schema cannot be used: ${(e as Error).message}`));
      }
    }
    (v.additionalPrinterColumns ?? []).forEach((c, j) => {
      if (!c.name) errors.push(requiredValue(`${at}.additionalPrinterColumns[${j}].name`));
      if (!c.jsonPath) errors.push(requiredValue(`${at}.additionalPrinterColumns[${j}].jsonPath`));
      if (!['integer', 'number', 'string', 'boolean', 'date'].includes(c.type)) {
        errors.push(unsupportedValue(`${at}.additionalPrinterColumns[${j}].type`, c.type, ['boolean', 'date', 'integer', 'number', 'string']));
      }
    });
  });
  const strategy = spec.conversion?.strategy;
  if (strategy !== 'None' && strategy !== 'Webhook') errors.push(unsupportedValue('spec.conversion.strategy', strategy, ['None', 'Webhook']));
  if (old) {
    const was = (old.spec ?? {}) as CrdSpec;
    if (was.scope !== spec.scope) errors.push(invalidValue('spec.scope', spec.scope, 'field is immutable'));
    if (was.group !== spec.group) errors.push(invalidValue('spec.group', spec.group, 'field is immutable'));
  }
  if (spec.preserveUnknownFields === true) errors.push(forbiddenField('spec.preserveUnknownFields', 'cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead'));
  return errors;
}

/** The status the apiextensions controllers settle on for an accepted CRD. */
export function crdStatus(obj: KubeObject, old: KubeObject | undefined, now: string): Record<string, unknown> {
  const spec = obj.spec as CrdSpec;
  const storageVersion = spec.versions!.find((v) => v.storage)!.name!;
  const before = (old?.status ?? {}) as { storedVersions?: string[]; conditions?: { type: string; lastTransitionTime?: string }[] };
  const stored = [...(before.storedVersions ?? [])];
  if (!stored.includes(storageVersion)) stored.push(storageVersion);
  const since = (type: string): string => before.conditions?.find((c) => c.type === type)?.lastTransitionTime ?? now;
  return {
    conditions: [
      { type: 'NamesAccepted', status: 'True', lastTransitionTime: since('NamesAccepted'), reason: 'NoConflicts', message: 'no conflicts found' },
      { type: 'Established', status: 'True', lastTransitionTime: since('Established'), reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' },
    ],
    acceptedNames: structuredClone(spec.names),
    storedVersions: stored,
  };
}

/** One resource definition per served version. */
export function servedResources(obj: KubeObject): ResourceDefinition[] {
  const spec = obj.spec as CrdSpec;
  const names = spec.names!;
  const storageVersion = spec.versions!.find((v) => v.storage)!.name!;
  return spec.versions!
    .filter((v) => v.served)
    .map((v) => ({
      group: spec.group!,
      version: v.name!,
      resource: names.plural!,
      singular: names.singular ?? names.kind!.toLowerCase(),
      kind: names.kind!,
      namespaced: spec.scope === 'Namespaced',
      shortNames: names.shortNames ?? [],
      ...(names.categories ? { categories: names.categories } : {}),
      hasStatus: v.subresources?.status !== undefined,
      tracksGeneration: true,
      storage: customStorageOf(spec.group!, names.plural!),
      nameRule: 'dns1123Subdomain' as const,
      custom: {
        crdName: obj.metadata.name!,
        storageVersion,
        schema: v.schema?.openAPIV3Schema,
        printerColumns: v.additionalPrinterColumns,
        ...(v.deprecated ? { deprecationWarning: v.deprecationWarning ?? `${spec.group!}/${v.name!} ${names.kind!} is deprecated` } : {}),
      },
    }));
}
