// NetEffects that count the announcements they send, for kube_lb_speaker_announcements_total.
import type { SpeakerMetrics } from '../observability/speakerMetrics.js';
import type { NetEffects } from './netEffects.js';

export function countedNetEffects(effects: NetEffects, metrics: SpeakerMetrics): NetEffects {
  return {
    readiness: (addresses, allowed) => effects.readiness(addresses, allowed),
    listVIPs: () => effects.listVIPs(),
    addVIP: (ip) => effects.addVIP(ip),
    removeVIP: (ip) => effects.removeVIP(ip),
    announce: async (ip) => {
      try {
        await effects.announce(ip);
        metrics.announcements.inc({ outcome: 'ok' });
      } catch (error) {
        metrics.announcements.inc({ outcome: 'error' });
        throw error;
      }
    },
  };
}
