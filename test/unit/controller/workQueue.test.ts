import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../../src/controller/workQueue.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('coalesces a burst of events into one run', async () => {
    const runs: string[] = [];
    const q = new WorkQueue(async (k) => void runs.push(k), { debounceMs: 20, maxDelayMs: 500, burstQuietMs: 40 });
    for (let i = 0; i < 1000; i++) q.add('cluster');
    await sleep(80);
    expect(runs).toEqual(['cluster']);
    await q.stop();
  });

  it('waits for a quiet period: events that keep coming push the run back (up to maxDelayMs)', async () => {
    const runAt: number[] = [];
    const start = Date.now();
    const q = new WorkQueue(async () => void runAt.push(Date.now() - start), { debounceMs: 50, maxDelayMs: 5000, burstQuietMs: 50 });
    while (Date.now() - start < 300) {
      q.add('k');
      await sleep(10);
    }
    await sleep(150);
    await q.stop();
    expect(runAt).toHaveLength(1);
    expect(runAt[0]!).toBeGreaterThanOrEqual(300);
  });

  it('waits for a longer quiet once a window holds a burst, so gaps in a burst do not each cost a run', async () => {
    const runAt: number[] = [];
    const start = Date.now();
    const q = new WorkQueue(async () => void runAt.push(Date.now() - start), { debounceMs: 20, burstEvents: 5, burstQuietMs: 200, maxDelayMs: 5000 });
    q.add('few'); // one event: the short quiet
    await sleep(80);
    expect(runAt).toHaveLength(1);
    expect(runAt[0]!).toBeLessThan(80);
    // A burst with a 60 ms gap in the middle: longer than debounceMs, shorter than burstQuietMs.
    for (let i = 0; i < 10; i++) q.add('burst');
    await sleep(60);
    for (let i = 0; i < 10; i++) q.add('burst');
    await sleep(100);
    expect(runAt).toHaveLength(1);
    await sleep(200);
    expect(runAt).toHaveLength(2);
    await q.stop();
  });

  it('never runs a key twice at once, and runs it again when it changed meanwhile', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const q = new WorkQueue(
      async () => {
        runs++;
        active++;
        maxActive = Math.max(maxActive, active);
        await sleep(40);
        active--;
      },
      { debounceMs: 1, maxDelayMs: 5 },
    );
    q.add('k');
    await sleep(10);
    q.add('k'); // while running
    q.add('k');
    await sleep(150);
    expect(maxActive).toBe(1);
    expect(runs).toBe(2);
    await q.stop();
  });

  it('bounds the wait of a continuous stream of events by maxDelayMs', async () => {
    const runAt: number[] = [];
    const start = Date.now();
    const q = new WorkQueue(async () => void runAt.push(Date.now() - start), { debounceMs: 50, maxDelayMs: 120 });
    const until = Date.now() + 300;
    while (Date.now() < until) {
      q.add('k');
      await sleep(10);
    }
    await q.stop();
    expect(runAt.length).toBeGreaterThanOrEqual(2);
    expect(runAt[0]!).toBeLessThan(200);
  });

  it('retries errors with growing backoff', async () => {
    const times: number[] = [];
    const errors: number[] = [];
    const q = new WorkQueue(
      async () => {
        times.push(Date.now());
        if (times.length < 4) throw new Error('boom');
      },
      { debounceMs: 1, baseBackoffMs: 20, onError: (_k, _e, retry) => errors.push(retry) },
    );
    q.add('k');
    await sleep(300);
    expect(times).toHaveLength(4);
    expect(errors).toEqual([20, 40, 80]);
    await q.idle();
    await q.stop();
  });

  it('honours requeueAfterMs', async () => {
    let runs = 0;
    const q = new WorkQueue(async () => (++runs < 3 ? { requeueAfterMs: 15 } : undefined), { debounceMs: 1 });
    q.add('k');
    await sleep(120);
    expect(runs).toBe(3);
    await q.stop();
  });
});
