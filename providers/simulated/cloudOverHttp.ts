// The simulated cloud's API over HTTP on loopback, so a second process (`plan` beside a running
// playground) sees the playground's cloud instead of a new, empty one. POST /<method> with the
// arguments as a JSON array; the answer is the result, or { error: { code, status, message } }.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudError, type CloudErrorCode, type SimulatedCloud } from './cloud.js';

const METHODS = ['describeLoadBalancers', 'createLoadBalancer', 'modifyListeners', 'modifyAttributes', 'registerTargets', 'deregisterTargets', 'deleteLoadBalancer'] as const;
type Method = (typeof METHODS)[number];

/** What the provider calls: the cloud's API, local or remote. */
export type CloudApi = Pick<SimulatedCloud, Method>;

export async function serveCloud(cloud: SimulatedCloud, host = '127.0.0.1', port = 0): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const method = (req.url ?? '').slice(1) as Method;
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const answer = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value ?? null));
      };
      if (req.method !== 'POST' || !METHODS.includes(method)) return answer(404, { error: { code: 'NotFound', status: 404, message: `no such operation ${req.url}` } });
      let args: unknown[];
      try {
        args = JSON.parse(body || '[]') as unknown[];
      } catch {
        return answer(400, { error: { code: 'InternalError', status: 400, message: 'the body is not JSON' } });
      }
      (cloud[method] as (...a: unknown[]) => Promise<unknown>)
        .apply(cloud, args)
        .then((value) => answer(200, value))
        .catch((error: unknown) =>
          error instanceof CloudError
            ? answer(error.status, { error: { code: error.code, status: error.status, message: error.message.slice(error.code.length + 2) } })
            : answer(500, { error: { code: 'InternalError', status: 500, message: String(error) } }),
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${bound}`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/** A CloudApi whose calls go to serveCloud() at `url`. */
export function remoteCloud(url: string): CloudApi {
  const call =
    (method: Method) =>
    async (...args: unknown[]): Promise<never> => {
      let res: Response;
      try {
        res = await fetch(`${url}/${method}`, { method: 'POST', body: JSON.stringify(args), headers: { 'content-type': 'application/json' } });
      } catch (error) {
        // Unreachable counts as transient, like a cloud endpoint that does not answer.
        throw new CloudError('RequestTimeout', 504, `${url}: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`);
      }
      const value = (await res.json()) as { error?: { code: CloudErrorCode; status: number; message: string } };
      if (!res.ok) throw new CloudError(value.error?.code ?? 'InternalError', value.error?.status ?? res.status, value.error?.message ?? res.statusText);
      return value as never;
    };
  return Object.fromEntries(METHODS.map((m) => [m, call(m)])) as unknown as CloudApi;
}
