// Wires the speaker's BGP mode: reads the configuration (interim: a file), reports what it refuses,
// starts FRR when asked, and polls FRR's sessions for the metrics. Effects only; the decisions are
// in nodeBgpPlan.ts and frrConfig.ts.
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../../observability/logger.js';
import { BgpAnnouncer } from './bgpAnnouncer.js';
import { readFile } from 'node:fs/promises';
import { buildBgpConfig, type BgpConfig } from './bgpConfig.js';
import { objectsInText } from './bgpConfigFile.js';
import { groupByKind } from './metallbObjects.js';
import { createBgpMetrics } from './bgpMetrics.js';
import { frrControl, startFrr, stopFrr, type FrrOptions } from './frrDaemons.js';
import { bgpPools, speakerBgp, type SpeakerBgp } from './speakerBgp.js';

export interface BgpModeOptions {
  configFile: string;
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
  let text = await readFile(options.configFile, 'utf8');
  const read = (): BgpConfig => {
    const { config, problems } = buildBgpConfig(groupByKind(objectsInText(text)));
    // Refused objects are left out, the rest serves; with live objects these become Events on them.
    for (const p of problems) options.logger.error({ kind: p.kind, name: p.name, namespace: p.namespace, field: p.field }, `speaker: ${p.kind} "${p.name}" refused: ${p.field} ${p.message}`);
    options.logger.info({ peers: config.peers.map((p) => p.name), advertisements: config.advertisements.map((a) => a.name) }, 'speaker: BGP configuration read');
    return config;
  };
  let config = read();
  const frrOptions: FrrOptions = {
    configPath: options.configPath ?? join(options.pathspace ? join('/etc/frr', options.pathspace) : '/etc/frr', 'kube-lb-provisioner.conf'),
  };
  if (options.pathspace !== undefined) frrOptions.pathspace = options.pathspace;
  if (options.netns !== undefined) frrOptions.netns = options.netns;
  if (options.start) await startFrr(frrOptions);
  const announcer = new BgpAnnouncer({ config, nodeName: options.nodeName, frr: frrControl(frrOptions), logger: options.logger, metrics: createBgpMetrics(options.registry) });
  let polling = false;
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    // The file is read again when it changed (the interim source has no watch).
    readFile(options.configFile, 'utf8')
      .then((now) => {
        if (now === text) return;
        text = now;
        config = read();
        announcer.setConfig(config);
      })
      .catch((error: unknown) => options.logger.warn({ err: error }, 'speaker: cannot read the BGP configuration file; keeping the last one'))
      .then(() => announcer.pollSessions())
      .catch((error: unknown) => options.logger.debug({ err: error }, 'speaker: cannot read FRR sessions'))
      .finally(() => (polling = false));
  }, options.pollIntervalMs ?? 2000);
  return {
    hook: speakerBgp(() => bgpPools(config), announcer),
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
