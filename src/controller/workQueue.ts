// A coalescing work queue: one entry per key, never two runs of a key at once, a key that changes
// while it runs is run again afterwards, errors retry with exponential backoff. A burst of events is
// gathered: a key waits `debounceMs` of quiet (but never longer than `maxDelayMs` since its first
// event) before it runs, so 1,000 changes cost a handful of runs, not 1,000.

export interface RunResult {
  /** Run this key again after this long even if nothing changes (a poll, e.g. waiting on a server). */
  requeueAfterMs?: number;
}

export interface WorkQueueOptions {
  debounceMs?: number;
  maxDelayMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (key: string, error: unknown, retryInMs: number) => void;
}

interface KeyState {
  timer?: NodeJS.Timeout;
  dueAt?: number;
  firstEventAt?: number;
  running: boolean;
  dirty: boolean;
  failures: number;
}

export class WorkQueue {
  private readonly keys = new Map<string, KeyState>();
  private stopped = false;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly o: Required<Omit<WorkQueueOptions, 'onError'>> & Pick<WorkQueueOptions, 'onError'>;

  constructor(
    private readonly handler: (key: string) => Promise<RunResult | void>,
    options: WorkQueueOptions = {},
  ) {
    this.o = { debounceMs: 100, maxDelayMs: 1000, baseBackoffMs: 500, maxBackoffMs: 60_000, ...options };
  }

  /** An event for `key`: run it soon (debounced), or again after the run in progress. */
  add(key: string): void {
    if (this.stopped) return;
    const state = this.state(key);
    const now = Date.now();
    state.firstEventAt ??= now;
    if (state.running) {
      state.dirty = true;
      return;
    }
    this.schedule(key, Math.min(now + this.o.debounceMs, state.firstEventAt + this.o.maxDelayMs));
  }

  /** Runs `key` after `ms` unless it runs earlier for another reason. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    this.schedule(key, Date.now() + ms);
  }

  /** Resolves when no key is running or due. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.keys.values()) clearTimeout(s.timer);
    while ([...this.keys.values()].some((s) => s.running)) await new Promise((r) => setTimeout(r, 10));
  }

  private state(key: string): KeyState {
    let s = this.keys.get(key);
    if (!s) this.keys.set(key, (s = { running: false, dirty: false, failures: 0 }));
    return s;
  }

  private schedule(key: string, at: number): void {
    const state = this.state(key);
    if (state.running) {
      // Remember the earliest wish; it is honoured when the run ends.
      state.dueAt = state.dueAt === undefined ? at : Math.min(state.dueAt, at);
      return;
    }
    if (state.timer && state.dueAt !== undefined && state.dueAt <= at) return;
    clearTimeout(state.timer);
    state.dueAt = at;
    state.timer = setTimeout(() => void this.run(key), Math.max(0, at - Date.now()));
  }

  private async run(key: string): Promise<void> {
    const state = this.state(key);
    state.timer = undefined;
    state.dueAt = undefined;
    state.firstEventAt = undefined;
    state.dirty = false;
    state.running = true;
    let next: number | undefined;
    try {
      const result = await this.handler(key);
      state.failures = 0;
      if (result?.requeueAfterMs !== undefined) next = Date.now() + result.requeueAfterMs;
    } catch (error) {
      state.failures++;
      const delay = Math.min(this.o.maxBackoffMs, this.o.baseBackoffMs * 2 ** (state.failures - 1));
      this.o.onError?.(key, error, delay);
      next = Date.now() + delay;
    } finally {
      state.running = false;
    }
    if (this.stopped) return;
    const wished = state.dueAt;
    state.dueAt = undefined;
    if (state.dirty) {
      state.firstEventAt = Date.now();
      next = Math.min(next ?? Infinity, Date.now() + this.o.debounceMs);
    }
    if (wished !== undefined) next = Math.min(next ?? Infinity, wished);
    if (next !== undefined) this.schedule(key, next);
    else if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
  }

  private isIdle(): boolean {
    return [...this.keys.values()].every((s) => !s.running && !s.timer);
  }
}
