// The queue's timing on a fake clock: every wait is stepped, never slept, so a loaded machine cannot
// move a run across a deadline.
import { describe, expect, it } from 'vitest';
import { WorkQueue, type WorkQueueOptions } from '../../../src/controller/workQueue.js';
import { FakeClock } from '../../support/fakeClock.js';

function queue(handler: (key: string) => Promise<{ requeueAfterMs?: number } | void>, options: WorkQueueOptions = {}) {
  const clock = new FakeClock();
  const start = clock.now();
  return { clock, q: new WorkQueue(handler, { ...options, clock }), elapsed: () => clock.now() - start };
}

describe('WorkQueue', () => {
  it('coalesces a burst of events into one run', async () => {
    const runs: string[] = [];
    const { clock, q } = queue(async (k) => void runs.push(k), { debounceMs: 20, maxDelayMs: 500, burstQuietMs: 40 });
    for (let i = 0; i < 1000; i++) q.add('cluster');
    await clock.advance(39);
    expect(runs).toEqual([]);
    await clock.advance(1);
    expect(runs).toEqual(['cluster']);
    await clock.advance(1000);
    expect(runs).toEqual(['cluster']);
    await q.stop();
  });

  it('waits for a quiet period: events that keep coming push the run back (up to maxDelayMs)', async () => {
    const runAt: number[] = [];
    const { clock, q, elapsed } = queue(async () => void runAt.push(elapsed()), { debounceMs: 50, maxDelayMs: 5000, burstEvents: 1000 });
    for (let t = 0; t < 300; t += 10) {
      q.add('k');
      await clock.advance(10);
    }
    expect(runAt).toEqual([]);
    await clock.advance(200);
    // The last event came at 290 ms: the run is 50 ms of quiet later.
    expect(runAt).toEqual([340]);
    await q.stop();
  });

  it('waits for a longer quiet once a window holds a burst, so gaps in a burst do not each cost a run', async () => {
    const runAt: number[] = [];
    const { clock, q, elapsed } = queue(async () => void runAt.push(elapsed()), { debounceMs: 20, burstEvents: 5, burstQuietMs: 200, maxDelayMs: 5000 });
    q.add('few'); // one event: the short quiet
    await clock.advance(80);
    expect(runAt).toEqual([20]);
    // A burst with a 60 ms gap in the middle: longer than debounceMs, shorter than burstQuietMs.
    for (let i = 0; i < 10; i++) q.add('burst');
    await clock.advance(60);
    for (let i = 0; i < 10; i++) q.add('burst');
    await clock.advance(199);
    expect(runAt).toHaveLength(1);
    await clock.advance(1);
    expect(runAt).toEqual([20, 340]);
    await q.stop();
  });

  it('never runs a key twice at once, and runs it again when it changed meanwhile', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const { clock, q } = queue(
      async () => {
        runs++;
        active++;
        maxActive = Math.max(maxActive, active);
        await clock.sleep(40);
        active--;
      },
      { debounceMs: 1, maxDelayMs: 5 },
    );
    q.add('k');
    await clock.advance(10);
    expect(active).toBe(1);
    q.add('k'); // while running
    q.add('k');
    await clock.advance(150);
    expect(maxActive).toBe(1);
    expect(runs).toBe(2);
    await q.stop();
  });

  it('bounds the wait of a continuous stream of events by maxDelayMs', async () => {
    const runAt: number[] = [];
    const { clock, q, elapsed } = queue(async () => void runAt.push(elapsed()), { debounceMs: 50, maxDelayMs: 120 });
    for (let t = 0; t < 300; t += 10) {
      q.add('k');
      await clock.advance(10);
    }
    await q.stop();
    // First event at 0: the run is at 120 ms although events never paused; the next window starts after it.
    expect(runAt).toEqual([120, 240]);
  });

  it('retries errors with growing backoff', async () => {
    const times: number[] = [];
    const errors: number[] = [];
    const { clock, q, elapsed } = queue(
      async () => {
        times.push(elapsed());
        if (times.length < 4) throw new Error('boom');
      },
      { debounceMs: 1, baseBackoffMs: 20, onError: (_k, _e, retry) => errors.push(retry) },
    );
    q.add('k');
    await clock.advance(300);
    expect(times).toEqual([1, 21, 61, 141]);
    expect(errors).toEqual([20, 40, 80]);
    await q.idle();
    await q.stop();
  });

  it('honours requeueAfterMs', async () => {
    const runAt: number[] = [];
    const { clock, q, elapsed } = queue(async () => (runAt.push(elapsed()) < 3 ? { requeueAfterMs: 15 } : undefined), { debounceMs: 1 });
    q.add('k');
    await clock.advance(120);
    expect(runAt).toEqual([1, 16, 31]);
    expect(clock.timers).toBe(0);
    await q.stop();
  });

  it('stop() waits for the run in progress and starts no other', async () => {
    let finished = false;
    const { clock, q } = queue(async () => {
      await clock.sleep(50);
      finished = true;
    }, { debounceMs: 1 });
    q.add('k');
    await clock.advance(10);
    const stopped = q.stop();
    q.add('k');
    await clock.advance(50);
    await stopped;
    expect(finished).toBe(true);
    expect(clock.timers).toBe(0);
  });
});
