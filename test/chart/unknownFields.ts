// Finds fields that the Kubernetes API does not know (a misplaced or misspelt key in a template),
// which the kubernetes-models validators let through because the OpenAPI schemas they are built
// from do not forbid additional properties. The field names and types come from
// @kubernetes/client-node's generated models (attributeTypeMap), the same API definitions.
import * as k8s from '@kubernetes/client-node';

interface Attribute {
  baseName: string;
  type: string;
}
interface ModelClass {
  getAttributeTypeMap(): Attribute[];
}

const models = k8s as unknown as Record<string, unknown>;

function modelClass(typeName: string): ModelClass | undefined {
  const candidate = models[typeName] as Partial<ModelClass> | undefined;
  return typeof candidate?.getAttributeTypeMap === 'function' ? (candidate as ModelClass) : undefined;
}

/** client-node's class name for an object's apiVersion and kind, e.g. apps/v1 Deployment -> V1Deployment. */
export function modelNameFor(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').pop() ?? apiVersion;
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
}

/** Paths of the fields in `value` that type `typeName` does not declare. */
export function unknownFields(value: unknown, typeName: string, path = ''): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(typeName);
  if (array) {
    if (!Array.isArray(value)) return [];
    return value.flatMap((item, i) => unknownFields(item, array[1]!, `${path}[${i}]`));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(typeName);
  if (map) {
    if (typeof value !== 'object') return [];
    return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => unknownFields(item, map[1]!, `${path}.${key}`));
  }
  const model = modelClass(typeName);
  if (!model || typeof value !== 'object' || Array.isArray(value)) return [];
  const attributes = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  const found: string[] = [];
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const type = attributes.get(key);
    if (type === undefined) found.push(`${path}.${key}`.replace(/^\./, ''));
    else found.push(...unknownFields(item, type, `${path}.${key}`));
  }
  return found;
}

/** True if client-node has a model for this apiVersion and kind. */
export function hasModel(apiVersion: string, kind: string): boolean {
  return modelClass(modelNameFor(apiVersion, kind)) !== undefined;
}
