// frr-reload.py's second pass repeats graceful-restart lines FRR 8 then refuses: such a run still
// applied the configuration. Output as frr-reload.py 8.4 prints it on stderr.
import { describe, expect, it } from 'vitest';
import { onlyRepeatsRefused, refusedLines } from '../../src/speaker/bgp/frrReloadRefusals.js';

const refusals = [
  'line 13: Failure to communicate[13] to bgpd, line:  neighbor 10.0.0.1 graceful-restart',
  '',
  'line 22: Failure to communicate[13] to bgpd, line:  neighbor 10.0.0.2 graceful-restart-disable',
  '',
].join('\n');
const running = ['router bgp 64500', ' neighbor 10.0.0.1 remote-as 64501', ' neighbor 10.0.0.1 graceful-restart', ' neighbor 10.0.0.2 remote-as 64501', ' neighbor 10.0.0.2 graceful-restart-disable', 'exit'].join('\n');

describe('a failed frr-reload.py run', () => {
  it('reads the refused lines, and nothing when the output holds anything else', () => {
    expect(refusedLines(refusals)).toEqual(['neighbor 10.0.0.1 graceful-restart', 'neighbor 10.0.0.2 graceful-restart-disable']);
    expect(refusedLines(`${refusals}\nExiting: failed to connect to any daemons.`)).toBeUndefined();
    expect(refusedLines('')).toBeUndefined();
  });

  it('counts as applied only when every refused line stands in the running configuration', () => {
    expect(onlyRepeatsRefused(refusals, running)).toBe(true);
    expect(onlyRepeatsRefused(refusals, running.replace(' neighbor 10.0.0.2 graceful-restart-disable\n', ''))).toBe(false);
    expect(onlyRepeatsRefused('Traceback (most recent call last):', running)).toBe(false);
  });
});
