// Where L2 announces an address, by MetalLB's L2Advertisements (pure):
// - an address of an IPAddressPool is announced only when some L2Advertisement selects its pool
//   (ipAddressPools / ipAddressPoolSelectors); an address in no known pool (the controller's YAML
//   pools) is announced as before, from every node;
// - only nodes matching one of those advertisements' nodeSelectors may own it (empty: every node);
// - on the interfaces they list, when every matching advertisement lists some (MetalLB: one that
//   lists none means any interface).
import { l2AdvertisementsFor, type MetallbConfiguration } from '../metallb/configuration.js';
import type { L2AdvertisementModel } from '../metallb/l2Advertisements.js';
import { anySelectorMatches } from '../metallb/labelSelector.js';
import { poolOf } from '../metallb/pools.js';

export interface L2Placement {
  announced(ip: string): boolean;
  mayAnnounce(ip: string, node: string): boolean;
  /** The interfaces `node` may announce `ip` on; undefined: any (the speaker's own choice). */
  interfaces(ip: string, node: string): string[] | undefined;
}

export function l2Placement(config: Pick<MetallbConfiguration, 'pools' | 'l2Advertisements'>, nodeLabels: (node: string) => Readonly<Record<string, string>>): L2Placement {
  const cache = new Map<string, L2AdvertisementModel[] | 'everywhere'>();
  const advertisements = (ip: string) => {
    let found = cache.get(ip);
    if (found === undefined) {
      found = l2AdvertisementsFor(config, poolOf(config.pools, ip)?.name);
      cache.set(ip, found);
    }
    return found;
  };
  const matching = (ip: string, node: string): L2AdvertisementModel[] | 'everywhere' => {
    const ads = advertisements(ip);
    if (ads === 'everywhere') return ads;
    const labels = nodeLabels(node);
    return ads.filter((a) => anySelectorMatches(a.nodeSelectors, labels));
  };
  return {
    announced: (ip) => advertisements(ip) !== 'everywhere' ? advertisements(ip).length > 0 : true,
    mayAnnounce: (ip, node) => {
      const ads = matching(ip, node);
      return ads === 'everywhere' || ads.length > 0;
    },
    interfaces: (ip, node) => {
      const ads = matching(ip, node);
      if (ads === 'everywhere' || ads.length === 0 || ads.some((a) => a.interfaces.length === 0)) return undefined;
      return [...new Set(ads.flatMap((a) => a.interfaces))].sort();
    },
  };
}
