// A reflector keeps an in-memory copy (store.ts) of one kind of object: list, then watch (watcher.ts)
// from the list's resourceVersion, and start over whenever anything goes wrong. It guards against client-node's known
// pitfalls by owning the loop: it restarts after any error with backoff, relists on 410 Gone and
// periodically, and aborts a watch that has gone silent (a watchdog fed by every event and bookmark).
// `synced` turns true only after a list succeeded: nothing may be rendered from an unsynced cache.
import { backoffMs, systemClock, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { KubeError, type KubeClient } from './client.js';
import { ObjectStore } from './store.js';
import { StringPool } from './stringPool.js';
import type { KubeList, KubeObject } from './types.js';
import { watchOnce, WatchStalledError } from './watcher.js';

export interface ReflectorOptions<T extends KubeObject = KubeObject> {
  /** For logs and metrics. */
  name: string;
  /** Collection path, e.g. /api/v1/namespaces/nats/pods. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Called (synchronously, must only enqueue) whenever the cache changed. */
  onChange: () => void;
  /** Filters updates that need no reconcile (e.g. the operator's own status writes). Default: all. */
  isRelevantUpdate?: (before: T, after: T) => boolean;
  log: Logger;
  /** Server-side watch timeout; the watch is resumed from the last resourceVersion after it. */
  watchTimeoutSeconds?: number;
  /** A watch without any event or bookmark for this long is presumed stalled and restarted. */
  stallTimeoutMs?: number;
  /** Full relist period, the safety net for missed events (default RELIST_INTERVAL_MS). */
  relistIntervalMs?: number;
  onError?: (error: unknown) => void;
  clock?: Clock;
}

/**
 * A relist reads every object again. Every 5 minutes, with 10,000 Members in each of five namespaces
 * (a reflector each), one ran about every minute and kept the operator at 5-11% of a core with nothing
 * changing (the scale benchmark). Every 30 minutes the net is still there (a stalled watch has its
 * own watchdog, a 410 its own relist), at a sixth of the cost.
 */
export const RELIST_INTERVAL_MS = 30 * 60_000;

export class Reflector<T extends KubeObject> {
  private readonly store = new ObjectStore<T>();
  private resourceVersion = '';
  private lastRelist = 0;
  private stopped = false;
  private abort?: AbortController;
  private syncedOnce = false;
  private syncWaiters: (() => void)[] = [];
  private loopDone?: Promise<void>;
  /** Resolves when stop() is called, to cut a backoff short. */
  private stopping = deferred();
  private readonly clock: Clock;
  /** Consecutive failures, for backoff; exposed for health reporting. */
  failures = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly options: ReflectorOptions<T>,
  ) {
    this.clock = options.clock ?? systemClock;
  }

  get synced(): boolean {
    return this.syncedOnce;
  }

  whenSynced(): Promise<void> {
    return this.syncedOnce ? Promise.resolve() : new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  start(): void {
    if (this.stopped) this.stopping = deferred();
    this.stopped = false;
    this.loopDone ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.resolve();
    this.abort?.abort();
    await this.loopDone;
    this.loopDone = undefined;
  }

  /** Snapshot of the cache. Objects are shared: never mutate them. */
  list(): T[] {
    return this.store.list();
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(namespace, name);
  }

  private async loop(): Promise<void> {
    const { log, relistIntervalMs = RELIST_INTERVAL_MS } = this.options;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion || this.clock.now() - this.lastRelist > relistIntervalMs) await this.doList();
        await this.doWatch();
        this.failures = 0;
      } catch (e) {
        if (this.stopped) break;
        if (e instanceof KubeError && e.status === 410) {
          this.resourceVersion = '';
          continue;
        }
        this.failures++;
        this.options.onError?.(e);
        const delay = backoffMs(this.failures, 200, 30_000) * (0.5 + Math.random() / 2);
        log.warn('watch failed; retrying', { reflector: this.options.name, error: e, failures: this.failures, retryInMs: Math.round(delay) });
        await Promise.race([this.clock.sleep(delay), this.stopping.promise]);
      }
    }
  }

  private async doList(): Promise<void> {
    const { path, labelSelector, fieldSelector } = this.options;
    const fresh: T[] = [];
    let resourceVersion = '';
    let cont: string | undefined;
    do {
      const page = await this.client.get<KubeList<T>>(path, { labelSelector, fieldSelector, limit: 1000, continue: cont });
      for (const item of page.items) fresh.push(trimmed(item));
      resourceVersion = page.metadata.resourceVersion ?? '';
      cont = page.metadata.continue || undefined;
    } while (cont);
    const changed = this.store.replace(fresh) || !this.syncedOnce;
    this.resourceVersion = resourceVersion;
    this.lastRelist = this.clock.now();
    if (!this.syncedOnce) {
      this.syncedOnce = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    if (changed) this.options.onChange();
  }

  private async doWatch(): Promise<void> {
    const { path, labelSelector, fieldSelector, watchTimeoutSeconds = 300, stallTimeoutMs = (watchTimeoutSeconds + 30) * 1000, isRelevantUpdate } = this.options;
    const abort = new AbortController();
    this.abort = abort;
    try {
      await watchOnce(
        this.client,
        { path, labelSelector, fieldSelector, resourceVersion: this.resourceVersion, timeoutSeconds: watchTimeoutSeconds, stallTimeoutMs, signal: abort.signal, clock: this.clock },
        (type, object) => {
          if (object.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
          if (type === 'BOOKMARK') return;
          const before = this.store.apply(type, trimmed(object as T));
          if (type !== 'MODIFIED' || !before || !isRelevantUpdate || isRelevantUpdate(before, object as T)) this.options.onChange();
        },
      );
    } catch (e) {
      if (e instanceof WatchStalledError) this.options.log.warn('watch stalled; restarting', { reflector: this.options.name, stallTimeoutMs });
      throw e;
    }
  }
}

/** One pool for every reflector: namespaces, kinds and condition reasons repeat across them. */
const pool = new StringPool();

/**
 * The object as the cache keeps it: without metadata.managedFields, which the operator never reads and
 * which server-side apply fills with a field tree per manager for every object held, and with its
 * repeated values pooled. The object is fresh from JSON.parse, not shared yet.
 */
function trimmed<T extends KubeObject>(object: T): T {
  delete (object.metadata as { managedFields?: unknown }).managedFields;
  return pool.internValues(object);
}

/** A promise and its resolve function (Promise.withResolvers needs Node 22). */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
