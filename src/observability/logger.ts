// Logs (pino) on stderr, so stdout stays free for command output (plan, playground): JSON lines for
// machines, and human-readable lines (pino-pretty) when stderr is a terminal. LOG_FORMAT=json or
// LOG_FORMAT=pretty overrides the guess.
import { pino, type DestinationStream, type Logger } from 'pino';
import PinoPretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  /** Human-readable lines instead of JSON (default: stderr is a terminal, or LOG_FORMAT). */
  pretty?: boolean;
  /** Where lines go (default: stderr). */
  destination?: DestinationStream;
}

export function prettyByDefault(env: NodeJS.ProcessEnv = process.env, isTTY = process.stderr.isTTY === true): boolean {
  if (env.LOG_FORMAT === 'json') return false;
  if (env.LOG_FORMAT === 'pretty') return true;
  return isTTY;
}

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'kube-lb-provisioner', options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? prettyByDefault();
  const destination = options.destination ?? pino.destination(2);
  if (!pretty) return pino({ name, level, base: { pid: process.pid } }, destination);
  const stream = PinoPretty({ destination, sync: true, colorize: options.destination === undefined && process.stderr.isTTY === true, ignore: 'pid,hostname,name', translateTime: 'SYS:HH:MM:ss.l' });
  return pino({ name, level, base: { pid: process.pid } }, stream);
}

/** A logger that drops everything, for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
