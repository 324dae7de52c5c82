// A small HTTP proxy in front of moto_server for what moto cannot do: it records every AWS request
// (action and form body, to check fields moto ignores such as SubnetMappings.AllocationId), and it
// throttles like AWS does, either by a server-side token bucket or by a per-action decision.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { request } from 'node:http';

export interface RecordedRequest {
  action: string;
  service: 'elbv2' | 'ec2' | 'other';
  params: URLSearchParams;
  throttled: boolean;
}

export interface FaultProxyOptions {
  target: string;
  /** Server-side rate limit over all calls: over it, answer like AWS does when throttling. */
  rateLimit?: { perSecond: number; burst: number };
}

export interface FaultProxy {
  endpoint: string;
  requests: RecordedRequest[];
  /** Decide per request whether to answer with a throttling error (after the rate limit check). */
  throttleWhen: ((r: RecordedRequest) => boolean) | undefined;
  /** Answer with a non-retryable error instead (a crash of the caller at that point, as far as AWS is concerned). */
  failWhen: ((r: RecordedRequest) => boolean) | undefined;
  /** The error code failWhen answers with (default InjectedFault). */
  failCode: string | undefined;
  setRateLimit(limit: { perSecond: number; burst: number } | undefined): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function throttleResponse(service: RecordedRequest['service']): { status: number; body: string } {
  if (service === 'ec2') {
    return { status: 503, body: '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>' };
  }
  return {
    status: 400,
    body: '<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>',
  };
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  let limit = options.rateLimit;
  let tokens = limit?.burst ?? 0;
  let last = Date.now();
  const takeToken = (): boolean => {
    if (!limit) return true;
    const now = Date.now();
    tokens = Math.min(limit.burst, tokens + ((now - last) / 1000) * limit.perSecond);
    last = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };

  const proxy: FaultProxy = {
    endpoint: '',
    requests: [],
    throttleWhen: undefined,
    failWhen: undefined,
    failCode: undefined,
    setRateLimit(next) {
      limit = next;
      tokens = next?.burst ?? 0;
      last = Date.now();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const params = new URLSearchParams(body.toString('utf8'));
    const version = params.get('Version');
    const service = version === '2015-12-01' ? 'elbv2' : version === '2016-11-15' ? 'ec2' : 'other';
    const recorded: RecordedRequest = { action: params.get('Action') ?? '', service, params, throttled: false };
    proxy.requests.push(recorded);
    if (service !== 'other' && (!takeToken() || proxy.throttleWhen?.(recorded))) {
      recorded.throttled = true;
      const { status, body: errorBody } = throttleResponse(service);
      res.writeHead(status, { 'content-type': 'text/xml' });
      res.end(errorBody);
      return;
    }
    if (service !== 'other' && proxy.failWhen?.(recorded)) {
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end(
        service === 'ec2'
          ? `<Response><Errors><Error><Code>${proxy.failCode ?? 'InjectedFault'}</Code><Message>injected by the test</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>`
          : `<ErrorResponse><Error><Type>Sender</Type><Code>${proxy.failCode ?? 'InjectedFault'}</Code><Message>injected by the test</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>`,
      );
      return;
    }
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      res.writeHead(502);
      res.end(String(error));
    });
    upstream.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  proxy.endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return proxy;
}
