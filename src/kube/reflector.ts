// A reflector keeps an in-memory copy of one kind of object: list, then watch from the list's
// resourceVersion, and start over whenever anything goes wrong. It guards against client-node's known
// pitfalls by owning the loop: it restarts after any error with backoff, relists on 410 Gone and
// periodically, and aborts a watch that has gone silent (a watchdog fed by every event and bookmark).
// `synced` turns true only after a list succeeded: nothing may be rendered from an unsynced cache.
import type { Logger } from '../log.js';
import { KubeError, type KubeClient, type KubeList, type KubeObject } from './kube.js';

export interface ReflectorOptions {
  /** For logs and metrics. */
  name: string;
  /** Collection path, e.g. /api/v1/namespaces/nats/pods. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Called (synchronously, must only enqueue) whenever the cache changed. */
  onChange: () => void;
  /** Filters updates that need no reconcile (e.g. the operator's own status writes). Default: all. */
  isRelevantUpdate?: (before: KubeObject, after: KubeObject) => boolean;
  log: Logger;
  /** Server-side watch timeout; the watch is resumed from the last resourceVersion after it. */
  watchTimeoutSeconds?: number;
  /** A watch without any event or bookmark for this long is presumed stalled and restarted. */
  stallTimeoutMs?: number;
  /** Full relist period, the safety net for missed events. */
  relistIntervalMs?: number;
  onError?: (error: unknown) => void;
}

export class Reflector<T extends KubeObject> {
  private readonly objects = new Map<string, T>();
  private resourceVersion = '';
  private lastRelist = 0;
  private stopped = false;
  private abort?: AbortController;
  private syncedOnce = false;
  private syncWaiters: (() => void)[] = [];
  private loopDone?: Promise<void>;
  /** Consecutive failures, for backoff; exposed for health reporting. */
  failures = 0;

  constructor(
    private readonly client: KubeClient,
    private readonly options: ReflectorOptions,
  ) {}

  get synced(): boolean {
    return this.syncedOnce;
  }

  whenSynced(): Promise<void> {
    return this.syncedOnce ? Promise.resolve() : new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  start(): void {
    this.stopped = false;
    this.loopDone ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    await this.loopDone;
    this.loopDone = undefined;
  }

  /** Snapshot of the cache. Objects are shared: never mutate them. */
  list(): T[] {
    return [...this.objects.values()];
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(keyOf(namespace, name));
  }

  private async loop(): Promise<void> {
    const { log, relistIntervalMs = 5 * 60_000 } = this.options;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion || Date.now() - this.lastRelist > relistIntervalMs) await this.doList();
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
        const delay = Math.min(30_000, 200 * 2 ** Math.min(this.failures, 8)) * (0.5 + Math.random() / 2);
        log.warn('watch failed; retrying', { reflector: this.options.name, error: e, failures: this.failures, retryInMs: Math.round(delay) });
        await sleep(delay, () => this.stopped);
      }
    }
  }

  private async doList(): Promise<void> {
    const { path, labelSelector, fieldSelector } = this.options;
    const fresh = new Map<string, T>();
    let resourceVersion = '';
    let cont: string | undefined;
    do {
      const page = await this.client.get<KubeList<T>>(path, { labelSelector, fieldSelector, limit: 1000, continue: cont });
      for (const item of page.items) fresh.set(keyOf(item.metadata.namespace, item.metadata.name), item);
      resourceVersion = page.metadata.resourceVersion ?? '';
      cont = page.metadata.continue || undefined;
    } while (cont);
    let changed = !this.syncedOnce || fresh.size !== this.objects.size;
    for (const [key, obj] of fresh) {
      if (this.objects.get(key)?.metadata.resourceVersion !== obj.metadata.resourceVersion) changed = true;
    }
    this.objects.clear();
    for (const [key, obj] of fresh) this.objects.set(key, obj);
    this.resourceVersion = resourceVersion;
    this.lastRelist = Date.now();
    if (!this.syncedOnce) {
      this.syncedOnce = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    if (changed) this.options.onChange();
  }

  private async doWatch(): Promise<void> {
    const { path, labelSelector, fieldSelector, watchTimeoutSeconds = 300, stallTimeoutMs = (watchTimeoutSeconds + 30) * 1000 } = this.options;
    const abort = new AbortController();
    this.abort = abort;
    let stalled = false;
    let timer: NodeJS.Timeout | undefined;
    const feed = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        stalled = true;
        abort.abort();
      }, stallTimeoutMs);
    };
    feed();
    try {
      await this.client.watch(
        path,
        { labelSelector, fieldSelector, resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: watchTimeoutSeconds },
        (type, object) => {
          feed();
          if (type === 'ERROR') {
            const status = object as unknown as { code?: number; message?: string };
            throw new KubeError(status.code ?? 500, 'WatchError', status.message ?? 'watch error');
          }
          if (object.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
          if (type === 'BOOKMARK') return;
          const key = keyOf(object.metadata.namespace, object.metadata.name);
          const before = this.objects.get(key);
          if (type === 'DELETED') this.objects.delete(key);
          else this.objects.set(key, object as T);
          const { isRelevantUpdate } = this.options;
          if (type !== 'MODIFIED' || !before || !isRelevantUpdate || isRelevantUpdate(before, object)) this.options.onChange();
        },
        abort.signal,
      );
    } finally {
      clearTimeout(timer);
    }
    if (stalled) {
      this.options.log.warn('watch stalled; restarting', { reflector: this.options.name, stallTimeoutMs });
      throw new Error(`watch on ${path} stalled for ${stallTimeoutMs} ms`);
    }
  }
}

const keyOf = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;

function sleep(ms: number, cancelled: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const start = Date.now();
    const tick = () => (cancelled() || Date.now() - start >= ms ? resolve() : setTimeout(tick, Math.min(100, ms)));
    tick();
  });
}
