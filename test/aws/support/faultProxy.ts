// A small HTTP proxy in front of moto_server for what moto cannot do: it records every AWS request
// (action and form body, to check fields moto ignores such as SubnetMappings.AllocationId), it
// throttles like AWS does, either by a server-side token bucket or by a per-action decision, and it
// refuses what AWS's documented rules refuse (awsRules.ts) before moto sees it.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { request } from 'node:http';
import { motoClients } from '../../support/moto.js';
import { AwsRules } from './awsRules.js';

export interface RecordedRequest {
  action: string;
  service: 'elbv2' | 'ec2' | 'other';
  params: URLSearchParams;
  throttled: boolean;
  /** The error code a documented AWS rule answered with, when the proxy refused the request. */
  refused?: string;
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
  /** AWS's rules moto does not enforce; quotas and release timing are adjustable per test. */
  rules: AwsRules;
  setRateLimit(limit: { perSecond: number; burst: number } | undefined): void;
  /** Server-side limits per family of actions, as ELB and EC2 apply them (familyOf names a request's family). */
  setRateLimits(limits: Record<string, { perSecond: number; burst: number }> | undefined, familyOf?: (r: RecordedRequest) => string): void;
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

function errorResponse(service: RecordedRequest['service'], code: string, message: string): string {
  const text = message.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return service === 'ec2'
    ? `<Response><Errors><Error><Code>${code}</Code><Message>${text}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>`
    : `<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${text}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>`;
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
  // Per-family buckets (setRateLimits), each refilled on its own.
  let families: { limits: Record<string, { perSecond: number; burst: number }>; familyOf: (r: RecordedRequest) => string } | undefined;
  const familyBuckets = new Map<string, { tokens: number; last: number }>();
  const takeFamilyToken = (r: RecordedRequest): boolean => {
    if (!families) return true;
    const family = families.familyOf(r);
    const l = families.limits[family];
    if (!l) return true;
    const now = Date.now();
    const b = familyBuckets.get(family) ?? { tokens: l.burst, last: now };
    b.tokens = Math.min(l.burst, b.tokens + ((now - b.last) / 1000) * l.perSecond);
    b.last = now;
    familyBuckets.set(family, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  };

  const moto = motoClients(options.target);
  const proxy: FaultProxy = {
    endpoint: '',
    rules: new AwsRules(moto),
    requests: [],
    throttleWhen: undefined,
    failWhen: undefined,
    failCode: undefined,
    setRateLimits(limits, familyOf) {
      families = limits && familyOf ? { limits, familyOf } : undefined;
      familyBuckets.clear();
    },
    setRateLimit(next) {
      limit = next;
      tokens = next?.burst ?? 0;
      last = Date.now();
    },
    close: async () => {
      moto.ec2.destroy();
      moto.elbv2.destroy();
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
    if (service !== 'other' && (!takeToken() || !takeFamilyToken(recorded) || proxy.throttleWhen?.(recorded))) {
      recorded.throttled = true;
      const { status, body: errorBody } = throttleResponse(service);
      res.writeHead(status, { 'content-type': 'text/xml' });
      res.end(errorBody);
      return;
    }
    if (service !== 'other' && proxy.failWhen?.(recorded)) {
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end(errorResponse(service, proxy.failCode ?? 'InjectedFault', 'injected by the test'));
      return;
    }
    const violation = service === 'other' ? undefined : await proxy.rules.check(recorded.action, params);
    if (violation) {
      recorded.refused = violation.code;
      res.writeHead(400, { 'content-type': 'text/xml' });
      res.end(errorResponse(service, violation.code, violation.message));
      return;
    }
    const deleting = recorded.action === 'DeleteLoadBalancer' ? await proxy.rules.loadBalancerName(params.get('LoadBalancerArn') ?? '') : undefined;
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (up) => {
        void proxy.rules.after(recorded.action, params, up.statusCode === 200, deleting).finally(() => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
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
