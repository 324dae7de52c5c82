// What each playground node serves, computed from the cluster as kube-proxy computes it: a node with
// a loopback InternalIP and Ready=True is up; it listens on every Service's NodePorts (TCP and UDP),
// on kube-proxy's :10256/healthz, and on the healthCheckNodePort of every Local Service, which
// answers from the EndpointSlices' ready endpoints on that node. Pure.
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import { AUTOSCALER_DELETION_TAINT } from '../../controller/eligibleNodes.js';

/** kube-proxy's health port (--healthz-bind-address). */
export const PROXY_HEALTH_PORT = 10256;

export interface PlaygroundNode {
  name: string;
  ip: string;
  /** Being deleted or tainted for deletion: kube-proxy's /healthz answers 503 (1.28+). */
  draining: boolean;
}

export interface ServiceOnNodes {
  key: string;
  local: boolean;
  healthCheckNodePort?: number;
  /** "TCP/30000" -> true */
  nodePorts: Set<string>;
  /** The node of each ready endpoint, one entry per endpoint. */
  endpointNodes: string[];
}

export interface NodeModel {
  /** Nodes that are up (Ready, with a loopback address), by name. */
  nodes: Map<string, PlaygroundNode>;
  /** By "TCP/30000" or "UDP/30001". */
  byNodePort: Map<string, ServiceOnNodes>;
  /** By healthCheckNodePort. */
  byHealthPort: Map<number, ServiceOnNodes>;
  /** By ingress IP, with the Service's ports: where a metal address leads. */
  byIngressIP: Map<string, { service: ServiceOnNodes; ports: Array<{ protocol: 'TCP' | 'UDP'; port: number }> }>;
}

export function internalIP(node: V1Node): string | undefined {
  return node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
}

const isReady = (node: V1Node) => node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

export function nodeModel(nodes: readonly V1Node[], services: readonly V1Service[], slices: readonly V1EndpointSlice[]): NodeModel {
  const model: NodeModel = emptyModel();
  for (const node of nodes) {
    const ip = internalIP(node);
    const name = node.metadata?.name ?? '';
    if (!ip?.startsWith('127.') || !isReady(node)) continue;
    const draining = node.metadata?.deletionTimestamp !== undefined || (node.spec?.taints ?? []).some((t) => t.key === AUTOSCALER_DELETION_TAINT);
    model.nodes.set(name, { name, ip, draining });
  }
  for (const service of services) {
    const spec = service.spec;
    if (spec?.type !== 'NodePort' && spec?.type !== 'LoadBalancer') continue;
    const namespace = service.metadata?.namespace ?? 'default';
    const name = service.metadata?.name ?? '';
    const endpointNodes = slices
      .filter((s) => s.metadata?.namespace === namespace && s.metadata?.labels?.['kubernetes.io/service-name'] === name)
      .flatMap((s) => s.endpoints ?? [])
      .filter((e) => e.conditions?.ready !== false && e.nodeName !== undefined)
      .map((e) => e.nodeName as string);
    const served: ServiceOnNodes = {
      key: `${namespace}/${name}`,
      local: spec.externalTrafficPolicy === 'Local',
      nodePorts: new Set((spec.ports ?? []).filter((p) => p.nodePort).map((p) => `${p.protocol ?? 'TCP'}/${p.nodePort}`)),
      endpointNodes,
    };
    if (served.local && spec.healthCheckNodePort) {
      served.healthCheckNodePort = spec.healthCheckNodePort;
      model.byHealthPort.set(spec.healthCheckNodePort, served);
    }
    for (const port of served.nodePorts) model.byNodePort.set(port, served);
    if (spec.type !== 'LoadBalancer') continue;
    const ports = (spec.ports ?? []).flatMap((p) => (p.protocol === 'UDP' || (p.protocol ?? 'TCP') === 'TCP' ? [{ protocol: (p.protocol ?? 'TCP') as 'TCP' | 'UDP', port: p.port }] : []));
    for (const ingress of service.status?.loadBalancer?.ingress ?? []) if (ingress.ip) model.byIngressIP.set(ingress.ip, { service: served, ports });
  }
  return model;
}

export function emptyModel(): NodeModel {
  return { nodes: new Map(), byNodePort: new Map(), byHealthPort: new Map(), byIngressIP: new Map() };
}

export interface WantedSocket {
  protocol: 'TCP' | 'UDP';
  node: string;
  ip: string;
  port: number;
  /** A load-balancer address this node holds (metal): it serves that Service's port. */
  vip?: boolean;
}

/** A held address moving to another node is a new socket (it answers as that node). */
export const socketKey = (s: WantedSocket) => `${s.protocol} ${s.ip}:${s.port}${s.vip ? ` on ${s.node}` : ''}`;

/**
 * Every socket the up nodes listen on; with `vips` (metal: address -> the node holding it), also the
 * Service ports on each address held by an up node, as kube-proxy answers a load-balancer IP.
 */
export function wantedSockets(model: NodeModel, vips: ReadonlyMap<string, string> = new Map()): WantedSocket[] {
  const ports: Array<{ protocol: 'TCP' | 'UDP'; port: number }> = [{ protocol: 'TCP', port: PROXY_HEALTH_PORT }];
  for (const key of model.byNodePort.keys()) {
    const [protocol = 'TCP', port = '0'] = key.split('/');
    if (protocol === 'TCP' || protocol === 'UDP') ports.push({ protocol, port: Number(port) });
  }
  for (const port of model.byHealthPort.keys()) ports.push({ protocol: 'TCP', port });
  const onNodes = [...model.nodes.values()].flatMap((n) => ports.map((p) => ({ ...p, node: n.name, ip: n.ip })));
  const onVips = [...vips].flatMap(([ip, node]) => (model.nodes.has(node) ? (model.byIngressIP.get(ip)?.ports ?? []).map((p) => ({ ...p, node, ip, vip: true })) : []));
  return [...onNodes, ...onVips];
}

/**
 * The endpoint's node a connection arriving at `node` goes to, or undefined to drop it. Local: only
 * this node's endpoints. Cluster: any ready endpoint; the playground prefers this node's own, so
 * the walk-through's curl names the node the load balancer chose.
 */
export function endpointFor(service: ServiceOnNodes, node: string, turn: number): string | undefined {
  const own = service.endpointNodes.filter((n) => n === node);
  const pool = service.local || own.length > 0 ? own : service.endpointNodes;
  return pool.length === 0 ? undefined : pool[turn % pool.length];
}

export function localEndpoints(service: ServiceOnNodes, node: string): number {
  return service.endpointNodes.filter((n) => n === node).length;
}
