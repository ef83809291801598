// Time as a dependency: the queue, the rollout, the status writer and the leader elector take a Clock,
// so their tests step a fake one instead of sleeping (real sleeps of tens of milliseconds are what a
// loaded two-core machine turns into flakes).

export interface Timer {
  readonly cancel: () => void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms`; cancel() stops it. A pending one does not keep the process alive. */
  after(ms: number, fn: () => void): Timer;
  /** Resolves after `ms`; an awaited sleep keeps the process alive. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const handle = setTimeout(fn, Math.max(0, ms));
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

/** Exponential backoff: `baseMs` at attempt 0, doubling with each attempt, never above `maxMs`. */
export const backoffMs = (attempt: number, baseMs: number, maxMs: number): number => Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
