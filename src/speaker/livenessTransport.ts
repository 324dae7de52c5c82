// The liveness protocol's edge: one UDP socket (dual-stack where the host has IPv6), the timer
// that drives ticks, and the node name -> address book (the Nodes' InternalIPs, and the source
// of packets heard). Everything the protocol decides is in livenessProtocol.ts.
import { createSocket, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../observability/logger.js';
import { decodePacket, encodePacket } from './livenessPacket.js';
import type { LivenessOutput, LivenessProtocol, Outgoing } from './livenessProtocol.js';

export interface LivenessTransportOptions {
  protocol: LivenessProtocol;
  port: number;
  key: Buffer;
  logger: Logger;
  /** Called with everything the protocol produced (membership changes, RTTs, detections). */
  onOutput: (output: LivenessOutput) => void;
}

export class LivenessTransport {
  private socket: Socket | undefined;
  private dualStack = true;
  private timer: NodeJS.Timeout | undefined;
  private readonly addresses = new Map<string, string>();
  private deferred: { outgoing: Outgoing; generation: number }[] = [];
  private generation = 0;
  private stopped = false;

  constructor(private readonly options: LivenessTransportOptions) {}

  /** Monotonic milliseconds: the protocol's clock must not jump with the wall clock. */
  now(): number {
    return performance.now();
  }

  async start(): Promise<void> {
    this.socket = await this.bind(true).catch(() => {
      this.dualStack = false;
      return this.bind(false);
    });
    this.socket.on('message', (data, rinfo) => {
      const packet = decodePacket(data, this.options.key);
      if (!packet) return;
      this.addresses.set(packet.sender, this.addresses.get(packet.sender) ?? rinfo.address);
      this.options.protocol.receive(packet, this.now());
      this.pump();
    });
    this.socket.on('error', (error) => this.options.logger.warn({ err: error }, 'speaker: liveness socket error'));
    this.pump();
  }

  private bind(dual: boolean): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = createSocket({ type: dual ? 'udp6' : 'udp4', ipv6Only: false, reuseAddr: false });
      socket.once('error', reject);
      socket.bind(this.options.port, dual ? '::' : '0.0.0.0', () => {
        socket.off('error', reject);
        resolve(socket);
      });
    });
  }

  /** The speakers to watch: node name -> its InternalIP. */
  setPeers(peers: Map<string, string>): void {
    for (const [name, address] of peers) this.addresses.set(name, address);
    this.options.protocol.setMembers(peers.keys(), this.now());
    this.pump();
  }

  /** The direct path's verdicts now (empty while this speaker hears no one). */
  verdicts(): Map<string, boolean> {
    return this.options.protocol.verdicts(this.now());
  }

  /** A convergence pass starts: packets deferred until now go out when it ends. */
  beginPass(): number {
    return ++this.generation;
  }

  /** A convergence pass that began with `generation` ended: send what waited for it. */
  endPass(generation: number): void {
    const due = this.deferred.filter((d) => d.generation <= generation);
    this.deferred = this.deferred.filter((d) => d.generation > generation);
    for (const d of due) this.send(d.outgoing);
  }

  /**
   * Graceful stop: tells the others and waits until each live one acknowledged (it acknowledges
   * after taking over what it now owns) or `timeoutMs` passed.
   */
  async leave(timeoutMs: number): Promise<string[]> {
    const deadline = this.now() + timeoutMs;
    const protocol = this.options.protocol;
    while (this.now() < deadline) {
      protocol.leave();
      this.pump();
      if (protocol.leavePending().length === 0) return [];
      await new Promise((r) => setTimeout(r, 50));
      if (protocol.leavePending().length === 0) return [];
    }
    return protocol.leavePending();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket?.close();
  }

  /** Runs due ticks, sends what the protocol produced, and re-arms the timer. */
  private pump(): void {
    if (this.stopped) return;
    const protocol = this.options.protocol;
    const now = this.now();
    if (protocol.nextTickAt() <= now) protocol.tick(now);
    const output = protocol.take();
    for (const outgoing of output.send) {
      if (outgoing.afterConverge) this.deferred.push({ outgoing, generation: this.generation + 1 });
      else this.send(outgoing);
    }
    this.options.onOutput(output);
    if (this.timer) clearTimeout(this.timer);
    const wait = Math.min(1000, Math.max(0, protocol.nextTickAt() - this.now()));
    this.timer = setTimeout(() => this.pump(), wait);
  }

  private send(outgoing: Outgoing): void {
    const address = this.addresses.get(outgoing.to);
    if (!address || !this.socket) return;
    const target = this.dualStack && isIPv4(address) ? `::ffff:${address}` : address;
    if (!this.dualStack && !isIPv4(address)) return;
    const data = encodePacket(outgoing.packet, this.options.key);
    this.socket.send(data, this.options.port, target, (error) => {
      if (error) this.options.logger.debug({ err: error, to: outgoing.to }, 'speaker: liveness send failed');
    });
  }
}
