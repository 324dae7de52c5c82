// A schema-driven decoder of the Kubernetes protobuf encoding (what kubectl's typed clients send,
// e.g. `kubectl create service`) into plain JSON. protobufjs reads the wire format; the schema says
// what each field number means, and which zero values Go writes that JSON would have omitted.
import protobuf, { type Reader } from 'protobufjs/minimal.js';

const { Reader: WireReader } = protobuf;

export type FieldType = 'string' | 'int' | 'bool' | 'bytes' | 'message' | 'map' | 'time' | 'intOrString';

export interface FieldSchema {
  name: string;
  type: FieldType;
  repeated?: boolean;
  /** Go pointer fields are only sent when set, so their zero values are meaningful. */
  pointer?: boolean;
  message?: MessageSchema;
  /** Fields that are decoded but dropped (status on create, managedFields). */
  ignore?: boolean;
}

export type MessageSchema = Record<number, FieldSchema>;

class ProtobufError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isZero(v: unknown): boolean {
  return v === '' || v === 0 || v === false || v === undefined || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
}

/** A signed 64-bit varint (Go's int32/int64) as a number. */
function int64(r: Reader): number {
  return protobuf.util.LongBits.from(r.int64()).toNumber(false);
}

/** Reads each field of a message: `onField` reads its value, or skips it. */
function eachField(bytes: Uint8Array, onField: (r: Reader, number: number, wireType: number) => void): void {
  const r = WireReader.create(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    onField(r, tag >>> 3, tag & 7);
  }
}

function decodeTime(bytes: Uint8Array): string | undefined {
  let seconds = 0;
  let nanos = 0;
  eachField(bytes, (r, field, wireType) => {
    if (field === 1 && wireType === 0) seconds = int64(r);
    else if (field === 2 && wireType === 0) nanos = int64(r);
    else r.skipType(wireType);
  });
  if (seconds === 0 && nanos === 0) return undefined;
  return new Date(seconds * 1000 + Math.floor(nanos / 1e6)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function decodeIntOrString(bytes: Uint8Array): number | string {
  let type = 0;
  let intVal = 0;
  let strVal = '';
  eachField(bytes, (r, field, wireType) => {
    if (field === 1) type = int64(r);
    else if (field === 2) intVal = int64(r);
    else if (field === 3) strVal = utf8.decode(r.bytes());
    else r.skipType(wireType);
  });
  return type === 1 ? strVal : intVal;
}

function decodeMapEntry(bytes: Uint8Array, valueIsBytes: boolean): [string, string] {
  let key = '';
  let value = '';
  eachField(bytes, (r, field, wireType) => {
    if (field === 1) key = utf8.decode(r.bytes());
    else if (field === 2) {
      const raw = r.bytes();
      value = valueIsBytes ? Buffer.from(raw).toString('base64') : utf8.decode(raw);
    } else r.skipType(wireType);
  });
  return [key, value];
}

function decodeValue(r: Reader, f: FieldSchema, where: string): unknown {
  switch (f.type) {
    case 'string':
      return utf8.decode(r.bytes());
    case 'bytes':
      return Buffer.from(r.bytes()).toString('base64');
    case 'int':
      return int64(r);
    case 'bool':
      return r.bool();
    case 'time':
      return decodeTime(r.bytes());
    case 'intOrString':
      return decodeIntOrString(r.bytes());
    case 'message':
      return decodeMessage(r.bytes(), f.message!, `${where}.${f.name}`);
    case 'map':
      return decodeMapEntry(r.bytes(), f.message !== undefined);
  }
}

export function decodeMessage(bytes: Uint8Array, schema: MessageSchema, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const explicit = new Set<string>();
  eachField(bytes, (r, number, wireType) => {
    const f = schema[number];
    if (!f) throw new ProtobufError(`${where}: field ${number} is not understood by this API server`);
    if (f.ignore) {
      r.skipType(wireType);
      return;
    }
    const value = decodeValue(r, f, where);
    if (f.type === 'map') {
      const [k, v] = value as [string, string];
      const map = (out[f.name] as Record<string, string> | undefined) ?? {};
      // Own data property even for a key such as `__proto__` (the body check then refuses it).
      Object.defineProperty(map, k, { value: v, enumerable: true, writable: true, configurable: true });
      out[f.name] = map;
    } else if (f.repeated) {
      const list = (out[f.name] as unknown[] | undefined) ?? [];
      list.push(value);
      out[f.name] = list;
    } else {
      out[f.name] = value;
      if (f.pointer) explicit.add(f.name);
    }
  });
  // Go writes non-pointer fields even when empty; JSON would have omitted them.
  for (const [k, v] of Object.entries(out)) if (isZero(v) && !explicit.has(k)) delete out[k];
  return out;
}
