// The speaker's /healthz, /readyz and /metrics: the controller's health server (one implementation)
// answering from the Speaker's own state. The DaemonSet uses hostNetwork, so the port is on the node.
import type { Registry } from 'prom-client';
import { startHealthServer, type HealthServer } from '../observability/healthServer.js';
import type { Speaker } from './speaker.js';

export const DEFAULT_SPEAKER_METRICS_ADDRESS = '0.0.0.0:7473';

/**
 * Checks a --metrics-address value: `host:port` (port 0 picks a free one; `[::1]:0` for IPv6),
 * or '' / 'off' for no server (answered as undefined). Throws a message naming what is wrong.
 */
export function parseSpeakerMetricsAddress(value: string): string | undefined {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed === 'off') return undefined;
  const i = trimmed.lastIndexOf(':');
  const port = Number(trimmed.slice(i + 1));
  if (i < 0 || trimmed.slice(i + 1) === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`"${value}" is not host:port (e.g. 0.0.0.0:7473, 127.0.0.1:0), '' or off`);
  }
  return trimmed;
}

/** Serves the speaker's health and metrics on `address` (host:port); the bound address is in url. */
export function serveSpeakerHealth(address: string, speaker: Pick<Speaker, 'ready' | 'live'>, registry: Registry): Promise<HealthServer> {
  // The health server binds an unbracketed host; accept the bracketed IPv6 form people write.
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return startHealthServer(`${host}:${address.slice(i + 1)}`, registry, () => speaker.ready(), () => speaker.live());
}
