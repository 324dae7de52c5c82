// The chart's frr container, run as a Pod would run it but without a cluster: its script as helm
// renders it, in a network namespace and a mount namespace of its own (empty /etc/frr,
// /var/run/frr and /var/tmp, as its emptyDirs), with only the capabilities the chart grants it. The
// daemons must start and stay up; the speaker's vtysh, with only the speaker's capabilities, must
// configure them, and fail without DAC_OVERRIDE (so that capability is needed, not extra).
// Needs root and FRR (Debian's frr package, installed by test/setup/install-debian-packages.sh).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ensureNetworkTools } from '../metal/l2Lab.js';
import { findManifest, renderChart, withSiteValues } from './helmChart.js';

const run = promisify(execFile);

interface Container {
  name: string;
  args?: string[];
  securityContext: { capabilities: { add: string[] } };
}

const caps = (c: Container) => ['-all', ...c.securityContext.capabilities.add.map((x) => `+${x.toLowerCase()}`)].join(',');

describe('the chart\'s frr container', () => {
  it('starts FRR with only its capabilities, and the speaker\'s vtysh configures it with only the speaker\'s', async () => {
    await ensureNetworkTools();
    const manifests = await renderChart({ valuesFiles: withSiteValues('values-metal.yaml'), set: { 'speaker.bgp.enabled': 'true' } });
    const containers = (findManifest(manifests, 'DaemonSet').spec as { template: { spec: { containers: Container[] } } }).template.spec.containers;
    const frr = containers.find((c) => c.name === 'frr')!;
    const speaker = containers.find((c) => c.name === 'speaker')!;
    const withoutDac = { ...speaker, securityContext: { capabilities: { add: speaker.securityContext.capabilities.add.filter((x) => x !== 'DAC_OVERRIDE') } } };
    const dir = await mkdtemp(join(tmpdir(), 'klb-frrpod-'));
    const netns = `klbf${randomBytes(3).toString('hex')}`;
    await writeFile(join(dir, 'frr.sh'), frr.args![0]!);
    const as = (c: Container, cmd: string) => `ip netns exec ${netns} setpriv --inh-caps=-all --bounding-set=${caps(c)} --no-new-privs ${cmd}`;
    const pod = [
      'set -u',
      'mount -t tmpfs none /etc/frr; mount -t tmpfs none /var/run/frr; mount -t tmpfs none /var/tmp',
      `${as(frr, `sh ${join(dir, 'frr.sh')}`)} > ${join(dir, 'frr.log')} 2>&1 &`,
      'FRR=$!',
      'for i in $(seq 100); do [ -S /var/run/frr/bfdd.vty ] && break; sleep 0.1; done',
      'sleep 2',
      'kill -0 $FRR && echo FRR-RUNNING',
      `${as(speaker, "vtysh -c 'configure terminal' -c 'router bgp 64512' -c 'end' -c 'show running-config'")} | grep -q 'router bgp 64512' && echo SPEAKER-CONFIGURED`,
      `${as(withoutDac, "vtysh -c 'show version'")} >/dev/null 2>&1 || echo DAC-NEEDED`,
      'for p in /var/run/frr/*.pid; do kill $(cat $p) 2>/dev/null; done',
      'kill $FRR 2>/dev/null; wait',
    ].join('\n');
    try {
      await run('ip', ['netns', 'add', netns]);
      const { stdout } = await run('unshare', ['-m', '--propagation', 'private', 'bash', '-c', pod], { timeout: 60_000 });
      expect(stdout.split('\n').filter(Boolean), await run('cat', [join(dir, 'frr.log')]).then((r) => r.stdout)).toEqual(['FRR-RUNNING', 'SPEAKER-CONFIGURED', 'DAC-NEEDED']);
    } finally {
      await run('ip', ['netns', 'del', netns]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
