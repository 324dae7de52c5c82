// The Kubernetes protobuf envelope ("k8s\0" + runtime.Unknown) and the field numbers of the
// kinds kubectl's typed clients create (Service, ConfigMap, Secret, Namespace), from k8s.io/api's
// generated.proto. Anything else gets a clear 415 asking for JSON.
import { ApiError, badRequest, unsupportedMediaType } from './apiErrors.js';
import { decodeMessage, type MessageSchema } from './protobufWire.js';

const str = (name: string, pointer = false) => ({ name, type: 'string' as const, pointer });
const int = (name: string, pointer = false) => ({ name, type: 'int' as const, pointer });
const bool = (name: string, pointer = false) => ({ name, type: 'bool' as const, pointer });
const strings = (name: string) => ({ name, type: 'string' as const, repeated: true });
const map = (name: string) => ({ name, type: 'map' as const });
const ignored = (name: string) => ({ name, type: 'bytes' as const, ignore: true });

const ownerReference: MessageSchema = { 1: str('kind'), 3: str('name'), 4: str('uid'), 5: str('apiVersion'), 6: bool('controller', true), 7: bool('blockOwnerDeletion', true) };

const objectMeta: MessageSchema = {
  1: str('name'),
  2: str('generateName'),
  3: str('namespace'),
  4: str('selfLink'),
  5: str('uid'),
  6: str('resourceVersion'),
  7: int('generation'),
  8: { name: 'creationTimestamp', type: 'time' },
  9: { name: 'deletionTimestamp', type: 'time', pointer: true },
  10: int('deletionGracePeriodSeconds', true),
  11: map('labels'),
  12: map('annotations'),
  13: { name: 'ownerReferences', type: 'message', repeated: true, message: ownerReference },
  14: strings('finalizers'),
  17: ignored('managedFields'),
};

const servicePort: MessageSchema = { 1: str('name'), 2: str('protocol'), 3: int('port'), 4: { name: 'targetPort', type: 'intOrString' }, 5: int('nodePort'), 6: str('appProtocol', true) };

const serviceSpec: MessageSchema = {
  1: { name: 'ports', type: 'message', repeated: true, message: servicePort },
  2: map('selector'),
  3: str('clusterIP'),
  4: str('type'),
  5: strings('externalIPs'),
  7: str('sessionAffinity'),
  8: str('loadBalancerIP'),
  9: strings('loadBalancerSourceRanges'),
  10: str('externalName'),
  11: str('externalTrafficPolicy'),
  12: int('healthCheckNodePort'),
  13: bool('publishNotReadyAddresses'),
  14: { name: 'sessionAffinityConfig', type: 'message', pointer: true, message: { 1: { name: 'clientIP', type: 'message', pointer: true, message: { 1: int('timeoutSeconds', true) } } } },
  17: str('ipFamilyPolicy', true),
  18: strings('clusterIPs'),
  19: strings('ipFamilies'),
  20: bool('allocateLoadBalancerNodePorts', true),
  21: str('loadBalancerClass', true),
  22: str('internalTrafficPolicy', true),
  23: str('trafficDistribution', true),
};

const kinds: Record<string, MessageSchema> = {
  'v1/Service': { 1: { name: 'metadata', type: 'message', message: objectMeta }, 2: { name: 'spec', type: 'message', message: serviceSpec }, 3: ignored('status') },
  'v1/ConfigMap': { 1: { name: 'metadata', type: 'message', message: objectMeta }, 2: map('data'), 3: { name: 'binaryData', type: 'map', message: {} }, 4: bool('immutable', true) },
  'v1/Secret': {
    1: { name: 'metadata', type: 'message', message: objectMeta },
    2: { name: 'data', type: 'map', message: {} },
    3: str('type'),
    4: map('stringData'),
    5: bool('immutable', true),
  },
  'v1/Namespace': { 1: { name: 'metadata', type: 'message', message: objectMeta }, 2: { name: 'spec', type: 'message', message: { 1: strings('finalizers') } }, 3: ignored('status') },
};

const envelope: MessageSchema = {
  1: { name: 'typeMeta', type: 'message', message: { 1: str('apiVersion'), 2: str('kind') } },
  2: { name: 'raw', type: 'bytes' },
  3: str('contentEncoding'),
  4: str('contentType'),
};

const magic = [0x6b, 0x38, 0x73, 0x00];

/** Decode a body sent as application/vnd.kubernetes.protobuf into the JSON object it stands for. */
export function decodeKubeProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || magic.some((b, i) => body[i] !== b)) throw badRequest('the protobuf body does not start with the Kubernetes magic prefix');
  try {
    const unknown = decodeMessage(body.subarray(4), envelope, 'Unknown');
    const typeMeta = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
    const key = `${typeMeta.apiVersion ?? ''}/${typeMeta.kind ?? ''}`;
    const schema = kinds[key];
    if (!schema) {
      throw unsupportedMediaType('application/vnd.kubernetes.protobuf', [`application/json (protobuf is only understood for ${Object.keys(kinds).join(', ')}, not ${key})`]);
    }
    const raw = Buffer.from(String(unknown.raw ?? ''), 'base64');
    return { apiVersion: typeMeta.apiVersion, kind: typeMeta.kind, ...decodeMessage(raw, schema, typeMeta.kind!) };
  } catch (e) {
    if (e instanceof ApiError) throw e;
    // Our schema's refusals (ProtobufError), and protobufjs's: truncated input, a bad wire type.
    throw badRequest(`unable to decode the protobuf body: ${e instanceof Error ? e.message : String(e)}; send JSON instead (e.g. kubectl apply -f)`);
  }
}
