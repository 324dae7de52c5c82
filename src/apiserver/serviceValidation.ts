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

export function validateServiceSpec(spec: ServiceSpec, old?: ServiceSpec): FieldError[] {
  const errors: FieldError[] = [];
  const type = spec.type;
  if (!types.includes(type as (typeof types)[number])) errors.push(unsupportedValue('spec.type', type, types));

  const ports = spec.ports ?? [];
  if (!Array.isArray(ports)) {
    errors.push(invalidValue('spec.ports', ports, 'must be a list'));
    return errors;
  }
  const headless = spec.clusterIP === 'None';
  if (ports.length === 0 && type !== 'ExternalName' && !headless) errors.push(requiredValue('spec.ports'));
  const seenNames = new Set<string>();
  const seenPorts = new Set<string>();
  ports.forEach((p, i) => {
    const at = `spec.ports[${i}]`;
    if (ports.length > 1 && !p.name) errors.push(requiredValue(`${at}.name`));
    if (p.name) {
      for (const e of dns1123LabelErrors(p.name)) errors.push(invalidValue(`${at}.name`, p.name, e));
      if (seenNames.has(p.name)) errors.push(duplicateValue(`${at}.name`, p.name));
      seenNames.add(p.name);
    }
    if (!Number.isInteger(p.port) || (p.port as number) < 1 || (p.port as number) > 65535) {
      errors.push(invalidValue(`${at}.port`, p.port ?? 0, 'must be between 1 and 65535, inclusive'));
    }
    if (!protocols.includes(p.protocol as (typeof protocols)[number])) errors.push(unsupportedValue(`${at}.protocol`, p.protocol, protocols));
    if (typeof p.targetPort === 'number') {
      if (!Number.isInteger(p.targetPort) || p.targetPort < 1 || p.targetPort > 65535) {
        errors.push(invalidValue(`${at}.targetPort`, p.targetPort, 'must be between 1 and 65535, inclusive'));
      }
    } else if (typeof p.targetPort === 'string') {
      if (p.targetPort.length > 15 || !ianaServiceName.test(p.targetPort) || !/[a-z]/.test(p.targetPort)) {
        errors.push(invalidValue(`${at}.targetPort`, p.targetPort, 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-), at most 15 characters, and at least one letter'));
      }
    }
    if (p.nodePort !== undefined && p.nodePort !== 0) {
      if (type !== 'NodePort' && type !== 'LoadBalancer') errors.push(forbiddenField(`${at}.nodePort`, 'may not be used when `type` is \'ClusterIP\''));
      else if (!Number.isInteger(p.nodePort) || p.nodePort < 1 || p.nodePort > 65535) errors.push(invalidValue(`${at}.nodePort`, p.nodePort, 'must be between 1 and 65535, inclusive'));
    }
    const portKey = `${p.port}/${p.protocol}`;
    if (seenPorts.has(portKey)) errors.push(duplicateValue(at, { port: p.port, protocol: p.protocol }));
    seenPorts.add(portKey);
  });

  // One nodePort per protocol: the same number may serve TCP and UDP, but not two TCP ports.
  const seenNodePorts = new Set<string>();
  ports.forEach((p, i) => {
    if (!p.nodePort) return;
    const key = `${p.protocol}/${p.nodePort}`;
    if (seenNodePorts.has(key)) errors.push(duplicateValue(`spec.ports[${i}].nodePort`, p.nodePort));
    seenNodePorts.add(key);
  });

  if (type === 'ExternalName') {
    if (!spec.externalName) errors.push(requiredValue('spec.externalName'));
    else for (const e of dns1123SubdomainErrors(spec.externalName.replace(/\.$/, ''))) errors.push(invalidValue('spec.externalName', spec.externalName, e));
  }

  if (spec.clusterIP !== undefined && spec.clusterIP !== '' && spec.clusterIP !== 'None' && !isIp(spec.clusterIP)) {
    errors.push(invalidValue('spec.clusterIPs[0]', spec.clusterIP, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
  }
  if (headless && type !== 'ClusterIP') errors.push(invalidValue('spec.clusterIPs[0]', 'None', 'may only be set to "None" for ClusterIP services'));

  if (!affinities.includes(spec.sessionAffinity as (typeof affinities)[number])) errors.push(unsupportedValue('spec.sessionAffinity', spec.sessionAffinity, affinities));
  else if (spec.sessionAffinity === 'ClientIP') {
    const timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
    if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout <= 0 || timeout > maxAffinitySeconds) {
      errors.push(invalidValue('spec.sessionAffinityConfig.clientIP.timeoutSeconds', timeout ?? null, `must be greater than 0 and less than ${maxAffinitySeconds}`));
    }
  } else if (spec.sessionAffinityConfig !== undefined && spec.sessionAffinityConfig !== null) {
    errors.push(forbiddenField('spec.sessionAffinityConfig', 'must not be set when session affinity is None'));
  }

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
    } else if (!Number.isInteger(spec.healthCheckNodePort) || spec.healthCheckNodePort < 1 || spec.healthCheckNodePort > 65535) {
      errors.push(invalidValue('spec.healthCheckNodePort', spec.healthCheckNodePort, 'must be between 1 and 65535, inclusive'));
    }
  }

  if (spec.loadBalancerIP !== undefined && spec.loadBalancerIP !== '') {
    if (type !== 'LoadBalancer') errors.push(forbiddenField('spec.loadBalancerIP', "may only be used when `type` is 'LoadBalancer'"));
    else if (!isIp(spec.loadBalancerIP)) errors.push(invalidValue('spec.loadBalancerIP', spec.loadBalancerIP, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
  }
  if (spec.loadBalancerSourceRanges !== undefined) {
    if (type !== 'LoadBalancer' && spec.loadBalancerSourceRanges.length > 0) {
      errors.push(forbiddenField('spec.loadBalancerSourceRanges', "may only be used when `type` is 'LoadBalancer'"));
    }
    spec.loadBalancerSourceRanges.forEach((r, i) => {
      if (!isCidr(r)) errors.push(invalidValue(`spec.loadBalancerSourceRanges[${i}]`, r, 'must be a valid CIDR, (e.g. 10.0.0.0/8 or 2001:db8::/64)'));
    });
  }
  (spec.externalIPs ?? []).forEach((ip, i) => {
    if (!isIp(ip)) errors.push(invalidValue(`spec.externalIPs[${i}]`, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
  });

  if (spec.allocateLoadBalancerNodePorts !== undefined && type !== 'LoadBalancer') {
    errors.push(forbiddenField('spec.allocateLoadBalancerNodePorts', "may only be used when `type` is 'LoadBalancer'"));
  }

  if (spec.loadBalancerClass !== undefined) {
    if (type !== 'LoadBalancer') errors.push(forbiddenField('spec.loadBalancerClass', "may only be used when `type` is 'LoadBalancer'"));
    else for (const e of qualifiedNameErrors(spec.loadBalancerClass)) errors.push(invalidValue('spec.loadBalancerClass', spec.loadBalancerClass, e));
  }

  if (old) {
    if (old.clusterIP && old.clusterIP !== spec.clusterIP && old.type !== 'ExternalName' && type !== 'ExternalName') {
      errors.push(invalidValue('spec.clusterIPs[0]', spec.clusterIP ?? '', 'may not change once set'));
    }
    if (old.type === 'LoadBalancer' && type === 'LoadBalancer' && old.loadBalancerClass !== spec.loadBalancerClass) {
      errors.push(invalidValue('spec.loadBalancerClass', spec.loadBalancerClass ?? null, 'may not change once set'));
    }
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
    if (ing.ip !== undefined && ing.ip !== '' && !isIp(ing.ip)) errors.push(invalidValue(`${at}.ip`, ing.ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
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
