import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/apiserver/apiErrors.js';
import { exactName, matchesFields, parseFieldSelector } from '../../src/apiserver/fieldSelector.js';
import { matchesLabels, parseLabelSelector } from '../../src/apiserver/labelSelector.js';

const labels = { app: 'web', tier: 'front', 'example.com/zone': 'a', size: '7' };

describe('label selectors', () => {
  it.each([
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app!=web', false],
    ['app=db', false],
    ['app', true],
    ['!app', false],
    ['!missing', true],
    ['missing!=x', true],
    ['app in (web, db)', true],
    ['app notin (web,db)', false],
    ['tier notin (back)', true],
    ['example.com/zone=a,app=web', true],
    ['example.com/zone=a,app=db', false],
    ['size>5', true],
    ['size<5', false],
    ['app in (web),tier in (front,back),!gone', true],
  ])('%s matches: %s', (selector, expected) => {
    expect(matchesLabels(parseLabelSelector(selector), labels)).toBe(expected);
  });

  it('an object without labels matches only negative requirements', () => {
    expect(matchesLabels(parseLabelSelector('!a,b!=c'), undefined)).toBe(true);
    expect(matchesLabels(parseLabelSelector('a'), undefined)).toBe(false);
  });

  it.each(['app=(x', 'a b c', 'app=web,', 'Bad Key=1', 'app=in valid', 'size>x'])('rejects %s with 400', (selector) => {
    let err: unknown;
    try {
      parseLabelSelector(selector);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe(400);
  });
});

describe('field selectors', () => {
  const event = {
    metadata: { name: 'web.1', namespace: 'default' },
    involvedObject: { kind: 'Service', name: 'web', namespace: 'default', uid: 'u1' },
    reason: 'EnsuredLoadBalancer',
  };

  it('matches metadata and involvedObject fields with =, == and !=', () => {
    const sel = parseFieldSelector('events', 'involvedObject.kind=Service,involvedObject.name==web,involvedObject.uid=u1,metadata.namespace!=kube-system');
    expect(matchesFields(sel, event)).toBe(true);
    expect(matchesFields(parseFieldSelector('events', 'involvedObject.name=db'), event)).toBe(false);
    expect(matchesFields(parseFieldSelector('events', 'regarding.name=web'), event)).toBe(true);
  });

  it('rejects fields the resource does not support', () => {
    expect(() => parseFieldSelector('services', 'involvedObject.name=x')).toThrow(/field label not supported: involvedObject.name/);
    expect(() => parseFieldSelector('services', 'garbage')).toThrow(ApiError);
  });

  it('finds an exact metadata.name for direct lookups', () => {
    expect(exactName(parseFieldSelector('services', 'metadata.name=web'))).toBe('web');
    expect(exactName(parseFieldSelector('services', 'metadata.name!=web'))).toBeUndefined();
  });
});

describe('known fields', () => {
  it('names unknown fields by path, through lists, and prunes them on request', async () => {
    const { pruneUnknownFields, unknownFields } = await import('../../src/apiserver/knownFields.js');
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', labls: {} }, spec: { ports: [{ port: 1 }, { port: 2, nmae: 'x' }], prots: [] }, status: { loadBalancer: { ingress: [{ ip: '1.2.3.4', ipp: 1 }] } } };
    expect(unknownFields('', 'services', svc)).toEqual(['metadata.labls', 'spec.ports[1].nmae', 'spec.prots', 'status.loadBalancer.ingress[0].ipp']);
    expect(unknownFields('events.k8s.io', 'events', { note: 'x', message: 'y' })).toEqual(['message']);
    expect(unknownFields('', 'events', { note: 'x', message: 'y' })).toEqual(['note']);
    pruneUnknownFields('', 'services', svc);
    expect(svc).toEqual({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' }, spec: { ports: [{ port: 1 }, { port: 2 }] }, status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } });
  });
});
