// What the speaker hands its BGP side (the one hook in speaker.ts): at every evaluation, the
// Services it serves and its own Node. Addresses whose pool a BGPAdvertisement covers are BGP's;
// the L2 announcer leaves them alone (until L2Advertisements are read, an address is announced
// one way: BGP when any BGPAdvertisement covers its pool, L2 otherwise).
import type { V1Node } from '@kubernetes/client-node';
import { rangeContains } from '../../../providers/metal/addressRange.js';
import { nodeState, type AnnouncedService } from '../announcementOwnership.js';
import type { BgpAnnouncer } from './bgpAnnouncer.js';
import type { BgpConfig } from './bgpConfig.js';
import { anySelectorMatches } from './labelSelector.js';
import type { BgpNode } from './nodeBgpPlan.js';

export interface SpeakerBgp {
  update(services: AnnouncedService[], node: V1Node | undefined): void;
  isBgpAddress(ip: string): boolean;
  /** Service key -> the BGPPeers this node sends the Service's prefixes to (ServiceBGPStatus). */
  servicePeers(services: AnnouncedService[], node: V1Node | undefined): Map<string, string[]>;
}

export function bgpNodeOf(node: V1Node): BgpNode {
  const state = nodeState(node);
  return { name: state.name, labels: node.metadata?.labels ?? {}, eligible: state.ineligible === undefined && !state.networkUnavailable };
}

/** Pools some BGPAdvertisement covers. */
export function bgpPools(config: BgpConfig): BgpConfig['pools'] {
  return config.pools.filter((pool) =>
    config.advertisements.some((ad) => (ad.pools.length === 0 && ad.poolSelectors.length === 0) || ad.pools.includes(pool.name) || ad.poolSelectors.some((s) => anySelectorMatches([s], pool.labels))),
  );
}

/** `covered()`: the pools of the current configuration that BGP announces. */
export function speakerBgp(covered: () => BgpConfig['pools'], announcer: BgpAnnouncer): SpeakerBgp {
  return {
    update: (services, node) => announcer.update(services, node ? bgpNodeOf(node) : undefined),
    isBgpAddress: (ip) => covered().some((pool) => pool.ranges.some((r) => rangeContains(r, ip))),
    servicePeers: (services, node) => (node ? announcer.servicePeers(services, bgpNodeOf(node)) : new Map()),
  };
}
