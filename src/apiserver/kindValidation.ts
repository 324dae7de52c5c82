// Validation for the kinds other than Service (pure): ConfigMap keys and immutability,
// EndpointSlice address types and ports, Lease durations, Node taints.
import { forbiddenField, invalidValue, requiredValue, unsupportedValue, type FieldError } from './apiErrors.js';
import type { KubeObject } from './objectStore.js';

type Obj = Record<string, unknown>;

const configKey = /^[-._a-zA-Z0-9]+$/;
const addressTypes = ['FQDN', 'IPv4', 'IPv6'] as const;
const protocols = ['SCTP', 'TCP', 'UDP'] as const;
const taintEffects = ['NoExecute', 'NoSchedule', 'PreferNoSchedule'] as const;

function configMap(obj: KubeObject, old?: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  for (const field of ['data', 'binaryData'] as const) {
    const map = obj[field] as Obj | undefined;
    if (map === undefined || map === null) continue;
    if (typeof map !== 'object' || Array.isArray(map)) {
      errors.push(invalidValue(field, map, 'must be a map'));
      continue;
    }
    for (const [k, v] of Object.entries(map)) {
      if (!configKey.test(k) || k === '.' || k === '..' || k.startsWith('..') || k.length > 253) {
        errors.push(
          invalidValue(
            `${field}[${k}]`,
            k,
            `a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
          ),
        );
      }
      if (typeof v !== 'string') errors.push(invalidValue(`${field}[${k}]`, v, 'must be a string'));
    }
  }
  if (old?.immutable === true) {
    if (JSON.stringify(old.data ?? {}) !== JSON.stringify(obj.data ?? {}) || JSON.stringify(old.binaryData ?? {}) !== JSON.stringify(obj.binaryData ?? {})) {
      errors.push(forbiddenField('data', 'field is immutable when `immutable` is set'));
    }
    if (obj.immutable !== true) errors.push(forbiddenField('immutable', 'field is immutable when `immutable` is set'));
  }
  return errors;
}

function endpointSlice(obj: KubeObject, old?: KubeObject): FieldError[] {
  const errors: FieldError[] = [];
  if (obj.addressType === undefined) errors.push(requiredValue('addressType'));
  else if (!addressTypes.includes(obj.addressType as (typeof addressTypes)[number])) errors.push(unsupportedValue('addressType', obj.addressType, addressTypes));
  if (old && old.addressType !== obj.addressType) errors.push(invalidValue('addressType', obj.addressType, 'field is immutable'));
  const endpoints = (obj.endpoints ?? []) as Obj[];
  if (!Array.isArray(endpoints)) errors.push(invalidValue('endpoints', endpoints, 'must be a list'));
  else {
    endpoints.forEach((e, i) => {
      const addresses = e?.addresses as unknown;
      if (!Array.isArray(addresses) || addresses.length === 0) errors.push(requiredValue(`endpoints[${i}].addresses`, 'must contain at least 1 address'));
      else if (addresses.length > 100) errors.push({ type: 'FieldValueTooLong', field: `endpoints[${i}].addresses`, value: '', detail: 'must have at most 100 items' });
    });
  }
  ((obj.ports ?? []) as Obj[]).forEach((p, i) => {
    if (p.port !== undefined && p.port !== null && (!Number.isInteger(p.port) || (p.port as number) < 1 || (p.port as number) > 65535)) {
      errors.push(invalidValue(`ports[${i}].port`, p.port, 'must be between 1 and 65535, inclusive'));
    }
    if (p.protocol !== undefined && !protocols.includes(p.protocol as (typeof protocols)[number])) errors.push(unsupportedValue(`ports[${i}].protocol`, p.protocol, protocols));
  });
  return errors;
}

function lease(obj: KubeObject): FieldError[] {
  const spec = (obj.spec ?? {}) as Obj;
  const errors: FieldError[] = [];
  if (spec.leaseDurationSeconds !== undefined && spec.leaseDurationSeconds !== null && (!Number.isInteger(spec.leaseDurationSeconds) || (spec.leaseDurationSeconds as number) <= 0)) {
    errors.push(invalidValue('spec.leaseDurationSeconds', spec.leaseDurationSeconds, 'must be greater than 0'));
  }
  if (spec.leaseTransitions !== undefined && spec.leaseTransitions !== null && (!Number.isInteger(spec.leaseTransitions) || (spec.leaseTransitions as number) < 0)) {
    errors.push(invalidValue('spec.leaseTransitions', spec.leaseTransitions, 'must be greater than or equal to 0'));
  }
  return errors;
}

function node(obj: KubeObject): FieldError[] {
  const taints = ((obj.spec as Obj | undefined)?.taints ?? []) as Obj[];
  const errors: FieldError[] = [];
  taints.forEach((t, i) => {
    if (!t.key) errors.push(requiredValue(`spec.taints[${i}].key`));
    if (!taintEffects.includes(t.effect as (typeof taintEffects)[number])) errors.push(unsupportedValue(`spec.taints[${i}].effect`, t.effect ?? '', taintEffects));
  });
  return errors;
}

export function validateKind(storage: string, obj: KubeObject, old?: KubeObject): FieldError[] {
  switch (storage) {
    case 'configmaps':
      return configMap(obj, old);
    case 'endpointslices':
      return endpointSlice(obj, old);
    case 'leases':
      return lease(obj);
    case 'nodes':
      return node(obj);
    default:
      return [];
  }
}
