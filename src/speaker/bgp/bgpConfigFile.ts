// The interim source of the BGP configuration: a YAML or JSON file of MetalLB objects (IPAddressPool,
// BGPPeer, BGPAdvertisement, BFDProfile, Community, basic-auth Secrets), several documents or a
// List, exactly as `kubectl get -o yaml` prints them. The live CRD readers (issue 13) will feed the
// same buildBgpConfig() from the API server instead.
import { parseAllDocuments } from 'yaml';

/** Pure: the objects in the text (documents, and the items of any List). */
export function objectsInText(text: string): unknown[] {
  const out: unknown[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`not valid YAML: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const items = (value as { kind?: unknown; items?: unknown }).kind === 'List' ? (value as { items?: unknown[] }).items ?? [] : [value];
    out.push(...items);
  }
  return out;
}
