// A loopback HTTP proxy in front of the embedded API server that answers chosen requests with an
// error instead of forwarding them (or forwards them late), once each. The RBAC proof uses it to
// drive rare code paths that make their own API calls (a 409 Conflict makes the controller re-read
// the Service). Everything else, watches included, streams through untouched.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface InjectedFault {
  /** Which request to fail: method, path (without the query), the bearer token (the user), and the query. */
  matches(method: string, path: string, user: string, query: URLSearchParams): boolean;
  code: number;
  reason: string;
  /** How many matching requests still fail. */
  remaining: number;
  /** Instead of failing it: forward the request this much later (a slow API server for one call). */
  delayMs?: number;
}

export interface FaultProxy {
  url: string;
  /** Requests answered with a fault (they never reached the server, so it did not record them). */
  injected: { user: string; method: string; path: string; code: number }[];
  /** Requests forwarded late (the server recorded them). */
  delayed: { user: string; method: string; path: string }[];
  stop(): Promise<void>;
}

function userOf(req: IncomingMessage): string {
  const auth = req.headers.authorization ?? '';
  return auth.startsWith('Bearer ') ? auth.slice(7).trim() : 'system:anonymous';
}

export async function startFaultProxy(target: string, faults: InjectedFault[]): Promise<FaultProxy> {
  const upstream = new URL(target);
  const injected: FaultProxy['injected'] = [];
  const delayed: FaultProxy['delayed'] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://proxy');
    const path = url.pathname;
    const user = userOf(req);
    const fault = faults.find((f) => f.remaining > 0 && f.matches(method, path, user, url.searchParams));
    if (fault?.delayMs !== undefined) {
      fault.remaining--;
      delayed.push({ user, method, path });
      req.pause();
      setTimeout(() => forwardTo(req, res), fault.delayMs);
      return;
    }
    if (fault) {
      fault.remaining--;
      injected.push({ user, method, path, code: fault.code });
      req.resume();
      res.writeHead(fault.code, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: fault.reason, code: fault.code, message: `injected ${fault.reason} by the test proxy` }));
      return;
    }
    forwardTo(req, res);
  });
  const forwardTo = (req: IncomingMessage, res: ServerResponse): void => {
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        // A watch answers with headers long before its first event: pass them on at once.
        res.flushHeaders();
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    res.on('close', () => forward.destroy());
    req.pipe(forward);
    req.resume();
  };
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    injected,
    delayed,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
