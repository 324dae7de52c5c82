// The wire format of the speakers' liveness protocol (UDP, one packet per datagram). Pure.
//
//   "KLBL" | version u8 | kind u8 | seq u32 | sender incarnation f64 | sender name |
//   subject incarnation f64 | subject name | updates u8 × (state u8, incarnation f64, name) |
//   tag: first 16 bytes of HMAC-SHA256(key, everything before it)
//
// Names are length-prefixed UTF-8 (u8, so at most 255 bytes: node names are at most 253). The tag
// both marks the packet as ours and keeps two clusters on one segment apart: the key is the
// cluster's shared secret (or, without one, a key derived from a cluster identity string), and a
// packet whose tag does not verify is dropped unread.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const LIVENESS_MAGIC = 'KLBL';
export const LIVENESS_VERSION = 1;
const TAG_BYTES = 16;

export type PacketKind = 'ping' | 'ack' | 'ping-req' | 'alive' | 'dead' | 'leave' | 'leave-ack';
const KINDS: PacketKind[] = ['ping', 'ack', 'ping-req', 'alive', 'dead', 'leave', 'leave-ack'];

/** A piggybacked piece of membership news (SWIM's infection-style dissemination). */
export interface MemberUpdate {
  state: 'alive' | 'dead';
  node: string;
  incarnation: number;
}

export interface LivenessPacket {
  kind: PacketKind;
  seq: number;
  sender: string;
  senderIncarnation: number;
  /** ping-req: whom to probe; alive/dead: whom the news is about; otherwise ''. */
  subject: string;
  subjectIncarnation: number;
  updates: MemberUpdate[];
}

/** The HMAC key: the shared secret when there is one, else the cluster identity string. */
export function livenessKey(secretOrIdentity: string | Buffer): Buffer {
  return createHmac('sha256', 'kube-lb-provisioner liveness v1').update(secretOrIdentity).digest();
}

function putName(parts: Buffer[], name: string): void {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > 255) throw new Error(`node name longer than 255 bytes: ${name.slice(0, 40)}…`);
  parts.push(Buffer.from([bytes.length]), bytes);
}

function f64(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(value);
  return b;
}

export function encodePacket(packet: LivenessPacket, key: Buffer): Buffer {
  const head = Buffer.alloc(10);
  head.write(LIVENESS_MAGIC, 0, 'ascii');
  head.writeUInt8(LIVENESS_VERSION, 4);
  head.writeUInt8(KINDS.indexOf(packet.kind), 5);
  head.writeUInt32BE(packet.seq >>> 0, 6);
  const parts: Buffer[] = [head, f64(packet.senderIncarnation)];
  putName(parts, packet.sender);
  parts.push(f64(packet.subjectIncarnation));
  putName(parts, packet.subject);
  const updates = packet.updates.slice(0, 255);
  parts.push(Buffer.from([updates.length]));
  for (const u of updates) {
    parts.push(Buffer.from([u.state === 'alive' ? 0 : 1]), f64(u.incarnation));
    putName(parts, u.node);
  }
  const body = Buffer.concat(parts);
  const tag = createHmac('sha256', key).update(body).digest().subarray(0, TAG_BYTES);
  return Buffer.concat([body, tag]);
}

/** The packet, or undefined when it is not ours, is from another cluster, or is malformed. */
export function decodePacket(data: Buffer, key: Buffer): LivenessPacket | undefined {
  if (data.length < 10 + TAG_BYTES || data.toString('ascii', 0, 4) !== LIVENESS_MAGIC || data.readUInt8(4) !== LIVENESS_VERSION) return undefined;
  const body = data.subarray(0, data.length - TAG_BYTES);
  const expected = createHmac('sha256', key).update(body).digest().subarray(0, TAG_BYTES);
  if (!timingSafeEqual(expected, data.subarray(data.length - TAG_BYTES))) return undefined;
  try {
    let at = 10;
    const readF64 = () => {
      const v = body.readDoubleBE(at);
      at += 8;
      return v;
    };
    const readName = () => {
      const len = body.readUInt8(at);
      if (at + 1 + len > body.length) throw new RangeError('name runs past the packet');
      const name = body.toString('utf8', at + 1, at + 1 + len);
      at += 1 + len;
      return name;
    };
    const kind = KINDS[body.readUInt8(5)];
    if (!kind) return undefined;
    const seq = body.readUInt32BE(6);
    const senderIncarnation = readF64();
    const sender = readName();
    const subjectIncarnation = readF64();
    const subject = readName();
    const count = body.readUInt8(at++);
    const updates: MemberUpdate[] = [];
    for (let i = 0; i < count; i++) {
      const state = body.readUInt8(at++) === 0 ? 'alive' : 'dead';
      const incarnation = readF64();
      updates.push({ state, incarnation, node: readName() });
    }
    if (at !== body.length) return undefined;
    return { kind, seq, sender, senderIncarnation, subject, subjectIncarnation, updates };
  } catch {
    return undefined;
  }
}
