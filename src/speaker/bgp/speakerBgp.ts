// What the speaker hands its BGP side (the one hook in speaker.ts): at every evaluation, the
// Services it serves and its own Node. Which addresses BGP announces follows the BGPAdvertisements
// (nodeBgpPlan.ts); L2 follows the L2Advertisements on its own, so a pool may go both ways.
import type { V1Node } from '@kubernetes/client-node';
import { nodeState, type AnnouncedService } from '../announcementOwnership.js';
import type { BgpAnnouncer } from './bgpAnnouncer.js';
import type { BgpNode } from './nodeBgpPlan.js';

export interface SpeakerBgp {
  update(services: AnnouncedService[], node: V1Node | undefined): void;
  /** Service key -> the BGPPeers this node sends the Service's prefixes to (ServiceBGPStatus). */
  servicePeers(services: AnnouncedService[], node: V1Node | undefined): Map<string, string[]>;
}

export function bgpNodeOf(node: V1Node): BgpNode {
  const state = nodeState(node);
  return { name: state.name, labels: node.metadata?.labels ?? {}, eligible: state.ineligible === undefined && !state.networkUnavailable };
}

export function speakerBgp(announcer: BgpAnnouncer): SpeakerBgp {
  return {
    update: (services, node) => announcer.update(services, node ? bgpNodeOf(node) : undefined),
    servicePeers: (services, node) => (node ? announcer.servicePeers(services, bgpNodeOf(node)) : new Map()),
  };
}
