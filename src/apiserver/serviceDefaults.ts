// Service defaulting as the kube-apiserver does it (pure: no allocation here). On update, values
// the client left out but the server allocated (clusterIP, nodePorts, healthCheckNodePort) are
// carried over from the old object, and fields the new type no longer uses are dropped.

export interface ServicePort {
  name?: string;
  protocol?: string;
  port?: number;
  targetPort?: number | string;
  nodePort?: number;
  appProtocol?: string;
  [key: string]: unknown;
}

export interface ServiceSpec {
  type?: string;
  ports?: ServicePort[];
  selector?: Record<string, string>;
  clusterIP?: string;
  clusterIPs?: string[];
  externalIPs?: string[];
  externalName?: string;
  sessionAffinity?: string;
  sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
  externalTrafficPolicy?: string;
  internalTrafficPolicy?: string;
  healthCheckNodePort?: number;
  loadBalancerIP?: string;
  loadBalancerSourceRanges?: string[];
  loadBalancerClass?: string;
  allocateLoadBalancerNodePorts?: boolean;
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  publishNotReadyAddresses?: boolean;
  [key: string]: unknown;
}

export const needsNodePorts = (spec: ServiceSpec): boolean =>
  spec.type === 'NodePort' || (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);
export const needsHealthCheckNodePort = (spec: ServiceSpec): boolean => spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';
const externallyReachable = (spec: ServiceSpec): boolean => spec.type === 'NodePort' || spec.type === 'LoadBalancer';

function samePort(a: ServicePort, b: ServicePort): boolean {
  return a.port === b.port && (a.protocol ?? 'TCP') === (b.protocol ?? 'TCP');
}

/** Fill in what Kubernetes defaults; `old` is the stored spec on update. Returns a new spec. */
export function defaultServiceSpec(input: ServiceSpec | undefined, old?: ServiceSpec): ServiceSpec {
  const spec: ServiceSpec = structuredClone(input ?? {});
  spec.type ??= 'ClusterIP';
  spec.ports = (spec.ports ?? []).map((p) => {
    const port: ServicePort = { ...p };
    port.protocol ??= 'TCP';
    if (port.targetPort === undefined || port.targetPort === 0 || port.targetPort === '') port.targetPort = port.port;
    return port;
  });
  spec.sessionAffinity ??= 'None';
  if (spec.sessionAffinity === 'ClientIP' && (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? null) === null) {
    spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
  }

  if (old) {
    // Values the server allocated survive an update that does not mention them.
    if ((spec.clusterIP === undefined || spec.clusterIP === '') && old.clusterIP && spec.type !== 'ExternalName') {
      spec.clusterIP = old.clusterIP;
      spec.clusterIPs ??= old.clusterIPs;
    }
    if (externallyReachable(spec) && externallyReachable(old)) {
      for (const p of spec.ports) {
        if (!p.nodePort) {
          const before = old.ports?.find((o) => samePort(o, p));
          if (before?.nodePort) p.nodePort = before.nodePort;
        }
      }
    }
    if (spec.healthCheckNodePort === undefined && old.healthCheckNodePort && needsHealthCheckNodePort({ ...spec, externalTrafficPolicy: spec.externalTrafficPolicy ?? old.externalTrafficPolicy })) {
      spec.healthCheckNodePort = old.healthCheckNodePort;
    }
    // Fields the new type no longer uses go away when the client left them as they were.
    if (!externallyReachable(spec) && externallyReachable(old)) {
      for (const p of spec.ports) {
        const before = old.ports?.find((o) => samePort(o, p));
        if (p.nodePort && before?.nodePort === p.nodePort) delete p.nodePort;
      }
      if (spec.externalTrafficPolicy === old.externalTrafficPolicy) delete spec.externalTrafficPolicy;
    }
    if (spec.type !== 'LoadBalancer' && old.type === 'LoadBalancer') {
      if (spec.allocateLoadBalancerNodePorts === old.allocateLoadBalancerNodePorts) delete spec.allocateLoadBalancerNodePorts;
      if (spec.loadBalancerClass === old.loadBalancerClass) delete spec.loadBalancerClass;
    }
    if (!needsHealthCheckNodePort(spec) && spec.healthCheckNodePort === old.healthCheckNodePort) delete spec.healthCheckNodePort;
  }

  if (externallyReachable(spec)) spec.externalTrafficPolicy ??= 'Cluster';
  if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
  if (spec.type !== 'ExternalName') {
    spec.internalTrafficPolicy ??= 'Cluster';
    // clusterIP and clusterIPs[0] are one value, as the v1 conversion keeps them.
    if ((spec.clusterIP === undefined || spec.clusterIP === '') && spec.clusterIPs?.[0]) spec.clusterIP = spec.clusterIPs[0];
    if (spec.clusterIP && (spec.clusterIPs ?? []).length === 0) spec.clusterIPs = [spec.clusterIP];
  }
  return spec;
}
