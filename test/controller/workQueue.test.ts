import { describe, expect, it } from 'vitest';
import { backoffDelay, WorkQueue, type Scheduler } from '../../src/controller/workQueue.js';

/** A scheduler whose time moves only when the test says so. */
function manualScheduler() {
  let now = 0;
  const timers: Array<{ at: number; fn: () => void; id: number }> = [];
  let nextId = 1;
  const scheduler: Scheduler = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const t = { at: now + ms, fn, id: nextId++ };
      timers.push(t);
      return t.id;
    },
    clearTimeout: (id) => {
      const i = timers.findIndex((t) => t.id === id);
      if (i >= 0) timers.splice(i, 1);
    },
  };
  const advance = (ms: number) => {
    now += ms;
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const due = timers[0];
      if (!due || due.at > now) break;
      timers.shift();
      due.fn();
    }
  };
  return { scheduler, advance, timers };
}

const policy = { initialMs: 5_000, maxMs: 300_000, jitter: 0.2 };

describe('backoffDelay', () => {
  it('doubles from 5 s and stops at 5 min, with jitter inside the bounds', () => {
    expect(backoffDelay(policy, 1, 0.5)).toBe(5_000);
    expect(backoffDelay(policy, 2, 0.5)).toBe(10_000);
    expect(backoffDelay(policy, 3, 0.5)).toBe(20_000);
    expect(backoffDelay(policy, 20, 0.5)).toBe(300_000);
    expect(backoffDelay(policy, 2, 0)).toBe(8_000);
    expect(backoffDelay(policy, 2, 1)).toBe(12_000);
    expect(backoffDelay(policy, 1, 0)).toBe(5_000); // never below the initial delay
    expect(backoffDelay(policy, 30, 1)).toBe(300_000); // never above the cap
  });
});

describe('WorkQueue', () => {
  it('dedupes a key added many times while queued', async () => {
    const q = new WorkQueue({ backoff: policy });
    q.add('a');
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.depth).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands one key to two workers; a change during work queues it once more', async () => {
    const q = new WorkQueue({ backoff: policy });
    q.add('a');
    const first = await q.get();
    q.add('a'); // arrives while a worker holds it
    q.add('a');
    expect(q.depth).toBe(0);
    q.done(first!);
    expect(q.depth).toBe(1);
    expect(await q.get()).toBe('a');
  });

  it('runs keys concurrently across workers but serially per key', async () => {
    const q = new WorkQueue({ backoff: policy });
    const active = new Map<string, number>();
    let maxSameKey = 0;
    let maxParallel = 0;
    let running = 0;
    let handled = 0;
    const handler = async (key: string) => {
      active.set(key, (active.get(key) ?? 0) + 1);
      running++;
      maxSameKey = Math.max(maxSameKey, active.get(key)!);
      maxParallel = Math.max(maxParallel, running);
      await new Promise((r) => setTimeout(r, 5));
      if (handled++ < 20) q.add(key); // re-add while held
      active.set(key, active.get(key)! - 1);
      running--;
    };
    const run = q.run(4, handler);
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
    const deadline = Date.now() + 5_000;
    while (q.pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    q.shutDown();
    await run;
    expect(maxSameKey).toBe(1);
    expect(maxParallel).toBe(4);
    expect(handled).toBeGreaterThan(20);
  });

  it('backs off per key exponentially and forgets after success', () => {
    const { scheduler, advance } = manualScheduler();
    const q = new WorkQueue({ backoff: policy, scheduler, random: () => 0.5 });
    expect(q.addRateLimited('a')).toBe(5_000);
    expect(q.depth).toBe(0);
    advance(4_999);
    expect(q.depth).toBe(0);
    advance(1);
    expect(q.depth).toBe(1);
    void q.get().then((k) => q.done(k!));
    expect(q.addRateLimited('a')).toBe(10_000);
    expect(q.addRateLimited('b')).toBe(5_000); // independent per key
    q.forget('a');
    expect(q.failuresOf('a')).toBe(0);
  });

  it('a failure only the user can fix waits the longest delay from the first time', () => {
    const { scheduler } = manualScheduler();
    const q = new WorkQueue({ backoff: policy, scheduler, random: () => 0.5 });
    expect(q.addRateLimited('bad-annotation', { slow: true })).toBe(policy.maxMs);
    expect(q.addRateLimited('cloud-hiccup')).toBe(policy.initialMs);
  });

  it('addAfter keeps the earliest delay and an immediate add replaces a pending delay', () => {
    const { scheduler, advance, timers } = manualScheduler();
    const q = new WorkQueue({ backoff: policy, scheduler });
    q.addAfter('a', 1_000);
    q.addAfter('a', 5_000);
    expect(timers).toHaveLength(1);
    q.addAfter('a', 200);
    expect(timers).toHaveLength(1);
    advance(200);
    expect(q.depth).toBe(1);
    q.addAfter('b', 1_000);
    q.add('b');
    expect(timers).toHaveLength(0);
    expect(q.depth).toBe(2);
  });

  it('shutDown wakes idle workers and drops delayed work', async () => {
    const { scheduler, timers } = manualScheduler();
    const q = new WorkQueue({ backoff: policy, scheduler });
    const waiting = q.get();
    q.addAfter('x', 1_000);
    q.shutDown();
    expect(await waiting).toBeUndefined();
    expect(timers).toHaveLength(0);
    q.add('y');
    expect(q.depth).toBe(0);
  });
});

describe('WorkQueue ordering', () => {
  it('serves keys back from a delay before fresh keys', async () => {
    const { scheduler, advance } = manualScheduler();
    const q = new WorkQueue({ backoff: policy, scheduler });
    for (const k of ['new-1', 'new-2', 'new-3']) q.add(k);
    q.addAfter('provisioning', 1_000);
    advance(1_000);
    expect(q.depth).toBe(4);
    expect(await q.get()).toBe('provisioning');
    expect(await q.get()).toBe('new-1');
  });
});
