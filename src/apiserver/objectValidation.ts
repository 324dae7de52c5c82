// Generic ObjectMeta validation: names, labels, annotations and finalizers, with the messages
// k8s.io/apimachinery gives.
import { invalidValue, requiredValue, forbiddenField, type FieldError } from './apiErrors.js';
import type { KubeObject } from './objectStore.js';

const dns1123LabelRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dns1123SubdomainRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dns1035LabelRe = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const qualifiedNameRe = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValueRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function dns1123LabelErrors(value: string): string[] {
  const out: string[] = [];
  if (value.length > 63) out.push('must be no more than 63 characters');
  if (!dns1123LabelRe.test(value)) {
    out.push(
      `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
    );
  }
  return out;
}

export function dns1123SubdomainErrors(value: string): string[] {
  const out: string[] = [];
  if (value.length > 253) out.push('must be no more than 253 characters');
  if (!dns1123SubdomainRe.test(value)) {
    out.push(
      `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    );
  }
  return out;
}

export function dns1035LabelErrors(value: string): string[] {
  const out: string[] = [];
  if (value.length > 63) out.push('must be no more than 63 characters');
  if (!dns1035LabelRe.test(value)) {
    out.push(
      `a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
    );
  }
  return out;
}

/** Errors for a qualified name such as a label key or finalizer ("prefix/name"). */
export function qualifiedNameErrors(value: string): string[] {
  const parts = value.split('/');
  let name = value;
  const out: string[] = [];
  if (parts.length === 2) {
    const [prefix, n] = parts as [string, string];
    name = n;
    if (prefix.length === 0) out.push('prefix part must be non-empty');
    else out.push(...dns1123SubdomainErrors(prefix).map((e) => `prefix part ${e}`));
  } else if (parts.length > 2) {
    return [
      `a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) out.push('name part must be non-empty');
  else if (name.length > 63) out.push('name part must be no more than 63 characters');
  if (name.length > 0 && !qualifiedNameRe.test(name)) {
    out.push(
      `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
    );
  }
  return out;
}

export type NameRule = 'dns1035Label' | 'dns1123Label' | 'dns1123Subdomain';

export function nameErrors(rule: NameRule, value: string): string[] {
  if (rule === 'dns1035Label') return dns1035LabelErrors(value);
  if (rule === 'dns1123Label') return dns1123LabelErrors(value);
  return dns1123SubdomainErrors(value);
}

const annotationsLimit = 256 * 1024;

export function validateObjectMeta(obj: KubeObject, rule: NameRule, namespaced: boolean): FieldError[] {
  const errors: FieldError[] = [];
  const meta = obj.metadata;
  if (!meta.name) errors.push(requiredValue('metadata.name', 'name or generateName is required'));
  else for (const e of nameErrors(rule, meta.name)) errors.push(invalidValue('metadata.name', meta.name, e));
  if (namespaced && !meta.namespace) errors.push(requiredValue('metadata.namespace'));
  if (!namespaced && meta.namespace) errors.push(forbiddenField('metadata.namespace', 'not allowed on this type'));
  if (meta.labels !== undefined) {
    if (typeof meta.labels !== 'object' || meta.labels === null || Array.isArray(meta.labels)) {
      errors.push(invalidValue('metadata.labels', meta.labels, 'must be a map of strings'));
    } else {
      for (const [k, v] of Object.entries(meta.labels)) {
        for (const e of qualifiedNameErrors(k)) errors.push(invalidValue('metadata.labels', k, e));
        if (typeof v !== 'string') errors.push(invalidValue(`metadata.labels`, v, 'must be a string'));
        else if (v.length > 63) errors.push(invalidValue('metadata.labels', v, 'must be no more than 63 characters'));
        else if (!labelValueRe.test(v)) {
          errors.push(
            invalidValue(
              'metadata.labels',
              v,
              `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
            ),
          );
        }
      }
    }
  }
  if (meta.annotations !== undefined) {
    if (typeof meta.annotations !== 'object' || meta.annotations === null || Array.isArray(meta.annotations)) {
      errors.push(invalidValue('metadata.annotations', meta.annotations, 'must be a map of strings'));
    } else {
      let size = 0;
      for (const [k, v] of Object.entries(meta.annotations)) {
        for (const e of qualifiedNameErrors(k.toLowerCase())) errors.push(invalidValue('metadata.annotations', k, e));
        if (typeof v !== 'string') errors.push(invalidValue(`metadata.annotations`, v, 'must be a string'));
        size += k.length + String(v).length;
      }
      if (size > annotationsLimit) errors.push({ type: 'FieldValueTooLong', field: 'metadata.annotations', value: '', detail: `may not be more than ${annotationsLimit} bytes` });
    }
  }
  if (meta.finalizers !== undefined) {
    if (!Array.isArray(meta.finalizers)) errors.push(invalidValue('metadata.finalizers', meta.finalizers, 'must be a list of strings'));
    else {
      meta.finalizers.forEach((f, i) => {
        if (typeof f !== 'string') errors.push(invalidValue(`metadata.finalizers[${i}]`, f, 'must be a string'));
        else for (const e of qualifiedNameErrors(f)) errors.push(invalidValue(`metadata.finalizers[${i}]`, f, e));
      });
    }
  }
  return errors;
}
