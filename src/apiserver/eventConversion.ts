// core/v1 Event <-> events.k8s.io/v1 Event. Both APIs share one storage kept in core/v1 shape,
// as in Kubernetes, so `kubectl describe` sees events a controller wrote through either API.
import type { KubeObject } from './objectStore.js';

type Obj = Record<string, unknown>;

function put(target: Obj, key: string, value: unknown): void {
  if (value !== undefined && value !== null) target[key] = value;
}

export function eventsV1ToCore(input: KubeObject): KubeObject {
  const e = input as Obj;
  const out: Obj = { apiVersion: 'v1', kind: 'Event', metadata: input.metadata };
  put(out, 'involvedObject', e.regarding ?? {});
  put(out, 'related', e.related);
  put(out, 'reason', e.reason);
  put(out, 'message', e.note);
  put(out, 'type', e.type);
  put(out, 'action', e.action);
  put(out, 'eventTime', e.eventTime);
  put(out, 'series', e.series);
  put(out, 'reportingComponent', e.reportingController);
  put(out, 'reportingInstance', e.reportingInstance);
  put(out, 'source', e.deprecatedSource);
  put(out, 'firstTimestamp', e.deprecatedFirstTimestamp);
  put(out, 'lastTimestamp', e.deprecatedLastTimestamp);
  put(out, 'count', e.deprecatedCount);
  return out as KubeObject;
}

export function coreToEventsV1(input: KubeObject): KubeObject {
  const e = input as Obj;
  const out: Obj = { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: input.metadata };
  put(out, 'eventTime', e.eventTime ?? null);
  put(out, 'series', e.series);
  put(out, 'reportingController', e.reportingComponent ?? (e.source as Obj | undefined)?.component);
  put(out, 'reportingInstance', e.reportingInstance ?? (e.source as Obj | undefined)?.host);
  put(out, 'action', e.action);
  put(out, 'reason', e.reason);
  put(out, 'regarding', e.involvedObject);
  put(out, 'related', e.related);
  put(out, 'note', e.message);
  put(out, 'type', e.type);
  put(out, 'deprecatedSource', e.source);
  put(out, 'deprecatedFirstTimestamp', e.firstTimestamp);
  put(out, 'deprecatedLastTimestamp', e.lastTimestamp);
  put(out, 'deprecatedCount', e.count);
  return out as KubeObject;
}
