// Service validation with the field paths and messages the kube-apiserver gives (pure).
import ipaddr from 'ipaddr.js';
import { duplicateValue, forbiddenField, invalidValue, requiredValue, unsupportedValue, type FieldError } from './apiErrors.js';
import { dns1123LabelErrors, dns1123SubdomainErrors, qualifiedNameErrors } from './objectValidation.js';
import type { ServiceSpec } from './serviceDefaults.js';

const types = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'] as const;
const protocols = ['SCTP', 'TCP', 'UDP'] as const;
const trafficPolicies = ['Cluster', 'Local'] as const;
const affinities = ['ClientIP', 'None'] as const;
const ipModes = ['Proxy', 'VIP'] as const;
const maxAffinitySeconds = 86400;
const ianaServiceName = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

const isIp = (v: unknown): boolean => typeof v === 'string' && ipaddr.isValid(v) && (v.includes(':') || ipaddr.IPv4.isValidFourPartDecimal(v));

function isCidr(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  try {
    ipaddr.parseCIDR(v);
    return true;
  } catch {
    return false;
  }
}

/** Every error in a Service spec, checked part by part as the kube-apiserver's ValidateService does. */
export function validateServiceSpec(spec: ServiceSpec, old?: ServiceSpec): FieldError[] {
  const type = spec.type;
  const errors: FieldError[] = [];
  if (!types.includes(type as (typeof types)[number])) errors.push(unsupportedValue('spec.type', type, types));
  const ports = spec.ports ?? [];
  if (!Array.isArray(ports)) return [...errors, invalidValue('spec.ports', ports, 'must be a list')];
  return [
    ...errors,
    ...portErrors(spec, ports),
    ...addressErrors(spec),
    ...affinityErrors(spec),
    ...trafficPolicyErrors(spec),
    ...loadBalancerErrors(spec),
    ...(old ? immutableErrors(spec, old) : []),
  ];
}

type ServicePort = NonNullable<ServiceSpec['ports']>[number];

function portErrors(spec: ServiceSpec, ports: ServicePort[]): FieldError[] {
  const errors: FieldError[] = [];
  const type = spec.type;
  if (ports.length === 0 && type !== 'ExternalName' && spec.clusterIP !== 'None') errors.push(requiredValue('spec.ports'));
  const seenNames = new Set<string>();
  const seenPorts = new Set<string>();
  // One nodePort per protocol: the same number may serve TCP and UDP, but not two TCP ports.
  const seenNodePorts = new Set<string>();
  ports.forEach((p, i) => {
    const at = `spec.ports[${i}]`;
    if (ports.length > 1 && !p.name) errors.push(requiredValue(`${at}.name`));
    if (p.name) {
      for (const e of dns1123LabelErrors(p.name)) errors.push(invalidValue(`${at}.name`, p.name, e));
      if (seenNames.has(p.name)) errors.push(duplicateValue(`${at}.name`, p.name));
      seenNames.add(p.name);
    }
    if (!isPortNumber(p.port)) errors.push(invalidValue(`${at}.port`, p.port ?? 0, 'must be between 1 and 65535, inclusive'));
    if (!protocols.includes(p.protocol as (typeof protocols)[number])) errors.push(unsupportedValue(`${at}.protocol`, p.protocol, protocols));
    errors.push(...targetPortErrors(at, p.targetPort));
    if (p.nodePort !== undefined && p.nodePort !== 0) {
      if (type !== 'NodePort' && type !== 'LoadBalancer') errors.push(forbiddenField(`${at}.nodePort`, 'may not be used when `type` is \'ClusterIP\''));
      else if (!isPortNumber(p.nodePort)) errors.push(invalidValue(`${at}.nodePort`, p.nodePort, 'must be between 1 and 65535, inclusive'));
    }
    const portKey = `${p.port}/${p.protocol}`;
    if (seenPorts.has(portKey)) errors.push(duplicateValue(at, { port: p.port, protocol: p.protocol }));
    seenPorts.add(portKey);
  });
  ports.forEach((p, i) => {
    if (!p.nodePort) return;
    const key = `${p.protocol}/${p.nodePort}`;
    if (seenNodePorts.has(key)) errors.push(duplicateValue(`spec.ports[${i}].nodePort`, p.nodePort));
    seenNodePorts.add(key);
  });
  return errors;
}

const isPortNumber = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;

function targetPortErrors(at: string, targetPort: ServicePort['targetPort']): FieldError[] {
  if (typeof targetPort === 'number' && !isPortNumber(targetPort)) {
    return [invalidValue(`${at}.targetPort`, targetPort, 'must be between 1 and 65535, inclusive')];
  }
  if (typeof targetPort === 'string' && (targetPort.length > 15 || !ianaServiceName.test(targetPort) || !/[a-z]/.test(targetPort))) {
    return [invalidValue(`${at}.targetPort`, targetPort, 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-), at most 15 characters, and at least one letter')];
  }
  return [];
}

const notAnIp = 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)';

function addressErrors(spec: ServiceSpec): FieldError[] {
  const errors: FieldError[] = [];
  if (spec.type === 'ExternalName') {
    if (!spec.externalName) errors.push(requiredValue('spec.externalName'));
    else for (const e of dns1123SubdomainErrors(spec.externalName.replace(/\.$/, ''))) errors.push(invalidValue('spec.externalName', spec.externalName, e));
  }
  if (spec.clusterIP !== undefined && spec.clusterIP !== '' && spec.clusterIP !== 'None' && !isIp(spec.clusterIP)) {
    errors.push(invalidValue('spec.clusterIPs[0]', spec.clusterIP, notAnIp));
  }
  if (spec.clusterIP === 'None' && spec.type !== 'ClusterIP') errors.push(invalidValue('spec.clusterIPs[0]', 'None', 'may only be set to "None" for ClusterIP services'));
  (spec.externalIPs ?? []).forEach((ip, i) => {
    if (!isIp(ip)) errors.push(invalidValue(`spec.externalIPs[${i}]`, ip, notAnIp));
  });
  return errors;
}

function affinityErrors(spec: ServiceSpec): FieldError[] {
  if (!affinities.includes(spec.sessionAffinity as (typeof affinities)[number])) return [unsupportedValue('spec.sessionAffinity', spec.sessionAffinity, affinities)];
  if (spec.sessionAffinity === 'ClientIP') {
    const timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
    if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout <= 0 || timeout > maxAffinitySeconds) {
      return [invalidValue('spec.sessionAffinityConfig.clientIP.timeoutSeconds', timeout ?? null, `must be greater than 0 and less than ${maxAffinitySeconds}`)];
    }
  } else if (spec.sessionAffinityConfig !== undefined && spec.sessionAffinityConfig !== null) {
    return [forbiddenField('spec.sessionAffinityConfig', 'must not be set when session affinity is None')];
  }
  return [];
}

function trafficPolicyErrors(spec: ServiceSpec): FieldError[] {
  const errors: FieldError[] = [];
  const type = spec.type;
  if (spec.externalTrafficPolicy !== undefined) {
    if (type !== 'NodePort' && type !== 'LoadBalancer') {
      errors.push(invalidValue('spec.externalTrafficPolicy', spec.externalTrafficPolicy, "may only be set when `type` is 'NodePort' or 'LoadBalancer'"));
    } else if (!trafficPolicies.includes(spec.externalTrafficPolicy as (typeof trafficPolicies)[number])) {
      errors.push(unsupportedValue('spec.externalTrafficPolicy', spec.externalTrafficPolicy, trafficPolicies));
    }
  }
  if (spec.internalTrafficPolicy !== undefined && !trafficPolicies.includes(spec.internalTrafficPolicy as (typeof trafficPolicies)[number])) {
    errors.push(unsupportedValue('spec.internalTrafficPolicy', spec.internalTrafficPolicy, trafficPolicies));
  }
  if (spec.healthCheckNodePort !== undefined && spec.healthCheckNodePort !== 0) {
    if (!(type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local')) {
      errors.push(invalidValue('spec.healthCheckNodePort', spec.healthCheckNodePort, 'may only be set when `type` is \'LoadBalancer\' and `externalTrafficPolicy` is \'Local\''));
    } else if (!isPortNumber(spec.healthCheckNodePort)) {
      errors.push(invalidValue('spec.healthCheckNodePort', spec.healthCheckNodePort, 'must be between 1 and 65535, inclusive'));
    }
  }
  return errors;
}

/** The fields only a LoadBalancer may set, and their values. */
function loadBalancerErrors(spec: ServiceSpec): FieldError[] {
  const errors: FieldError[] = [];
  const isLb = spec.type === 'LoadBalancer';
  const onlyLb = (field: string) => forbiddenField(field, "may only be used when `type` is 'LoadBalancer'");
  if (spec.loadBalancerIP !== undefined && spec.loadBalancerIP !== '') {
    if (!isLb) errors.push(onlyLb('spec.loadBalancerIP'));
    else if (!isIp(spec.loadBalancerIP)) errors.push(invalidValue('spec.loadBalancerIP', spec.loadBalancerIP, notAnIp));
  }
  if (spec.loadBalancerSourceRanges !== undefined) {
    if (!isLb && spec.loadBalancerSourceRanges.length > 0) errors.push(onlyLb('spec.loadBalancerSourceRanges'));
    spec.loadBalancerSourceRanges.forEach((r, i) => {
      if (!isCidr(r)) errors.push(invalidValue(`spec.loadBalancerSourceRanges[${i}]`, r, 'must be a valid CIDR, (e.g. 10.0.0.0/8 or 2001:db8::/64)'));
    });
  }
  if (spec.allocateLoadBalancerNodePorts !== undefined && !isLb) errors.push(onlyLb('spec.allocateLoadBalancerNodePorts'));
  if (spec.loadBalancerClass !== undefined) {
    if (!isLb) errors.push(onlyLb('spec.loadBalancerClass'));
    else for (const e of qualifiedNameErrors(spec.loadBalancerClass)) errors.push(invalidValue('spec.loadBalancerClass', spec.loadBalancerClass, e));
  }
  return errors;
}

function immutableErrors(spec: ServiceSpec, old: ServiceSpec): FieldError[] {
  const errors: FieldError[] = [];
  if (old.clusterIP && old.clusterIP !== spec.clusterIP && old.type !== 'ExternalName' && spec.type !== 'ExternalName') {
    errors.push(invalidValue('spec.clusterIPs[0]', spec.clusterIP ?? '', 'may not change once set'));
  }
  if (old.type === 'LoadBalancer' && spec.type === 'LoadBalancer' && old.loadBalancerClass !== spec.loadBalancerClass) {
    errors.push(invalidValue('spec.loadBalancerClass', spec.loadBalancerClass ?? null, 'may not change once set'));
  }
  return errors;
}

export function validateServiceStatus(status: unknown): FieldError[] {
  const errors: FieldError[] = [];
  const ingress = (status as { loadBalancer?: { ingress?: unknown } } | undefined)?.loadBalancer?.ingress;
  if (ingress === undefined || ingress === null) return errors;
  if (!Array.isArray(ingress)) return [invalidValue('status.loadBalancer.ingress', ingress, 'must be a list')];
  ingress.forEach((raw, i) => {
    const at = `status.loadBalancer.ingress[${i}]`;
    const ing = (raw ?? {}) as { ip?: unknown; hostname?: unknown; ipMode?: unknown; ports?: unknown };
    if (ing.ip !== undefined && ing.ip !== '' && !isIp(ing.ip)) errors.push(invalidValue(`${at}.ip`, ing.ip, notAnIp));
    if (ing.hostname !== undefined && ing.hostname !== '') {
      if (typeof ing.hostname !== 'string') errors.push(invalidValue(`${at}.hostname`, ing.hostname, 'must be a string'));
      else {
        for (const e of dns1123SubdomainErrors(ing.hostname)) errors.push(invalidValue(`${at}.hostname`, ing.hostname, e));
        if (isIp(ing.hostname)) errors.push(invalidValue(`${at}.hostname`, ing.hostname, 'must be a DNS name, not an IP address'));
      }
    }
    if (ing.ipMode !== undefined) {
      if (!ing.ip) errors.push(forbiddenField(`${at}.ipMode`, 'may not be specified when `ip` is not set'));
      else if (!ipModes.includes(ing.ipMode as (typeof ipModes)[number])) errors.push(unsupportedValue(`${at}.ipMode`, ing.ipMode, ipModes));
    }
  });
  return errors;
}
