// spec.providerID of an AWS node: aws:///<zone>/<instance-id> (or aws:////<instance-id> without zone).
const PROVIDER_ID = /^aws:\/\/\/(?:[a-z0-9-]*\/)?(i-[0-9a-f]{8,17})$/;

export function instanceIdFromProviderID(providerID: string | undefined): string | undefined {
  if (providerID === undefined) return undefined;
  return PROVIDER_ID.exec(providerID.trim())?.[1];
}

/** The zone in aws:///<zone>/<instance-id>, if it is there. */
export function zoneFromProviderID(providerID: string | undefined): string | undefined {
  return /^aws:\/\/\/([a-z0-9-]+)\/i-[0-9a-f]+$/.exec(providerID?.trim() ?? '')?.[1];
}
