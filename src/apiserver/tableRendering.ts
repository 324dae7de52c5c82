// meta.k8s.io/v1 Table responses, so `kubectl get` prints the columns the real server gives.
import { ageOf } from './humanDuration.js';
import type { PrinterColumn } from './customResourceVersion.js';
import type { KubeObject } from './objectStore.js';
import { printerCell } from './printerColumns.js';

export interface ColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

export interface TableRow {
  cells: unknown[];
  object?: unknown;
}

export interface Table {
  kind: 'Table';
  apiVersion: 'meta.k8s.io/v1';
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: ColumnDefinition[];
  rows: TableRow[];
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

type Obj = Record<string, unknown>;
type Cell = (o: KubeObject, now: Date) => unknown;
interface Column {
  def: ColumnDefinition;
  cell: Cell;
}

const col = (name: string, cell: Cell, priority = 0, type = 'string', format = ''): Column => ({
  def: { name, type, format, description: name, priority },
  cell,
});

const nameCol = col('Name', (o) => o.metadata.name ?? '', 0, 'string', 'name');
const ageCol = col('Age', (o, now) => ageOf(o.metadata.creationTimestamp, now));
const get = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((cur, k) => (cur && typeof cur === 'object' ? (cur as Obj)[k] : undefined), o);

function servicePorts(o: KubeObject): string {
  const ports = (get(o, 'spec', 'ports') as Obj[] | undefined) ?? [];
  if (ports.length === 0) return '<none>';
  return ports.map((p) => (p.nodePort ? `${String(p.port)}:${String(p.nodePort)}/${String(p.protocol ?? 'TCP')}` : `${String(p.port)}/${String(p.protocol ?? 'TCP')}`)).join(',');
}

function serviceExternalIp(o: KubeObject): string {
  const type = get(o, 'spec', 'type') as string | undefined;
  const externalIPs = (get(o, 'spec', 'externalIPs') as string[] | undefined) ?? [];
  switch (type) {
    case 'ClusterIP':
    case 'NodePort':
    case undefined:
      return externalIPs.length > 0 ? externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      const ingress = ((get(o, 'status', 'loadBalancer', 'ingress') as Obj[] | undefined) ?? []).map((i) => String(i.ip || i.hostname || '')).filter(Boolean);
      const all = [...ingress, ...externalIPs];
      return all.length > 0 ? all.join(',') : '<pending>';
    }
    case 'ExternalName':
      return String(get(o, 'spec', 'externalName') ?? '<none>');
    default:
      return '<unknown>';
  }
}

function selectorText(sel: unknown): string {
  if (!sel || typeof sel !== 'object' || Object.keys(sel).length === 0) return '<none>';
  return Object.entries(sel as Obj)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
}

function nodeStatus(o: KubeObject): string {
  const conditions = (get(o, 'status', 'conditions') as Obj[] | undefined) ?? [];
  const ready = conditions.find((c) => c.type === 'Ready');
  const parts = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
  if (get(o, 'spec', 'unschedulable')) parts.push('SchedulingDisabled');
  return parts.join(',');
}

function nodeRoles(o: KubeObject): string {
  const roles = Object.keys(o.metadata.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length))
    .filter(Boolean);
  return roles.length > 0 ? roles.sort().join(',') : '<none>';
}

function nodeAddress(o: KubeObject, type: string): string {
  const addrs = (get(o, 'status', 'addresses') as Obj[] | undefined) ?? [];
  return String(addrs.find((a) => a.type === type)?.address ?? '<none>');
}

function eventObject(o: KubeObject): string {
  const kind = String(get(o, 'involvedObject', 'kind') ?? '').toLowerCase();
  return `${kind}/${String(get(o, 'involvedObject', 'name') ?? '')}`;
}

function eventLastSeen(o: KubeObject, now: Date): string {
  const t = get(o, 'lastTimestamp') ?? get(o, 'series', 'lastObservedTime') ?? get(o, 'eventTime') ?? o.metadata.creationTimestamp;
  return ageOf(t, now);
}

const columnsByStorage: Record<string, Column[]> = {
  services: [
    nameCol,
    col('Type', (o) => get(o, 'spec', 'type') ?? ''),
    col('Cluster-IP', (o) => get(o, 'spec', 'clusterIP') || '<none>'),
    col('External-IP', serviceExternalIp),
    col('Port(s)', servicePorts),
    ageCol,
    col('Selector', (o) => selectorText(get(o, 'spec', 'selector')), 1),
  ],
  nodes: [
    nameCol,
    col('Status', nodeStatus),
    col('Roles', nodeRoles),
    ageCol,
    col('Version', (o) => get(o, 'status', 'nodeInfo', 'kubeletVersion') ?? ''),
    col('Internal-IP', (o) => nodeAddress(o, 'InternalIP'), 1),
    col('External-IP', (o) => nodeAddress(o, 'ExternalIP'), 1),
    col('OS-Image', (o) => get(o, 'status', 'nodeInfo', 'osImage') ?? '<unknown>', 1),
    col('Kernel-Version', (o) => get(o, 'status', 'nodeInfo', 'kernelVersion') ?? '<unknown>', 1),
    col('Container-Runtime', (o) => get(o, 'status', 'nodeInfo', 'containerRuntimeVersion') ?? '<unknown>', 1),
  ],
  namespaces: [nameCol, col('Status', (o) => get(o, 'status', 'phase') ?? ''), ageCol],
  events: [
    col('Last Seen', eventLastSeen),
    col('Type', (o) => get(o, 'type') ?? ''),
    col('Reason', (o) => get(o, 'reason') ?? ''),
    col('Object', eventObject),
    col('Message', (o) => String(get(o, 'message') ?? '').trim()),
    col('Source', (o) => get(o, 'source', 'component') ?? get(o, 'reportingComponent') ?? '', 1),
    col('Count', (o) => Number(get(o, 'count') ?? get(o, 'series', 'count') ?? 1), 1, 'integer'),
    { ...nameCol, def: { ...nameCol.def, priority: 1 } },
  ],
  secrets: [
    nameCol,
    col('Type', (o) => get(o, 'type') ?? ''),
    col('Data', (o) => Object.keys((get(o, 'data') as Obj | undefined) ?? {}).length, 0, 'integer'),
    ageCol,
  ],
  customresourcedefinitions: [nameCol, col('Created At', (o) => o.metadata.creationTimestamp ?? '', 0, 'date')],
  leases: [nameCol, col('Holder', (o) => get(o, 'spec', 'holderIdentity') ?? ''), ageCol],
  configmaps: [nameCol, col('Data', (o) => Object.keys((get(o, 'data') as Obj | undefined) ?? {}).length + Object.keys((get(o, 'binaryData') as Obj | undefined) ?? {}).length, 0, 'integer'), ageCol],
  endpointslices: [
    nameCol,
    col('AddressType', (o) => get(o, 'addressType') ?? ''),
    col('Ports', (o) => {
      const ports = (get(o, 'ports') as Obj[] | undefined) ?? [];
      return ports.length > 0 ? ports.map((p) => String(p.port ?? '')).join(',') : '<unset>';
    }),
    col('Endpoints', (o) => {
      const addrs = ((get(o, 'endpoints') as Obj[] | undefined) ?? []).flatMap((e) => (e.addresses as string[] | undefined) ?? []);
      if (addrs.length === 0) return '<unset>';
      return addrs.length > 3 ? `${addrs.slice(0, 3).join(',')} + ${addrs.length - 3} more...` : addrs.join(',');
    }),
    ageCol,
  ],
};

const defaultColumns: Column[] = [nameCol, ageCol];

/** What picks the columns: the storage of a built-in kind, or a custom resource's printer columns. */
export interface TableSource {
  storage: string;
  custom?: { printerColumns?: PrinterColumn[] | undefined } | undefined;
}

function columnsOf(source: string | TableSource): Column[] {
  if (typeof source === 'string') return Object.hasOwn(columnsByStorage, source) ? columnsByStorage[source]! : defaultColumns;
  const printer = source.custom?.printerColumns;
  if (source.custom && printer && printer.length > 0) {
    return [
      nameCol,
      ...printer.map((p) => ({
        def: { name: p.name, type: p.type, format: p.format ?? '', description: p.description ?? '', priority: p.priority ?? 0 },
        cell: (o: KubeObject, now: Date) => printerCell(o, p, now),
      })),
    ];
  }
  return columnsOf(source.storage);
}

/** `objects` are in the client's API version; cells come from the storage form. */
export function renderTable(
  source: string | TableSource,
  rows: { stored: KubeObject; shown: KubeObject }[],
  now: Date,
  includeObject: IncludeObject,
  metadata: Table['metadata'],
  withColumns = true,
): Table {
  const columns = columnsOf(source);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: withColumns ? columns.map((c) => c.def) : [],
    rows: rows.map(({ stored, shown }) => {
      const row: TableRow = { cells: columns.map((c) => c.cell(stored, now)) };
      if (includeObject === 'Object') row.object = shown;
      else if (includeObject === 'Metadata') row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: shown.metadata };
      return row;
    }),
  };
}
