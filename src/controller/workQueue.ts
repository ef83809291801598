// A coalescing work queue: one entry per key, never two runs of a key at once, a key that changes
// while it runs is run again afterwards, errors retry with exponential backoff. A burst of events is
// gathered: a key waits `debounceMs` of quiet (but never longer than `maxDelayMs` since its first
// event) before it runs, so 1,000 changes cost a handful of runs, not 1,000. Once a window has seen
// `burstEvents` events, a burst is under way and the quiet it waits for is `burstQuietMs` (1 s): a loaded
// API server leaves gaps in a burst longer than `debounceMs`, and each gap would cost a run.

import { backoffMs, systemClock, type Clock, type Timer } from '../clock.js';

export interface RunResult {
  /** Run this key again after this long even if nothing changes (a poll, e.g. waiting on a server). */
  requeueAfterMs?: number;
}

export interface WorkQueueOptions {
  debounceMs?: number;
  maxDelayMs?: number;
  burstEvents?: number;
  burstQuietMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (key: string, error: unknown, retryInMs: number) => void;
  clock?: Clock;
}

interface KeyState {
  timer?: Timer;
  /** When the timer fires. */
  dueAt?: number;
  /** Quiet-period deadline of pending events: moves later with each event, up to maxDelayMs. */
  eventDueAt?: number;
  /** When a run asked to run again (requeueAfterMs, backoff); never moves later. */
  wishDueAt?: number;
  firstEventAt?: number;
  /** Events in the current window. */
  events: number;
  running: boolean;
  dirty: boolean;
  failures: number;
}

export class WorkQueue {
  private readonly keys = new Map<string, KeyState>();
  private stopped = false;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly o: Required<Omit<WorkQueueOptions, 'onError'>> & Pick<WorkQueueOptions, 'onError'>;

  constructor(
    private readonly handler: (key: string) => Promise<RunResult | void>,
    options: WorkQueueOptions = {},
  ) {
    this.o = { debounceMs: 100, maxDelayMs: 1000, burstEvents: 16, burstQuietMs: 1000, baseBackoffMs: 500, maxBackoffMs: 60_000, clock: systemClock, ...options };
  }

  /** An event for `key`: run it soon (debounced), or again after the run in progress. */
  add(key: string): void {
    if (this.stopped) return;
    const state = this.state(key);
    const now = this.o.clock.now();
    state.firstEventAt ??= now;
    state.events++;
    if (state.running) {
      state.dirty = true;
      return;
    }
    this.armWindow(key, now);
  }

  /** Resolves when no key is running or due. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.keys.values()) s.timer?.cancel();
    await Promise.all(this.inFlight);
  }

  private state(key: string): KeyState {
    let s = this.keys.get(key);
    if (!s) this.keys.set(key, (s = { running: false, dirty: false, failures: 0, events: 0 }));
    return s;
  }

  /** The window's deadline: its quiet period from now, but no later than maxDelayMs after its first event. */
  private armWindow(key: string, now: number): void {
    const state = this.state(key);
    const quiet = state.events >= this.o.burstEvents ? this.o.burstQuietMs : this.o.debounceMs;
    state.eventDueAt = Math.min(now + quiet, state.firstEventAt! + this.o.maxDelayMs);
    this.arm(key);
  }

  /** (Re)sets the timer to the earlier of the events' quiet-period deadline and any wish. */
  private arm(key: string): void {
    const state = this.state(key);
    const at = Math.min(state.eventDueAt ?? Infinity, state.wishDueAt ?? Infinity);
    if (at === Infinity || (state.timer && state.dueAt === at)) return;
    state.timer?.cancel();
    state.dueAt = at;
    state.timer = this.o.clock.after(at - this.o.clock.now(), () => {
      const run = this.run(key);
      this.inFlight.add(run);
      void run.finally(() => this.inFlight.delete(run));
    });
  }

  private async run(key: string): Promise<void> {
    const state = this.state(key);
    state.timer = undefined;
    state.dueAt = undefined;
    state.eventDueAt = undefined;
    state.wishDueAt = undefined;
    state.firstEventAt = undefined;
    state.events = 0;
    state.dirty = false;
    state.running = true;
    let next: number | undefined;
    try {
      const result = await this.handler(key);
      state.failures = 0;
      if (result?.requeueAfterMs !== undefined) next = this.o.clock.now() + result.requeueAfterMs;
    } catch (error) {
      state.failures++;
      const delay = backoffMs(state.failures - 1, this.o.baseBackoffMs, this.o.maxBackoffMs);
      this.o.onError?.(key, error, delay);
      next = this.o.clock.now() + delay;
    } finally {
      state.running = false;
    }
    if (this.stopped) return;
    if (next !== undefined) state.wishDueAt = Math.min(state.wishDueAt ?? Infinity, next);
    if (state.dirty) {
      // Changed while running: a new window starts now, with the events that came meanwhile.
      state.firstEventAt = this.o.clock.now();
      this.armWindow(key, state.firstEventAt);
    } else {
      this.arm(key);
    }
    if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
  }

  private isIdle(): boolean {
    return [...this.keys.values()].every((s) => !s.running && !s.timer);
  }
}
