// Generates builtinSchemas.generated.json: OpenAPI v3 schemas of the built-in kinds this server
// serves, with Kubernetes' own field descriptions, derived from the published API types that the
// kubernetes-models package (a devDependency) carries in its .d.ts files. Nothing here is written
// by hand: re-run after upgrading kubernetes-models:
//   npx tsx src/apiserver/generateBuiltinSchemas.ts
// Known loss: TypeScript has one `number`, so every number is served as `integer` (the served
// kinds have no floating-point fields).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

const kinds = [
  { file: 'kubernetes-models/v1/Namespace.d.ts', group: '', version: 'v1', kind: 'Namespace' },
  { file: 'kubernetes-models/v1/Node.d.ts', group: '', version: 'v1', kind: 'Node' },
  { file: 'kubernetes-models/v1/Service.d.ts', group: '', version: 'v1', kind: 'Service' },
  { file: 'kubernetes-models/v1/ConfigMap.d.ts', group: '', version: 'v1', kind: 'ConfigMap' },
  { file: 'kubernetes-models/v1/Secret.d.ts', group: '', version: 'v1', kind: 'Secret' },
  { file: 'kubernetes-models/v1/Event.d.ts', group: '', version: 'v1', kind: 'Event' },
  { file: 'kubernetes-models/events.k8s.io/v1/Event.d.ts', group: 'events.k8s.io', version: 'v1', kind: 'Event' },
  { file: 'kubernetes-models/discovery.k8s.io/v1/EndpointSlice.d.ts', group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice' },
  { file: 'kubernetes-models/coordination.k8s.io/v1/Lease.d.ts', group: 'coordination.k8s.io', version: 'v1', kind: 'Lease' },
  { file: 'kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition.d.ts', group: 'apiextensions.k8s.io', version: 'v1', kind: 'CustomResourceDefinition' },
];

type Schema = Record<string, unknown>;

/** node_modules, found from the kubernetes-models package itself. */
function packageDir(start: string): string {
  let dir = dirname(start);
  while (!dir.endsWith('/kubernetes-models') && dir !== '/') dir = dirname(dir);
  if (dir === '/') throw new Error(`kubernetes-models not found from ${start}`);
  return dir;
}
const modelsDir = packageDir(fileURLToPath(import.meta.resolve('kubernetes-models')));
const modelsRoot = dirname(modelsDir);
const files = kinds.map((k) => join(modelsRoot, k.file));
const program = ts.createProgram(files, { strict: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext });
const checker = program.getTypeChecker();
const schemas: Record<string, Schema> = {};

/** A stable name from where the interface is declared: kubernetes-models.v1.ServiceSpec. */
function nameOf(type: ts.Type): string {
  const decl = type.symbol?.declarations?.[0];
  const file = decl ? relative(modelsRoot, decl.getSourceFile().fileName) : 'unknown';
  return file.replace(/\.d\.ts$/, '').replace(/^@/, '').replace(/\//g, '.');
}

function describe(symbol: ts.Symbol): string {
  return ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
}

function schemaOf(type: ts.Type): Schema {
  const text = checker.typeToString(type);
  if (type.flags & ts.TypeFlags.String || type.flags & ts.TypeFlags.StringLiteral) return { type: 'string' };
  if (type.flags & ts.TypeFlags.Number) return { type: 'integer' };
  if (text === 'boolean' || type.flags & ts.TypeFlags.Boolean) return { type: 'boolean' };
  if (type.isUnion()) {
    const parts = type.types.filter((t) => !(t.flags & ts.TypeFlags.Undefined));
    if (parts.every((t) => t.isStringLiteral())) return { type: 'string', enum: parts.map((t) => (t as ts.StringLiteralType).value) };
    if (parts.some((t) => t.flags & ts.TypeFlags.String) && parts.some((t) => t.flags & ts.TypeFlags.Number)) return intOrString(type);
    if (parts.length === 1) return schemaOf(parts[0]!);
    if (parts.every((t) => t.flags & ts.TypeFlags.BooleanLiteral)) return { type: 'boolean' };
    return {};
  }
  if (checker.isArrayType(type)) return { type: 'array', items: schemaOf(checker.getTypeArguments(type as ts.TypeReference)[0]!) };
  const index = type.getStringIndexType();
  if (index && type.getProperties().length === 0) return { type: 'object', additionalProperties: schemaOf(index) };
  if (type.flags & ts.TypeFlags.Object && type.getProperties().length > 0) return { $ref: `#/components/schemas/${define(type)}` };
  return type.flags & ts.TypeFlags.Any || type.flags & ts.TypeFlags.Unknown ? { 'x-kubernetes-preserve-unknown-fields': true } : { type: 'object' };
}

/** IntOrString (and Quantity): a named component, as the real documents have, so kubectl prints <IntOrString>. */
function intOrString(type: ts.Type): Schema {
  const alias = type.aliasSymbol;
  const decl = alias?.declarations?.[0];
  if (!alias || !decl) return { 'x-kubernetes-int-or-string': true };
  const name = relative(modelsRoot, decl.getSourceFile().fileName).replace(/\.d\.ts$/, '').replace(/^@/, '').replace(/\//g, '.');
  if (!schemas[name]) {
    const description = describe(alias);
    schemas[name] = { type: 'string', format: 'int-or-string', 'x-kubernetes-int-or-string': true, ...(description ? { description } : {}) };
  }
  return { $ref: `#/components/schemas/${name}` };
}

function define(type: ts.Type, gvk?: { group: string; version: string; kind: string }): string {
  const name = gvk ? `${nameOf(type)}` : nameOf(type);
  if (schemas[name]) return name;
  const schema: Schema = { type: 'object' };
  schemas[name] = schema;
  const description = type.symbol ? describe(type.symbol) : '';
  if (description) schema.description = description;
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  for (const prop of type.getProperties()) {
    const decl = prop.valueDeclaration ?? prop.declarations?.[0];
    if (!decl) continue;
    // The declared type keeps its alias (IntOrString), which the optional property's type loses.
    const typeNode = ts.isPropertySignature(decl) ? decl.type : undefined;
    const propType = typeNode ? checker.getTypeFromTypeNode(typeNode) : checker.getTypeOfSymbolAtLocation(prop, decl);
    let child = schemaOf(propType);
    const doc = describe(prop);
    // As the real server writes it: a described reference is wrapped in allOf.
    if (child.$ref && doc) child = { allOf: [child], description: doc };
    else if (doc) child = { ...child, description: doc };
    properties[prop.name] = child;
    if (!(prop.flags & ts.SymbolFlags.Optional)) required.push(prop.name);
  }
  schema.properties = properties;
  if (required.length > 0) schema.required = required;
  if (gvk) schema['x-kubernetes-group-version-kind'] = [gvk];
  return name;
}

const top: Record<string, string> = {};
kinds.forEach((k, i) => {
  const source = program.getSourceFile(files[i]!)!;
  const iface = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === `I${k.kind}`);
  if (!iface) throw new Error(`no interface I${k.kind} in ${k.file}`);
  const type = checker.getTypeAtLocation(iface);
  top[`${k.group}/${k.version}/${k.kind}`] = define(type, { group: k.group, version: k.version, kind: k.kind });
});

const version = (JSON.parse(readFileSync(join(modelsDir, 'package.json'), 'utf8')) as { version: string }).version;
const out = join(dirname(new URL(import.meta.url).pathname), 'builtinSchemas.generated.json');
writeFileSync(out, `${JSON.stringify({ generatedFrom: `kubernetes-models@${version}`, kinds: top, schemas }, null, 1)}\n`);
process.stdout.write(`wrote ${Object.keys(schemas).length} schemas for ${kinds.length} kinds to ${out}\n`);
