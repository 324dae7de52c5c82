// Discovery (/api, /apis, /apis/{g}/{v}) and a minimal OpenAPI v3 index. The OpenAPI documents
// carry only what kubectl looks for: a PATCH operation per kind that accepts the fieldValidation
// query parameter, so kubectl leaves validation to the server instead of needing full schemas.
import { resourceVerbs, type ResourceCatalog } from './resourceCatalog.js';

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

const openapiPath = (group: string, version: string): string => (group ? `apis/${group}/${version}` : `api/${version}`);

export function openapiV3Root(catalog: ResourceCatalog): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const gv of catalog.groupVersions()) {
    const p = openapiPath(gv.group, gv.version);
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=0` };
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
    components: { schemas: {} },
  };
}

