// Strict-mode checks over zod schemas: zod objects strip unknown keys by default, so a key the chart
// renders but the controller does not know would vanish silently. These walk the schema to find such
// keys, and list the keys a schema declares.
import { z } from 'zod';

/** The schema under optional/default/prefault/nullable wrappers. */
export function unwrapSchema(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodNullable) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      // A .transform() (e.g. the clusterName default): the keys are those of its input schema.
      current = current.in as z.ZodType;
    } else {
      return current;
    }
  }
}

function unionOption(union: z.ZodDiscriminatedUnion, value: unknown): z.ZodType | undefined {
  const discriminator = (value as { type?: unknown } | null)?.type;
  return (union.options as z.ZodType[]).find((option) => {
    const shape = unwrapSchema(option) instanceof z.ZodObject ? (unwrapSchema(option) as z.ZodObject).shape : {};
    const literal = shape.type;
    return literal instanceof z.ZodLiteral && literal.value === discriminator;
  });
}

/** Paths of keys in `value` that `schema` does not declare (what a strict parse would reject). */
export function undeclaredKeys(schema: z.ZodType, value: unknown, path = ''): string[] {
  const inner = unwrapSchema(schema);
  if (value === null || typeof value !== 'object') return [];
  if (inner instanceof z.ZodObject) {
    const shape = inner.shape as Record<string, z.ZodType>;
    return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => {
      const child = shape[key];
      const at = path ? `${path}.${key}` : key;
      return child ? undeclaredKeys(child, item, at) : [at];
    });
  }
  if (inner instanceof z.ZodArray && Array.isArray(value)) {
    return value.flatMap((item, i) => undeclaredKeys(inner.element as z.ZodType, item, `${path}[${i}]`));
  }
  if (inner instanceof z.ZodDiscriminatedUnion) {
    const option = unionOption(inner, value);
    return option ? undeclaredKeys(option, value, path) : [`${path} (no union member for type ${String((value as { type?: unknown }).type)})`];
  }
  if (inner instanceof z.ZodRecord) {
    return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => undeclaredKeys(inner.valueType as z.ZodType, item, `${path}.${key}`));
  }
  return [];
}

/** The keys an object schema declares. */
export function declaredKeys(schema: z.ZodType): string[] {
  const inner = unwrapSchema(schema);
  if (!(inner instanceof z.ZodObject)) throw new Error(`not an object schema: ${inner.constructor.name}`);
  return Object.keys(inner.shape as Record<string, unknown>);
}

/** The declared keys of a nested object schema, by path of keys ("pools" descends into arrays). */
export function childSchema(schema: z.ZodType, key: string): z.ZodType {
  const inner = unwrapSchema(schema);
  if (!(inner instanceof z.ZodObject)) throw new Error(`not an object schema at ${key}`);
  let child = unwrapSchema((inner.shape as Record<string, z.ZodType>)[key] ?? z.never());
  if (child instanceof z.ZodArray) child = unwrapSchema(child.element as z.ZodType);
  return child;
}
