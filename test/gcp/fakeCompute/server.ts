// A fake Compute Engine REST server, in memory, implementing exactly the endpoints the GCP provider
// uses: regional health checks, backend services, forwarding rules and addresses, global firewalls,
// zonal unmanaged instance groups, and the three operation services (get and wait).
//
// Like the real API, mutations answer with an Operation and take effect only when it completes:
// here after `pollsToComplete` polls of that operation. References are checked when a request
// arrives (a backend service needs its health check and groups, a forwarding rule its backend
// service and a reserved address), and resources in use cannot be deleted, so a provider that
// gets its ordering wrong fails here as it would on GCP. requestId makes inserts idempotent.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  checkAffinityForScheme,
  checkFingerprint,
  checkIPv6Rule,
  checkOneFamily,
  checkPortFieldsExclusive,
  checkSubnetworkNamed,
  checkTierMatch,
  HttpError,
  instanceInMultipleLoadBalancedIgs,
  firewallOutsideNetworkProject,
  resourceNotReady,
} from './apiRules.js';
import { FaultInjector, googleError } from './faults.js';

type Json = Record<string, unknown>;

export interface CallRecord {
  method: string;
  /** e.g. "healthChecks.insert", "operations.get", "instanceGroups.addInstances". */
  operation: string;
  path: string;
  requestId?: string;
}

interface OperationRecord {
  op: Json;
  pollsLeft: number;
  commit: () => void;
  startedAt: number;
  failure?: { code: number; message: string } | undefined;
}

const BASE = 'https://www.googleapis.com/compute/v1';

/** The resources by key, also indexed by collection: the rules scan one collection per request, not all (the benchmark's 200 Services hold thousands). */
class ResourceStore extends Map<string, Json> {
  readonly byCollection = new Map<string, Map<string, Json>>();

  override set(key: string, value: Json): this {
    super.set(key, value);
    const collection = key.split('|', 1)[0]!;
    let index = this.byCollection.get(collection);
    if (!index) this.byCollection.set(collection, (index = new Map()));
    index.set(key, value);
    return this;
  }

  override delete(key: string): boolean {
    this.byCollection.get(key.split('|', 1)[0]!)?.delete(key);
    return super.delete(key);
  }
}
const regional = new Set(['healthChecks', 'backendServices', 'forwardingRules', 'addresses']);

function lastSegment(url: unknown): string {
  return typeof url === 'string' ? (url.split('/').pop() ?? '') : '';
}

export class FakeCompute {
  readonly faults = new FaultInjector();
  readonly calls: CallRecord[] = [];
  /** Requests the API rules refused (not injected faults), with the reason the API gave. */
  readonly rejections: Array<{ operation: string; status: number; reason: string; message: string }> = [];
  /** How many polls an operation needs before it is DONE (0: done at once). */
  pollsToComplete: number;
  /**
   * Real operations finish whether or not anyone polls them. When set, an operation nobody polls
   * (its poller crashed) is DONE this long after it started; checked on every request.
   */
  completeAfterMs: number | undefined;
  /** collection|scope|name -> resource, as the API would return it. */
  private readonly resources = new ResourceStore();
  /** Operations not DONE yet, and how many of them each target link has (isBusy). */
  private readonly running = new Set<OperationRecord>();
  private readonly busyTargets = new Map<string, number>();
  private readonly pendingInserts = new Set<string>();
  private readonly operations = new Map<string, OperationRecord>();
  private readonly requestIds = new Map<string, string>();
  /** zone -> VM name -> the subnetwork of its primary interface (nodes register through addInstance). */
  private readonly vms = new Map<string, Map<string, string>>();
  private server?: Server;
  private opCounter = 0;
  private ipCounter = 0;
  private fingerprintCounter = 0;
  port = 0;
  /** The project's default network tier (projects.setDefaultNetworkTier), used when a request names none. */
  defaultNetworkTier: 'PREMIUM' | 'STANDARD';
  /** Names of custom-mode networks: internal resources on them must name a subnetwork. */
  readonly customModeNetworks: Set<string>;
  /** Shared VPC host projects this fake also answers for (their firewalls only). */
  readonly hostProjects: Set<string>;
  /** Dual-stack subnets (by name) and their IPv6 access type; the rest are IPv4 only. */
  readonly dualStackSubnets: Map<string, 'EXTERNAL' | 'INTERNAL'>;
  private ipv6Counter = 0;

  constructor(
    readonly project: string,
    options: FakeComputeOptions = {},
  ) {
    this.pollsToComplete = options.pollsToComplete ?? 2;
    this.completeAfterMs = options.completeAfterMs;
    this.defaultNetworkTier = options.defaultNetworkTier ?? 'PREMIUM';
    this.customModeNetworks = new Set(options.customModeNetworks ?? []);
    this.hostProjects = new Set(options.hostProjects ?? []);
    this.dualStackSubnets = new Map(Object.entries(options.dualStackSubnets ?? {}));
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  // ---- test-side helpers -------------------------------------------------------------------

  /** A VM exists in the zone (a node the provider may put in an instance group), on a subnetwork. */
  addInstance(zone: string, name: string, subnetwork = 'default'): void {
    if (!this.vms.has(zone)) this.vms.set(zone, new Map());
    this.vms.get(zone)!.set(name, subnetwork);
  }

  /** Puts a resource in place directly (a user's static address, a foreign load balancer). */
  seed(collection: string, scope: string, body: Json): Json {
    const stored = this.decorate(collection, scope, { ...body });
    this.resources.set(this.key(collection, scope, String(body.name)), stored);
    return stored;
  }

  /** Another client changes a stored resource (as a PUT would: new fingerprint). */
  change(collection: string, scope: string, name: string, fields: Json): Json {
    const key = this.key(collection, scope, name);
    const current = this.resources.get(key);
    if (!current) throw new Error(`${collection} ${scope}/${name} does not exist`);
    const next = this.decorate(collection, scope, { ...current, ...fields });
    this.resources.set(key, next);
    return next;
  }

  get(collection: string, scope: string, name: string): Json | undefined {
    return this.resources.get(this.key(collection, scope, name));
  }

  list(collection?: string): Array<{ collection: string; scope: string; name: string; body: Json }> {
    const entries = collection === undefined ? this.resources.entries() : (this.resources.byCollection.get(collection)?.entries() ?? []);
    return [...entries]
      .map(([k, body]) => {
        const [c, scope, name] = k.split('|') as [string, string, string];
        return { collection: c, scope, name, body };
      })
      .filter((r) => collection === undefined || r.collection === collection);
  }

  count(operation: string | RegExp): number {
    return this.calls.filter((c) => (typeof operation === 'string' ? c.operation === operation : operation.test(c.operation))).length;
  }

  /** Mutating calls (insert, patch, update, delete, add/removeInstances). */
  mutatingCalls(): number {
    return this.count(/\.(insert|patch|update|delete|addInstances|removeInstances)$/);
  }

  /** Operations started against one resource (requestId repeats do not start new ones). */
  operationsFor(collection: string, name: string): number {
    return [...this.operations.values()].filter((o) => String(o.op.targetLink).endsWith(`/${collection}/${name}`)).length;
  }

  pendingOperations(): number {
    return this.running.size;
  }

  resetCalls(): void {
    this.calls.length = 0;
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  private key(collection: string, scope: string, name: string): string {
    return `${collection}|${scope}|${name}`;
  }

  private selfLink(collection: string, scope: string, name: string): string {
    return `${this.scopeLink(scope)}/${collection}/${name}`;
  }

  /** Scopes of a host project are kept as "projects/<host>/global"; the rest belong to this project. */
  private scopeLink(scope: string): string {
    return scope.startsWith('projects/') ? `${BASE}/${scope}` : `${BASE}/projects/${this.project}/${scope}`;
  }

  private decorate(collection: string, scope: string, body: Json): Json {
    body.kind = `compute#${collection.replace(/s$/, '').replace(/sse$/, 'ss')}`;
    body.id ??= String(1_000_000 + this.opCounter++);
    body.creationTimestamp ??= new Date().toISOString();
    body.selfLink = this.selfLink(collection, scope, String(body.name));
    if (scope.startsWith('regions/')) body.region = `${BASE}/projects/${this.project}/${scope}`;
    if (scope.startsWith('zones/')) body.zone = `${BASE}/projects/${this.project}/${scope}`;
    if (collection === 'addresses') {
      body.addressType ??= 'EXTERNAL';
      body.address ??= body.addressType === 'INTERNAL' ? `10.128.${Math.floor(++this.ipCounter / 250)}.${(this.ipCounter % 250) + 2}` : this.externalIP();
      // Internal addresses are always Premium; external ones get the project default (apiRules: tiers).
      body.networkTier ??= body.addressType === 'INTERNAL' ? 'PREMIUM' : this.defaultNetworkTier;
    }
    if (collection === 'forwardingRules') body.networkTier ??= body.loadBalancingScheme === 'INTERNAL' ? 'PREMIUM' : this.defaultNetworkTier;
    if (collection === 'instanceGroups') body.instances ??= [];
    if (collection === 'backendServices') {
      // Compute fills in NONE when a backend service is created or replaced without an affinity.
      body.sessionAffinity ??= 'NONE';
      // Every stored version gets a new fingerprint (apiRules.checkFingerprint).
      body.fingerprint = `fp${++this.fingerprintCounter}`;
    }
    return body;
  }

  private externalIP(): string {
    this.ipCounter += 1;
    return `34.${100 + Math.floor(this.ipCounter / 62500)}.${Math.floor(this.ipCounter / 250) % 250}.${(this.ipCounter % 250) + 2}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let operation = 'unknown';
    try {
      const body = raw ? (JSON.parse(raw) as Json) : {};
      this.completeOverdue();
      const route = this.route(req.method ?? 'GET', url.pathname);
      operation = route.operation;
      const requestId = url.searchParams.get('requestId');
      this.calls.push({ method: req.method ?? 'GET', operation, path: url.pathname, ...(requestId ? { requestId } : {}) });
      const fault = this.faults.take(operation);
      if (fault && !fault.rule.afterServe && !fault.rule.inOperation) return this.send(res, fault.status, fault.body);
      const out = this.serve(route, body, url.searchParams, fault?.rule.inOperation ? fault.body.error : undefined);
      if (fault?.rule.afterServe) return this.send(res, fault.status, fault.body);
      this.send(res, 200, out);
    } catch (error) {
      if (error instanceof HttpError) {
        if (error.status !== 404) this.rejections.push({ operation, status: error.status, reason: error.reason ?? '', message: error.message });
        return this.send(res, error.status, googleError(error.status, error.message, error.reason));
      }
      this.send(res, 500, googleError(500, `fake compute bug on ${operation}: ${String(error)}`));
    }
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private route(method: string, pathname: string): Route {
    const m = /^\/compute\/v1\/projects\/([^/]+)\/(?:(regions|zones)\/([^/]+)\/|(global)\/|(aggregated)\/)([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/.exec(pathname);
    if (!m) throw new HttpError(404, `no such endpoint ${method} ${pathname}`);
    const [, project, scopeKind, scopeName, global, aggregated, collection, name, verb] = m;
    const host = project !== this.project && this.hostProjects.has(project!);
    if (project !== this.project && !host) throw new HttpError(403, `project ${project} is not accessible`, 'forbidden');
    // A Shared VPC host project serves only what lives with the network: firewalls (and their operations).
    if (host && (!global || (collection !== 'firewalls' && collection !== 'operations')))
      throw new HttpError(404, `${collection} of host project ${project} are not served by this fake`);
    const scope = host ? `projects/${project}/global` : global ? 'global' : aggregated ? 'aggregated' : `${scopeKind}/${scopeName}`;
    let op: string;
    if (aggregated) op = 'aggregatedList';
    else if (collection === 'operations') op = verb === 'wait' ? 'wait' : 'get';
    else if (verb) op = verb;
    else if (name) op = { GET: 'get', PATCH: 'patch', PUT: 'update', DELETE: 'delete' }[method] ?? 'unknown';
    else op = method === 'POST' ? 'insert' : 'list';
    return { scope, collection: collection!, name, operation: `${collection}.${op}`, verb: op };
  }

  private serve(route: Route, body: Json, query: URLSearchParams, operationError?: { code: number; message: string }): unknown {
    const { collection, scope, name, verb } = route;
    if (collection === 'operations') return this.pollOperation(name!);
    if (collection !== 'firewalls' && collection !== 'instanceGroups' && !regional.has(collection))
      throw new HttpError(404, `collection ${collection} is not served by this fake (add it to test/gcp/fakeCompute if the provider now needs it)`);
    if (verb === 'aggregatedList') {
      const items: Record<string, Json> = {};
      for (const r of this.list(collection)) {
        const entry = (items[r.scope] ??= { [collection]: [] });
        (entry[collection] as Json[]).push(this.view(collection, r.body));
      }
      return { kind: `compute#${collection}AggregatedList`, items };
    }
    if (verb === 'list') {
      const users = collection === 'addresses' ? this.addressUsers() : undefined;
      return { kind: `compute#${collection}List`, items: this.list(collection).filter((r) => r.scope === scope).map((r) => this.view(collection, r.body, users)) };
    }
    const key = this.key(collection, scope, name ?? String(body.name));
    const existing = this.resources.get(key);
    if (verb === 'get') {
      if (!existing) throw new HttpError(404, `The resource 'projects/${this.project}/${scope}/${collection}/${name}' was not found`);
      return this.view(collection, existing);
    }
    if (verb === 'listInstances') {
      if (!existing) throw new HttpError(404, `instance group ${name} was not found`);
      return { items: (existing.instances as string[]).map((instance) => ({ instance, status: 'RUNNING' })) };
    }
    const requestId = query.get('requestId');
    if (requestId) {
      const seen = this.requestIds.get(requestId);
      if (seen) return this.operations.get(seen)!.op;
    }
    const target = this.selfLink(collection, scope, name ?? String(body.name));
    let commit: () => void;
    switch (verb) {
      case 'insert': {
        if (typeof body.name !== 'string' || !/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(body.name))
          throw new HttpError(400, `Invalid value for field 'resource.name': '${String(body.name)}'`, 'invalid');
        if (existing || this.pendingInserts.has(key))
          throw new HttpError(409, `The resource 'projects/${this.project}/${scope}/${collection}/${body.name}' already exists`);
        this.validate(collection, scope, body);
        this.pendingInserts.add(key);
        commit = () => {
          this.pendingInserts.delete(key);
          this.resources.set(key, this.decorate(collection, scope, { ...body }));
        };
        break;
      }
      case 'patch':
      case 'update': {
        if (!existing) throw new HttpError(404, `The resource '${target}' was not found`);
        if (collection === 'backendServices') checkFingerprint(existing, body);
        const next = verb === 'patch' ? { ...existing, ...body } : { ...body, id: existing.id, creationTimestamp: existing.creationTimestamp, name: existing.name };
        this.validate(collection, scope, next);
        commit = () => this.resources.set(key, this.decorate(collection, scope, next));
        break;
      }
      case 'delete': {
        if (!existing) throw new HttpError(404, `The resource '${target}' was not found`);
        const user = this.userOf(collection, existing);
        if (user) throw new HttpError(400, `The ${collection} resource '${target}' is already being used by '${user}'`, 'resourceInUseByAnotherResource');
        commit = () => this.resources.delete(key);
        break;
      }
      case 'addInstances':
      case 'removeInstances': {
        if (!existing) throw new HttpError(404, `instance group ${name} was not found`);
        const urls = ((body.instances as Json[] | undefined) ?? []).map((i) => String(i.instance));
        const zone = scope.replace('zones/', '');
        for (const u of urls) {
          const vm = lastSegment(u);
          if (verb === 'addInstances') {
            if (!this.vms.get(zone)?.has(vm)) throw new HttpError(400, `The resource 'projects/${this.project}/zones/${zone}/instances/${vm}' was not found`, 'invalid');
            if ((existing.instances as string[]).some((i) => lastSegment(i) === vm))
              throw new HttpError(400, `Resource '${vm}' is already a member of '${name}'`, 'memberAlreadyExists');
            if (this.loadBalanced(existing) && this.otherLoadBalancedGroupOf(zone, vm, existing))
              throw instanceInMultipleLoadBalancedIgs(`projects/${this.project}/zones/${zone}/instances/${vm}`);
          }
        }
        if (verb === 'addInstances') {
          // compute.proto, InstanceGroup.subnetwork: "The URL of the subnetwork to which all instances in
          // the instance group belong". (The wording of this error is the fake's own.)
          const subnets = new Set([...(existing.instances as string[]), ...urls].map((u) => this.vms.get(zone)?.get(lastSegment(u))));
          if (subnets.size > 1) throw new HttpError(400, `Instances of instance group '${name}' must all be in one subnetwork; these are in ${[...subnets].join(', ')}`, 'invalid');
        }
        // Membership cannot change while the group, or a backend service using it, has an operation running.
        const users = this.list('backendServices').filter((r) => this.usesGroup(r.body, existing));
        const busy = [existing, ...users.map((r) => r.body)].map((r) => String(r.selfLink)).find((link) => this.isBusy(link));
        if (busy) throw resourceNotReady(busy);
        commit = () => {
          const cur = this.resources.get(key);
          if (!cur) return;
          const names = new Set(urls.map(lastSegment));
          const kept = (cur.instances as string[]).filter((i) => !names.has(lastSegment(i)));
          cur.instances = verb === 'addInstances' ? [...kept, ...urls.map((u) => `${BASE}/projects/${this.project}/${scope}/instances/${lastSegment(u)}`)] : kept;
          cur.size = (cur.instances as string[]).length;
        };
        break;
      }
      default:
        throw new HttpError(404, `${route.operation} is not served by this fake (add it to test/gcp/fakeCompute if the provider now needs it)`);
    }
    if (operationError) {
      // The request is accepted, but the work fails: the operation ends DONE with an error.
      commit = () => {
        this.pendingInserts.delete(key);
      };
    }
    return this.startOperation(scope, verb, target, commit, requestId, operationError);
  }

  /** What GET shows: addresses carry their users, groups their size. */
  /** IP -> self links of the forwarding rules using it (one pass, for listing many addresses). */
  private addressUsers(): Map<string, string[]> {
    const users = new Map<string, string[]>();
    for (const r of this.list('forwardingRules')) {
      const ip = String(r.body.IPAddress);
      users.set(ip, [...(users.get(ip) ?? []), String(r.body.selfLink)]);
    }
    return users;
  }

  private view(collection: string, body: Json, addressUsers?: Map<string, string[]>): Json {
    if (collection === 'addresses') {
      const users = (addressUsers ?? this.addressUsers()).get(String(body.address)) ?? [];
      return { ...body, status: users.length ? 'IN_USE' : 'RESERVED', users };
    }
    if (collection === 'instanceGroups') return { ...body, size: (body.instances as string[]).length, instances: undefined };
    return body;
  }

  private userOf(collection: string, body: Json): string | undefined {
    const self = String(body.selfLink);
    const refers = (u: unknown) => typeof u === 'string' && (u === self || self.endsWith(`/${u}`) || u.endsWith(self.replace(BASE, '')));
    if (collection === 'healthChecks') return this.list('backendServices').find((r) => (r.body.healthChecks as string[] | undefined)?.some(refers))?.name;
    if (collection === 'instanceGroups')
      return this.list('backendServices').find((r) => (r.body.backends as Json[] | undefined)?.some((b) => refers(b.group)))?.name;
    if (collection === 'backendServices') return this.list('forwardingRules').find((r) => refers(r.body.backendService))?.name;
    if (collection === 'addresses') return this.list('forwardingRules').find((r) => r.body.IPAddress === body.address)?.name;
    return undefined;
  }

  /** True while an operation on the resource at `link` is still running. */
  private isBusy(link: string): boolean {
    return (this.busyTargets.get(link.startsWith(BASE) ? link : `${BASE}/${link.replace(/^\//, '')}`) ?? 0) > 0;
  }

  private usesGroup(backendService: Json, group: Json): boolean {
    const path = String(group.selfLink).replace(`${BASE}/`, '');
    return ((backendService.backends as Json[] | undefined) ?? []).some((b) => String(b.group).endsWith(path));
  }

  /** A group is load-balanced when a backend service has it as a backend. */
  private loadBalanced(group: Json, extra?: Json): boolean {
    return (extra !== undefined && this.usesGroup(extra, group)) || this.list('backendServices').some((r) => this.usesGroup(r.body, group));
  }

  /** Another load-balanced group of the zone that already holds the VM (apiRules: one-ig). */
  private otherLoadBalancedGroupOf(zone: string, vm: string, group: Json, extra?: Json): Json | undefined {
    return this.list('instanceGroups')
      .filter((r) => r.scope === `zones/${zone}` && r.body.selfLink !== group.selfLink)
      .map((r) => r.body)
      .find((g) => (g.instances as string[]).some((i) => lastSegment(i) === vm) && this.loadBalanced(g, extra));
  }

  private exists(collection: string, scope: string, url: unknown): boolean {
    return typeof url === 'string' && this.resources.has(this.key(collection, scope, lastSegment(url)));
  }

  /** Reference and consistency checks GCP makes when a request arrives. */
  private validate(collection: string, scope: string, body: Json): void {
    const bad = (message: string) => {
      throw new HttpError(400, message, 'invalid');
    };
    if (collection === 'backendServices') {
      const hcs = (body.healthChecks as string[] | undefined) ?? [];
      if (hcs.length !== 1 || !this.exists('healthChecks', scope, hcs[0])) bad(`The resource '${hcs[0]}' was not found`);
      for (const b of (body.backends as Json[] | undefined) ?? []) {
        const zone = /zones\/([^/]+)\//.exec(String(b.group))?.[1];
        if (!zone || !this.exists('instanceGroups', `zones/${zone}`, b.group)) bad(`The resource '${String(b.group)}' was not found`);
        const group = this.resources.get(this.key('instanceGroups', `zones/${zone}`, lastSegment(b.group)))!;
        if (this.isBusy(String(group.selfLink))) throw resourceNotReady(String(group.selfLink));
        for (const instance of group.instances as string[])
          if (this.otherLoadBalancedGroupOf(zone!, lastSegment(instance), group, body)) throw instanceInMultipleLoadBalancedIgs(instance.replace(`${BASE}/`, ''));
      }
      checkAffinityForScheme(body);
      if (!['TCP', 'UDP', 'UNSPECIFIED'].includes(String(body.protocol))) bad(`Invalid value for field 'resource.protocol': '${String(body.protocol)}'`);
      if (!['EXTERNAL', 'INTERNAL'].includes(String(body.loadBalancingScheme))) bad(`Invalid value for field 'resource.loadBalancingScheme'`);
      // Passthrough network load balancers accept these affinities (no cookie or header kinds).
      const affinities = ['NONE', 'CLIENT_IP', 'CLIENT_IP_PROTO', 'CLIENT_IP_PORT_PROTO', 'CLIENT_IP_NO_DESTINATION'];
      if (body.sessionAffinity !== undefined && !affinities.includes(String(body.sessionAffinity)))
        bad(`Invalid value for field 'resource.sessionAffinity': '${String(body.sessionAffinity)}'`);
    }
    if (collection === 'forwardingRules') {
      const bs = this.resources.get(this.key('backendServices', scope, lastSegment(body.backendService)));
      if (!bs) return bad(`The resource '${String(body.backendService)}' was not found`);
      const proto = String(body.IPProtocol);
      const want = bs.protocol === 'UNSPECIFIED' ? 'L3_DEFAULT' : bs.protocol;
      if (proto !== want) bad(`Forwarding rule protocol ${proto} does not match backend service protocol ${String(bs.protocol)}`);
      if (body.loadBalancingScheme !== bs.loadBalancingScheme) bad('Forwarding rule and backend service load balancing schemes differ');
      if (proto === 'L3_DEFAULT' && body.allPorts !== true) bad('L3_DEFAULT forwarding rules need allPorts');
      if (((body.ports as string[] | undefined) ?? []).length > 5) bad('A forwarding rule may list at most 5 ports');
      checkPortFieldsExclusive(body);
      if (body.loadBalancingScheme === 'INTERNAL') checkSubnetworkNamed(body, this.customModeNetworks.has(lastSegment(body.network ?? 'default')), 'forwarding rule');
      if (body.ipVersion === 'IPV6') {
        checkIPv6Rule(body, this.dualStackSubnets.get(lastSegment(body.subnetwork)));
        // Compute shows an IPv6 rule's address as a /96 range of its subnet (proto, ForwardingRule.IPAddress).
        if (body.IPAddress !== undefined) bad('this fake assigns IPv6 forwarding rule addresses; name none');
        const n = (++this.ipv6Counter).toString(16);
        body.IPAddress = body.loadBalancingScheme === 'INTERNAL' ? `fd20:a:b:${n}::/96` : `2600:1900:4000:${n}::/96`;
      } else if (body.IPAddress !== undefined) {
        const held = this.list('addresses').find((r) => r.scope === scope && (r.body.address === body.IPAddress || r.body.selfLink === body.IPAddress));
        // An internal rule may name an unreserved IP of its subnet (an ephemeral internal address);
        // an external one must name a reserved address.
        if (!held && body.loadBalancingScheme !== 'INTERNAL') bad(`The IP address ${String(body.IPAddress)} is not reserved in project ${this.project}`);
        if (held && body.loadBalancingScheme !== 'INTERNAL') checkTierMatch(String(body.networkTier ?? this.defaultNetworkTier), held.body);
        const taken = this.list('forwardingRules').find((r) => r.body.IPAddress === body.IPAddress && r.name !== body.name);
        if (taken) bad(`IP ${String(body.IPAddress)} is already in use by forwarding rule ${taken.name}`);
      } else {
        body.IPAddress = body.loadBalancingScheme === 'INTERNAL' ? `10.129.0.${++this.ipCounter % 250}` : this.externalIP();
      }
    }
    if (collection === 'healthChecks') {
      const hc = (body.type === 'TCP' ? body.tcpHealthCheck : body.httpHealthCheck) as Json | undefined;
      if ((body.type !== 'HTTP' && body.type !== 'TCP') || !hc || typeof hc.port !== 'number') bad('health check needs type HTTP (httpHealthCheck.port) or TCP (tcpHealthCheck.port)');
    }
    if (collection === 'addresses' && body.addressType === 'INTERNAL')
      checkSubnetworkNamed(body, this.customModeNetworks.has(lastSegment(body.network ?? 'default')), 'address');
    if (collection === 'firewalls') {
      const firewallProject = scope.startsWith('projects/') ? scope.split('/')[1] : this.project;
      const networkProject = /projects\/([^/]+)\/global\/networks\//.exec(String(body.network ?? ''))?.[1] ?? firewallProject;
      if (networkProject !== firewallProject) throw firewallOutsideNetworkProject(String(body.network), firewallProject!);
      if (!Array.isArray(body.allowed) || (body.allowed as Json[]).length === 0) bad('firewall needs allowed');
      if (!Array.isArray(body.sourceRanges) || (body.sourceRanges as string[]).length === 0) bad('firewall needs sourceRanges');
      checkOneFamily(body.sourceRanges as string[]);
    }
  }

  private startOperation(
    scope: string,
    verb: string,
    targetLink: string,
    commit: () => void,
    requestId: string | null,
    operationError?: { code: number; message: string },
  ): Json {
    const name = `operation-${Date.now()}-${++this.opCounter}`;
    const op: Json = {
      kind: 'compute#operation',
      id: String(this.opCounter),
      name,
      operationType: verb,
      targetLink,
      status: 'RUNNING',
      progress: 0,
      insertTime: new Date().toISOString(),
      selfLink: `${this.scopeLink(scope)}/operations/${name}`,
    };
    if (scope.startsWith('regions/')) op.region = `${BASE}/projects/${this.project}/${scope}`;
    if (scope.startsWith('zones/')) op.zone = `${BASE}/projects/${this.project}/${scope}`;
    const record: OperationRecord = { op, pollsLeft: this.pollsToComplete, commit, startedAt: Date.now(), failure: operationError };
    this.operations.set(name, record);
    this.running.add(record);
    this.busyTargets.set(targetLink, (this.busyTargets.get(targetLink) ?? 0) + 1);
    if (requestId) this.requestIds.set(requestId, name);
    if (record.pollsLeft <= 0) this.finish(record);
    return { ...op };
  }

  private finish(record: OperationRecord): void {
    if (this.running.delete(record)) {
      const target = String(record.op.targetLink);
      const left = (this.busyTargets.get(target) ?? 1) - 1;
      if (left > 0) this.busyTargets.set(target, left);
      else this.busyTargets.delete(target);
    }
    record.commit();
    if (record.failure) {
      record.op.error = { errors: [{ code: record.failure.code === 403 ? 'QUOTA_EXCEEDED' : 'INVALID', message: record.failure.message }] };
      record.op.httpErrorStatusCode = record.failure.code;
      record.op.httpErrorMessage = record.failure.code === 403 ? 'FORBIDDEN' : 'BAD REQUEST';
    }
    record.op.status = 'DONE';
    record.op.progress = 100;
    record.op.endTime = new Date().toISOString();
  }

  private completeOverdue(): void {
    if (this.completeAfterMs === undefined) return;
    const now = Date.now();
    for (const record of [...this.running]) if (now - record.startedAt >= this.completeAfterMs) this.finish(record);
  }

  private pollOperation(name: string): Json {
    const record = this.operations.get(name);
    if (!record) throw new HttpError(404, `The resource 'operations/${name}' was not found`);
    if (record.op.status !== 'DONE') {
      record.pollsLeft -= 1;
      if (record.pollsLeft <= 0) this.finish(record);
    }
    return { ...record.op };
  }
}

interface Route {
  scope: string;
  collection: string;
  name?: string;
  operation: string;
  verb: string;
}

export interface FakeComputeOptions {
  pollsToComplete?: number;
  completeAfterMs?: number;
  /** The project's default network tier; PREMIUM unless a test says otherwise. */
  defaultNetworkTier?: 'PREMIUM' | 'STANDARD';
  /** Networks in custom subnet mode (every production VPC); 'default' is auto mode unless listed. */
  customModeNetworks?: string[];
  /** Shared VPC host projects whose firewalls the fake also serves. */
  hostProjects?: string[];
  /** Dual-stack subnets by name, with their IPv6 access type (EXTERNAL or INTERNAL). */
  dualStackSubnets?: Record<string, 'EXTERNAL' | 'INTERNAL'>;
}

export async function startFakeCompute(project: string, options: FakeComputeOptions = {}): Promise<FakeCompute> {
  return new FakeCompute(project, options).start();
}
