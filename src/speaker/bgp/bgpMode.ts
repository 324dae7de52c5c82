// Wires the speaker's BGP mode: follows the live MetalLB configuration (metallbWatch.ts), starts
// FRR when asked, and polls FRR's sessions for the metrics. Effects only; the decisions are in
// nodeBgpPlan.ts and frrConfig.ts.
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../../observability/logger.js';
import { BgpAnnouncer } from './bgpAnnouncer.js';
import type { MetallbView } from '../metallbWatch.js';
import { createBgpMetrics } from './bgpMetrics.js';
import { frrControl, startDeadDaemons, startFrr, stopFrr, type FrrOptions } from './frrDaemons.js';
import { speakerBgp, type SpeakerBgp } from './speakerBgp.js';

export interface BgpModeOptions {
  /** MetalLB's objects, read live. */
  metallb: MetallbView;
  nodeName: string;
  pathspace: string | undefined;
  netns: string | undefined;
  /** Start (and on stop, stop) FRR's daemons ourselves. */
  start: boolean;
  configPath: string | undefined;
  logger: Logger;
  registry: Registry;
  /** How often FRR's session state is read (default 2 s). */
  pollIntervalMs?: number;
}

export interface BgpMode {
  hook: SpeakerBgp;
  announcer: BgpAnnouncer;
  stop(): Promise<void>;
}

export async function startBgpMode(options: BgpModeOptions): Promise<BgpMode> {
  const frrOptions: FrrOptions = {
    configPath: options.configPath ?? join(options.pathspace ? join('/etc/frr', options.pathspace) : '/etc/frr', 'kube-lb-provisioner.conf'),
  };
  if (options.pathspace !== undefined) frrOptions.pathspace = options.pathspace;
  if (options.netns !== undefined) frrOptions.netns = options.netns;
  if (options.start) await startFrr(frrOptions);
  const announcer = new BgpAnnouncer({ config: options.metallb.current(), nodeName: options.nodeName, frr: frrControl(frrOptions), logger: options.logger, metrics: createBgpMetrics(options.registry) });
  options.metallb.onChange((config) => announcer.setConfig(config));
  let polling = false;
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    // With --frr-start this speaker supervises FRR: a daemon that died is started again, and the
    // configuration, lost with it, applied again at once.
    const supervise = options.start
      ? startDeadDaemons(frrOptions).then((started) => {
          if (started.length === 0) return;
          options.logger.warn({ daemons: started }, 'speaker: FRR daemons had died; started them again');
          announcer.reapplyNow();
        })
      : Promise.resolve();
    supervise
      .catch((error: unknown) => options.logger.warn({ err: error }, 'speaker: cannot start FRR daemons that died'))
      .then(() => announcer.pollSessions())
      .catch((error: unknown) => options.logger.debug({ err: error }, 'speaker: cannot read FRR sessions'))
      .finally(() => (polling = false));
  }, options.pollIntervalMs ?? 2000);
  return {
    hook: speakerBgp(announcer),
    announcer,
    async stop() {
      clearInterval(timer);
      // A graceful stop withdraws first, so the routers move traffic before the sessions close.
      await announcer.withdrawAll().catch(() => undefined);
      announcer.stop();
      if (options.start) await stopFrr(frrOptions);
    },
  };
}
