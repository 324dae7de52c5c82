// Clients for the playground's loopback data plane: an HTTP GET and a UDP exchange, each from a
// chosen 127.x source address (loopback has them all), answering what came back or why not.
import dgram from 'node:dgram';
import http from 'node:http';

export type Answer = { body: string; status: number } | { failed: string };

/** GET http://ip:port/path from `from` (default 127.0.0.1). Never rejects. */
export function httpFrom(ip: string, port: number, options: { from?: string; path?: string; timeoutMs?: number } = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.get({ host: ip, port, path: options.path ?? '/', localAddress: options.from ?? '127.0.0.1', agent: false, timeout: options.timeoutMs ?? 2_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ body: body.trim(), status: res.statusCode ?? 0 }));
      res.on('error', (e) => resolve({ failed: e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ failed: e.code ?? e.message }));
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
  });
}

/** The answered body, or the failure as "failed: <why>" (to compare in one expect). */
export const bodyOf = (a: Answer) => ('body' in a ? a.body : `failed: ${a.failed}`);

/** A UDP client socket bound to one source address and port, sending and awaiting one reply. */
export class UdpClient {
  private readonly socket = dgram.createSocket('udp4');
  private readonly ready: Promise<void>;

  constructor(from = '127.0.0.1') {
    this.ready = new Promise((resolve) => this.socket.bind({ address: from, port: 0 }, resolve));
  }

  async ask(ip: string, port: number, payload = 'hello', timeoutMs = 500): Promise<string | undefined> {
    await this.ready;
    return new Promise((resolve) => {
      const onMessage = (msg: Buffer) => finish(msg.toString().trim());
      const finish = (value: string | undefined) => {
        clearTimeout(timer);
        this.socket.off('message', onMessage);
        resolve(value);
      };
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      this.socket.on('message', onMessage);
      this.socket.send(payload, port, ip);
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** The HTTP status, or undefined when nothing answered. */
export const statusOf = (a: Answer) => ('status' in a ? a.status : undefined);
