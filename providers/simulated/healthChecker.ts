// The simulated cloud's health checks, as real clouds run them against each target: HTTP GET
// ip:port/path answered 200 (kube-proxy's :10256/healthz for Cluster, the Service's
// healthCheckNodePort for Local), or a TCP connect. A probe key (ip, port, path) is shared by every
// load balancer that checks it. A target is unknown until first checked; one success makes it
// healthy and one failure unhealthy (real clouds count a few; the playground wants quick answers).
import http from 'node:http';
import net from 'node:net';
import type { HealthCheckSpec } from '../provider.js';

export type Probe = (ip: string, check: HealthCheckSpec, timeoutMs: number) => Promise<boolean>;

export const probeTarget: Probe = (ip, check, timeoutMs) =>
  new Promise((resolve) => {
    const done = (ok: boolean) => resolve(ok);
    if (check.protocol === 'TCP') {
      const socket = net.connect({ host: ip, port: check.port, timeout: timeoutMs });
      socket.once('connect', () => (socket.destroy(), done(true)));
      socket.once('error', () => done(false));
      socket.once('timeout', () => (socket.destroy(), done(false)));
      return;
    }
    const req = http.get({ host: ip, port: check.port, path: check.path ?? '/', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      done(res.statusCode === 200);
    });
    req.once('error', () => done(false));
    req.once('timeout', () => req.destroy(new Error('timeout')));
  });

const keyOf = (ip: string, check: HealthCheckSpec) => `${check.protocol} ${ip}:${check.port}${check.protocol === 'HTTP' ? (check.path ?? '/') : ''}`;

export class HealthChecker {
  private readonly wanted = new Map<string, Map<string, { ip: string; check: HealthCheckSpec }>>();
  private readonly results = new Map<string, boolean>();
  private readonly inFlight = new Set<string>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly intervalMs: number,
    private readonly probe: Probe = probeTarget,
  ) {
    this.timer = setInterval(() => this.checkAll(), intervalMs);
    this.timer.unref();
  }

  /** The targets one load balancer checks (replacing what it checked before); new ones are probed now. */
  track(owner: string, targets: ReadonlyArray<{ ip: string }>, check: HealthCheckSpec): void {
    const probes = new Map(targets.filter((t) => t.ip !== '').map((t) => [keyOf(t.ip, check), { ip: t.ip, check }]));
    this.wanted.set(owner, probes);
    for (const [key, p] of probes) if (!this.results.has(key)) this.run(key, p.ip, p.check);
    this.forgetUnwanted();
  }

  untrack(owner: string): void {
    this.wanted.delete(owner);
    this.forgetUnwanted();
  }

  /** true healthy, false unhealthy, undefined not checked yet. */
  state(ip: string, check: HealthCheckSpec): boolean | undefined {
    return this.results.get(keyOf(ip, check));
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private checkAll(): void {
    for (const probes of this.wanted.values()) for (const [key, p] of probes) this.run(key, p.ip, p.check);
  }

  private run(key: string, ip: string, check: HealthCheckSpec): void {
    if (this.inFlight.has(key)) return;
    this.inFlight.add(key);
    void this.probe(ip, check, Math.max(100, this.intervalMs)).then((ok) => {
      this.inFlight.delete(key);
      if ([...this.wanted.values()].some((m) => m.has(key))) this.results.set(key, ok);
    });
  }

  private forgetUnwanted(): void {
    const live = new Set([...this.wanted.values()].flatMap((m) => [...m.keys()]));
    for (const key of this.results.keys()) if (!live.has(key)) this.results.delete(key);
  }
}
