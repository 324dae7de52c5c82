// Discovery (/api, /apis, /apis/{g}/{v}) and OpenAPI v3 (/openapi/v3 and one document per group
// version). The documents carry what kubectl looks for: a PATCH operation per kind accepting the
// fieldValidation query parameter (so kubectl leaves validation to the server), and the schemas
// `kubectl explain` prints: built-in kinds from builtinSchemas.generated.json (generated from
// kubernetes-models), custom resources from their CRD's openAPIV3Schema.
import { createHash } from 'node:crypto';
import generatedSchemas from './builtinSchemas.generated.json' with { type: 'json' };
import { resourceVerbs, type ResourceCatalog, type ResourceDefinition } from './resourceCatalog.js';

export const serverVersion = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0+kube-lb-provisioner',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z',
  goVersion: 'go1.23.0',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export function apiVersions(serverAddress: string): object {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

export function apiResourceList(catalog: ResourceCatalog, group: string, version: string): object | undefined {
  const defs = catalog.all().filter((r) => r.group === group && r.version === version);
  if (defs.length === 0) return undefined;
  const resources: object[] = [];
  for (const r of defs) {
    const entry: Record<string, unknown> = {
      name: r.resource,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: resourceVerbs,
    };
    if (r.shortNames.length > 0) entry.shortNames = r.shortNames;
    if (r.categories) entry.categories = r.categories;
    resources.push(entry);
    if (r.hasStatus) resources.push({ name: `${r.resource}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
}

function groupDocument(catalog: ResourceCatalog, name: string): object {
  const versions = catalog
    .groupVersions()
    .filter((gv) => gv.group === name)
    .map((gv) => ({ groupVersion: `${gv.group}/${gv.version}`, version: gv.version }));
  return { name, versions, preferredVersion: versions[0] };
}

export function apiGroupList(catalog: ResourceCatalog): object {
  const names = [...new Set(catalog.groupVersions().map((gv) => gv.group))].filter(Boolean);
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: names.map((n) => groupDocument(catalog, n)) };
}

export function apiGroup(catalog: ResourceCatalog, name: string): object | undefined {
  if (!catalog.groupVersions().some((gv) => gv.group === name)) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupDocument(catalog, name) };
}

const builtinSchemas = generatedSchemas as unknown as { generatedFrom: string; kinds: Record<string, string>; schemas: Record<string, Record<string, unknown>> };

const openapiPath = (group: string, version: string): string => (group ? `apis/${group}/${version}` : `api/${version}`);

/** The schemas of one group version: built-ins from kubernetes-models, custom resources from their CRD. */
function componentSchemas(catalog: ResourceCatalog, group: string, version: string): Record<string, unknown> {
  const defs = catalog.all().filter((d) => d.group === group && d.version === version);
  const schemas: Record<string, unknown> = {};
  if (defs.some((d) => !d.custom)) Object.assign(schemas, builtinSchemas.schemas);
  for (const d of defs) {
    if (!d.custom) continue;
    Object.assign(schemas, referencedBy(objectMetaName));
    schemas[`${d.group}.${d.version}.${d.kind}`] = customResourceSchema(d);
  }
  return schemas;
}

const objectMetaName = 'kubernetes-models.apimachinery.apis.meta.v1.ObjectMeta';

/** A schema and everything it references, for documents that need only ObjectMeta. */
function referencedBy(name: string, out: Record<string, unknown> = {}): Record<string, unknown> {
  if (out[name] !== undefined) return out;
  const schema = builtinSchemas.schemas[name];
  if (schema === undefined) return out;
  out[name] = schema;
  for (const ref of JSON.stringify(schema).matchAll(/"#\/components\/schemas\/([^"]+)"/g)) referencedBy(ref[1]!, out);
  return out;
}

function customResourceSchema(def: ResourceDefinition): Record<string, unknown> {
  const schema = structuredClone(def.custom?.schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }) as Record<string, unknown>;
  const properties = (schema.properties ?? {}) as Record<string, unknown>;
  // As the apiextensions server publishes it: apiVersion, kind and metadata are always described.
  properties.apiVersion ??= builtinProperty('apiVersion');
  properties.kind ??= builtinProperty('kind');
  properties.metadata = { allOf: [{ $ref: `#/components/schemas/${objectMetaName}` }], description: 'Standard object\'s metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata' };
  schema.properties = properties;
  schema['x-kubernetes-group-version-kind'] = [{ group: def.group, version: def.version, kind: def.kind }];
  return schema;
}

function builtinProperty(name: 'apiVersion' | 'kind'): unknown {
  const service = builtinSchemas.schemas[builtinSchemas.kinds['/v1/Service'] ?? ''];
  return (service?.properties as Record<string, unknown> | undefined)?.[name];
}

function documentHash(catalog: ResourceCatalog, group: string, version: string): string {
  const custom = catalog.all().filter((d) => d.group === group && d.version === version && d.custom);
  return createHash('sha256').update(builtinSchemas.generatedFrom).update(JSON.stringify(custom)).digest('hex').slice(0, 32).toUpperCase();
}

export function openapiV3Root(catalog: ResourceCatalog): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const gv of catalog.groupVersions()) {
    const p = openapiPath(gv.group, gv.version);
    // kubectl caches documents by this URL: the hash changes whenever a CRD changes the document.
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${documentHash(catalog, gv.group, gv.version)}` };
  }
  return { paths };
}

export function openapiV3Document(catalog: ResourceCatalog, path: string): object | undefined {
  const gv = catalog.groupVersions().find((g) => openapiPath(g.group, g.version) === path);
  if (!gv) return undefined;
  const paths: Record<string, object> = {};
  for (const r of catalog.all().filter((d) => d.group === gv.group && d.version === gv.version)) {
    const base = `/${openapiPath(r.group, r.version)}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.resource}/{name}`;
    paths[base] = {
      patch: {
        operationId: `patch${r.kind}`,
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
        parameters: [
          { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
        ],
        responses: { '200': { description: 'OK' } },
      },
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: serverVersion.gitVersion },
    paths,
    components: { schemas: componentSchemas(catalog, gv.group, gv.version) },
  };
}
