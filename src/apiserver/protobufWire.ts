// A schema-driven reader for the protobuf wire format, enough to turn the Kubernetes protobuf
// encoding (what kubectl's typed clients send, e.g. `kubectl create service`) into plain JSON.

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

export class ProtobufError extends Error {}

class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new ProtobufError('truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new ProtobufError('varint too long');
    }
  }

  bytes(): Uint8Array {
    const len = Number(this.varint());
    if (this.pos + len > this.buf.length) throw new ProtobufError('truncated length-delimited field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.pos += 4;
    else throw new ProtobufError(`unsupported wire type ${wireType}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isZero(v: unknown): boolean {
  return v === '' || v === 0 || v === false || v === undefined || (typeof v === 'object' && v !== null && Object.keys(v).length === 0);
}

function signed64(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}

function decodeTime(bytes: Uint8Array): string | undefined {
  const r = new Reader(bytes);
  let seconds = 0;
  let nanos = 0;
  while (!r.done) {
    const tag = Number(r.varint());
    if (tag >> 3 === 1 && (tag & 7) === 0) seconds = signed64(r.varint());
    else if (tag >> 3 === 2 && (tag & 7) === 0) nanos = signed64(r.varint());
    else r.skip(tag & 7);
  }
  if (seconds === 0 && nanos === 0) return undefined;
  return new Date(seconds * 1000 + Math.floor(nanos / 1e6)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function decodeIntOrString(bytes: Uint8Array): number | string {
  const r = new Reader(bytes);
  let type = 0;
  let intVal = 0;
  let strVal = '';
  while (!r.done) {
    const tag = Number(r.varint());
    const field = tag >> 3;
    if (field === 1) type = signed64(r.varint());
    else if (field === 2) intVal = signed64(r.varint());
    else if (field === 3) strVal = utf8.decode(r.bytes());
    else r.skip(tag & 7);
  }
  return type === 1 ? strVal : intVal;
}

function decodeMapEntry(bytes: Uint8Array, valueIsBytes: boolean): [string, string] {
  const r = new Reader(bytes);
  let key = '';
  let value = '';
  while (!r.done) {
    const tag = Number(r.varint());
    const field = tag >> 3;
    if (field === 1) key = utf8.decode(r.bytes());
    else if (field === 2) {
      const raw = r.bytes();
      value = valueIsBytes ? Buffer.from(raw).toString('base64') : utf8.decode(raw);
    } else r.skip(tag & 7);
  }
  return [key, value];
}

export function decodeMessage(bytes: Uint8Array, schema: MessageSchema, where: string): Record<string, unknown> {
  const r = new Reader(bytes);
  const out: Record<string, unknown> = {};
  const explicit = new Set<string>();
  while (!r.done) {
    const tag = Number(r.varint());
    const number = tag >> 3;
    const wireType = tag & 7;
    const f = schema[number];
    if (!f) throw new ProtobufError(`${where}: field ${number} is not understood by this API server`);
    if (f.ignore) {
      r.skip(wireType);
      continue;
    }
    let value: unknown;
    switch (f.type) {
      case 'string':
        value = utf8.decode(r.bytes());
        break;
      case 'bytes':
        value = Buffer.from(r.bytes()).toString('base64');
        break;
      case 'int':
        value = signed64(r.varint());
        break;
      case 'bool':
        value = r.varint() !== 0n;
        break;
      case 'time':
        value = decodeTime(r.bytes());
        break;
      case 'intOrString':
        value = decodeIntOrString(r.bytes());
        break;
      case 'message':
        value = decodeMessage(r.bytes(), f.message!, `${where}.${f.name}`);
        break;
      case 'map': {
        const [k, v] = decodeMapEntry(r.bytes(), f.message === undefined ? false : true);
        const map = (out[f.name] as Record<string, string> | undefined) ?? {};
        // Own data property even for a key such as `__proto__` (the body check then refuses it).
        Object.defineProperty(map, k, { value: v, enumerable: true, writable: true, configurable: true });
        out[f.name] = map;
        continue;
      }
    }
    if (f.repeated) {
      const list = (out[f.name] as unknown[] | undefined) ?? [];
      list.push(value);
      out[f.name] = list;
    } else {
      out[f.name] = value;
      if (f.pointer) explicit.add(f.name);
    }
  }
  // Go writes non-pointer fields even when empty; JSON would have omitted them.
  for (const [k, v] of Object.entries(out)) if (isZero(v) && !explicit.has(k)) delete out[k];
  return out;
}
