// The chart and the controller agree on the configuration: the ConfigMap the chart renders parses
// with controllerConfigSchema in strict mode (no key the controller would ignore), every key the
// controller accepts can be set through the chart, and values.schema.json allows exactly the keys the
// controller accepts (plus the chart's own: enabled and the cloud identities).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { controllerConfigSchema, providerConfigSchema } from '../../src/config/schema.js';
import { chartDir, cloudValuesFiles, findManifest, fixturesDir, releaseName, renderChart, type RenderOptions, withSiteValues } from './helmChart.js';
import { declaredKeys, undeclaredKeys, unwrapSchema } from './zodStrict.js';

const fullname = `${releaseName}-kube-lb-provisioner`;

async function renderedConfig(options: RenderOptions): Promise<unknown> {
  const configMap = findManifest(await renderChart(options), 'ConfigMap', fullname);
  const text = (configMap.data as Record<string, string>)['config.yaml'];
  if (text === undefined) throw new Error('the ConfigMap has no config.yaml');
  return parseYaml(text) as unknown;
}

function parseStrict(config: unknown): { issues: string[]; undeclared: string[] } {
  const parsed = controllerConfigSchema.safeParse(config);
  const issues = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  return { issues, undeclared: undeclaredKeys(controllerConfigSchema, config) };
}

/**
 * Keys present in `value`, recursively, as paths; arrays contribute their elements' keys. Descends
 * only where `schema` declares an object (a record such as serviceSelector is a leaf, as in
 * schemaKeyPaths); keys the schema does not declare are undeclaredKeys' business.
 */
function keyPaths(value: unknown, schema: z.ZodType, path = ''): string[] {
  const inner = unwrapSchema(schema);
  if (Array.isArray(value)) {
    if (!(inner instanceof z.ZodArray)) return [];
    return [...new Set(value.flatMap((item) => keyPaths(item, inner.element as z.ZodType, `${path}[]`)))];
  }
  if (value === null || typeof value !== 'object' || !(inner instanceof z.ZodObject)) return [];
  const shape = inner.shape as Record<string, z.ZodType>;
  return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => {
    const at = path ? `${path}.${key}` : key;
    const child = shape[key];
    return child ? [at, ...keyPaths(item, child, at)] : [at];
  });
}

/** Keys a zod schema declares, recursively (records and primitives are leaves), as paths. */
function schemaKeyPaths(schema: z.ZodType, path = ''): string[] {
  let inner = unwrapSchema(schema);
  let at = path;
  if (inner instanceof z.ZodArray) {
    inner = unwrapSchema(inner.element as z.ZodType);
    at = `${path}[]`;
  }
  if (!(inner instanceof z.ZodObject)) return [];
  return Object.entries(inner.shape as Record<string, z.ZodType>).flatMap(([key, child]) => {
    const childPath = at ? `${at}.${key}` : key;
    return [childPath, ...schemaKeyPaths(child, childPath)];
  });
}

function providerSchema(type: string): z.ZodObject {
  const option = (providerConfigSchema.options as z.ZodType[]).find((o) => {
    const inner = unwrapSchema(o);
    return inner instanceof z.ZodObject && (inner.shape.type as z.ZodLiteral).value === type;
  });
  if (!option) throw new Error(`controllerConfigSchema has no provider of type ${type}`);
  return unwrapSchema(option) as z.ZodObject;
}

describe('the ConfigMap the chart renders', () => {
  it.each(cloudValuesFiles)('%s: parses with controllerConfigSchema, strictly', async (file) => {
    const config = await renderedConfig({ valuesFiles: withSiteValues(file) });
    expect(parseStrict(config)).toEqual({ issues: [], undeclared: [] });
  });

  it('every provider with every key set: parses strictly, and each key the providers accept arrives', async () => {
    const config = (await renderedConfig({ valuesFiles: [join(fixturesDir, 'every-provider-key.yaml')] })) as { providers: { type: string }[] };
    expect(parseStrict(config)).toEqual({ issues: [], undeclared: [] });
    expect(config.providers.map((p) => p.type).sort()).toEqual(['aws', 'gcp', 'metal']);
    for (const entry of config.providers) {
      expect(keyPaths(entry, providerSchema(entry.type)).sort(), `${entry.type}: test/chart/fixtures/every-provider-key.yaml must set every key of providers/${entry.type}/config.ts`).toEqual(
        schemaKeyPaths(providerSchema(entry.type)).sort(),
      );
    }
  });

  // aws: with metal alone clusterName is deliberately left to the controller's default (next test).
  it('sets every controller-level key itself (none left to a default the chart cannot see)', async () => {
    const config = (await renderedConfig({ valuesFiles: withSiteValues('values-aws.yaml') })) as Record<string, unknown>;
    const { providers: _rendered, ...controllerLevel } = config;
    const declared = schemaKeyPaths(controllerConfigSchema).filter((p) => !p.startsWith('providers'));
    expect(keyPaths(controllerLevel, controllerConfigSchema).sort()).toEqual(declared.sort());
  });

  it('metal alone without clusterName: the key is left out and the controller takes its default, kubernetes', async () => {
    const config = (await renderedConfig({ valuesFiles: withSiteValues('values-metal.yaml') })) as Record<string, unknown>;
    expect(config).not.toHaveProperty('clusterName');
    expect(controllerConfigSchema.parse(config).clusterName).toBe('kubernetes');
  });

  it('a clusterName given with metal reaches the controller', async () => {
    const config = (await renderedConfig({ valuesFiles: withSiteValues('values-metal.yaml'), set: { clusterName: 'lab-rack2' } })) as Record<string, unknown>;
    expect(controllerConfigSchema.parse(config).clusterName).toBe('lab-rack2');
  });

  it('puts the leader-election Lease in the release namespace, and the probes on the metrics address', async () => {
    const manifests = await renderChart({ valuesFiles: withSiteValues('values-aws.yaml'), namespace: 'lb-elsewhere', set: { 'controller.metricsPort': '9090' } });
    const config = parseYaml((findManifest(manifests, 'ConfigMap', fullname).data as Record<string, string>)['config.yaml'] ?? '') as {
      leaderElection: { namespace: string; leaseName: string };
      metricsAddress: string;
    };
    expect(config.leaderElection.namespace).toBe('lb-elsewhere');
    expect(config.leaderElection.leaseName).toBe(fullname);
    expect(config.metricsAddress).toBe('0.0.0.0:9090');
    const container = (findManifest(manifests, 'Deployment', fullname).spec as { template: { spec: { containers: { ports: { name: string; containerPort: number }[] }[] } } })
      .template.spec.containers[0];
    expect(container?.ports.find((p) => p.name === 'metrics')?.containerPort).toBe(9090);
  });

  it('omits an empty loadBalancerClass (a provider for Services without a class)', async () => {
    const config = (await renderedConfig({ valuesFiles: withSiteValues('values-aws.yaml'), set: { 'providers.aws.loadBalancerClass': '' } })) as {
      providers: Record<string, unknown>[];
    };
    expect(config.providers[0]).not.toHaveProperty('loadBalancerClass');
    expect(parseStrict(config)).toEqual({ issues: [], undeclared: [] });
  });
});

describe('values.schema.json and the controller configuration', () => {
  const valuesSchema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')) as JsonSchema;
  /** Keys only the chart uses; they never reach the controller's configuration. */
  const chartOnly: Record<string, string[]> = { aws: ['enabled', 'iamRoleArn'], gcp: ['enabled', 'serviceAccount'], metal: ['enabled'] };

  interface JsonSchema {
    $ref?: string;
    properties?: Record<string, JsonSchema>;
    items?: JsonSchema;
    definitions?: Record<string, JsonSchema>;
  }
  function resolve(node: JsonSchema): JsonSchema {
    if (!node.$ref) return node;
    const name = node.$ref.replace('#/definitions/', '');
    const target = valuesSchema.definitions?.[name];
    if (!target) throw new Error(`values.schema.json: unresolved ${node.$ref}`);
    return resolve(target);
  }
  function jsonKeyPaths(node: JsonSchema, path = ''): string[] {
    let current = resolve(node);
    let at = path;
    if (current.items) {
      current = resolve(current.items);
      at = `${path}[]`;
    }
    return Object.entries(current.properties ?? {}).flatMap(([key, child]) => {
      const childPath = at ? `${at}.${key}` : key;
      return [childPath, ...jsonKeyPaths(child, childPath)];
    });
  }

  it('lists exactly the providers the controller knows, minus the simulated one', () => {
    const types = (providerConfigSchema.options as z.ZodType[]).map((o) => ((unwrapSchema(o) as z.ZodObject).shape.type as z.ZodLiteral).value);
    const providers = valuesSchema.properties?.providers?.properties ?? {};
    expect(Object.keys(providers).sort()).toEqual(types.filter((t) => t !== 'simulated').sort());
  });

  it.each(['aws', 'gcp', 'metal'])('providers.%s allows exactly the keys the provider accepts', (type) => {
    const node = valuesSchema.properties?.providers?.properties?.[type];
    if (!node) throw new Error(`values.schema.json has no providers.${type}`);
    const allowed = jsonKeyPaths(node).filter((p) => !chartOnly[type]?.includes(p));
    const accepted = schemaKeyPaths(providerSchema(type)).filter((p) => p !== 'type');
    expect(allowed.sort(), `providers.${type} in charts/kube-lb-provisioner/values.schema.json must allow exactly the keys of providers/${type}/config.ts: add or remove the key there, and in test/chart/fixtures/every-provider-key.yaml`).toEqual(accepted.sort());
  });

  it('the controller section covers every tunable the controller accepts', () => {
    const controller = valuesSchema.properties?.controller;
    if (!controller) throw new Error('values.schema.json has no controller');
    const values = new Set(jsonKeyPaths(controller));
    // Set by the chart from the release, not from values.
    const fromRelease = new Set(['clusterName', 'leaderElection.namespace', 'leaderElection.leaseName', 'metricsAddress']);
    const missing = declaredKeys(controllerConfigSchema)
      .flatMap((key) => schemaKeyPaths(controllerConfigSchema).filter((p) => p === key || p.startsWith(`${key}.`)))
      .filter((p) => !p.startsWith('providers') && !fromRelease.has(p) && !values.has(p));
    expect(missing).toEqual([]);
  });
});
