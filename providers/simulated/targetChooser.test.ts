// The passthrough load balancer's choice of target, pure: source ranges, health (failing open),
// ClientIP affinity with its timeout, round robin otherwise.
import { describe, expect, it } from 'vitest';
import { sourceAllowed, TargetChooser } from './targetChooser.js';

const targets = [
  { name: 'a', ip: '127.1.0.1' },
  { name: 'b', ip: '127.1.0.2' },
  { name: 'c', ip: '127.1.0.3' },
];
const all = () => true;

describe('sourceAllowed', () => {
  it('admits everyone without ranges, and only clients inside a range otherwise (IPv4-mapped too)', () => {
    expect(sourceAllowed('203.0.113.9', [])).toBe(true);
    expect(sourceAllowed('127.0.0.9', ['127.0.0.8/30'])).toBe(true);
    expect(sourceAllowed('::ffff:127.0.0.9', ['127.0.0.8/30'])).toBe(true);
    expect(sourceAllowed('127.0.0.1', ['127.0.0.8/30'])).toBe(false);
    expect(sourceAllowed('127.0.0.1', ['2001:db8::/32'])).toBe(false);
    expect(sourceAllowed('not-an-ip', ['0.0.0.0/0'])).toBe(false);
  });
});

describe('TargetChooser', () => {
  it('refuses a client outside the source ranges', () => {
    expect(new TargetChooser().choose({ clientIp: '127.0.0.9', targets, sourceRanges: ['127.0.0.1/32'], isHealthy: all })).toEqual({ refused: 'sourceRange' });
  });

  it('takes healthy targets in turn, and all of them when none is healthy (fail open)', () => {
    const chooser = new TargetChooser();
    const pick = (isHealthy: (t: { name: string }) => boolean) => {
      const c = chooser.choose({ clientIp: '127.0.0.1', targets, sourceRanges: [], isHealthy });
      return 'target' in c ? c.target.name : c.refused;
    };
    expect([pick(all), pick(all), pick(all)].sort()).toEqual(['a', 'b', 'c']);
    expect(new Set([pick((t) => t.name !== 'b'), pick((t) => t.name !== 'b'), pick((t) => t.name !== 'b'), pick((t) => t.name !== 'b')])).toEqual(new Set(['a', 'c']));
    expect(new Set([pick(() => false), pick(() => false), pick(() => false)])).toEqual(new Set(['a', 'b', 'c']));
    expect(chooser.choose({ clientIp: '127.0.0.1', targets: [{ name: 'x', ip: '' }], sourceRanges: [], isHealthy: all })).toEqual({ refused: 'noTargets' });
  });

  it('keeps a ClientIP client on its target until the timeout passes or the target turns unhealthy', () => {
    let now = 0;
    const chooser = new TargetChooser(() => now);
    const affinity = { type: 'ClientIP' as const, timeoutSeconds: 10 };
    let healthy = (_: { name: string }) => true;
    const pick = (clientIp: string) => {
      const c = chooser.choose({ clientIp, targets, sourceRanges: [], isHealthy: (t) => healthy(t), affinity });
      return 'target' in c ? c.target.name : c.refused;
    };
    const first = pick('127.0.0.1');
    for (let i = 0; i < 5; i++) expect(pick('127.0.0.1')).toBe(first);
    expect(pick('127.0.0.2')).not.toBe(first);
    now += 9_000;
    expect(pick('127.0.0.1')).toBe(first); // within the timeout, which each use renews
    healthy = (t) => t.name !== first;
    const moved = pick('127.0.0.1');
    expect(moved).not.toBe(first);
    healthy = () => true;
    expect(pick('127.0.0.1')).toBe(moved);
    now += 11_000;
    const picks = new Set(Array.from({ length: 3 }, () => (now += 11_000, pick('127.0.0.1'))));
    expect(picks.size).toBeGreaterThan(1); // expired each time: round robin again
  });
});
