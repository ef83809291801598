// The stand-in's list+watch (kubelet's informers in miniature): list, then watch from the list's
// resourceVersion; when the watch ends it lists again, reporting what changed meanwhile as events.
// `lagMs` makes its events late, like a kubelet whose watch is behind.
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { statusOf } from './kubeAccess.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface Named {
  metadata?: { name?: string; resourceVersion?: string };
}

/**
 * A minimal reflector: list, then watch from the list's resourceVersion; when the watch ends (API server
 * restarted, watch timed out, 410 Gone) it lists again, reporting what changed meanwhile as events.
 */
export class StandInReflector<T extends Named> {
  private readonly items = new Map<string, T>();
  private stopped = false;
  private abort?: AbortController;
  private loop?: Promise<void>;

  constructor(
    private readonly kc: KubeConfig,
    private readonly path: string,
    private readonly query: Record<string, string>,
    private readonly list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>,
    private readonly onEvent: (type: EventType, obj: T, old: T | undefined) => void,
    private readonly lagMs: () => number = () => 0,
  ) {}

  get(name: string): T | undefined {
    return this.items.get(name);
  }

  /** Resolves after the first list. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.loop = this.run(resolve, reject);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    await this.loop;
  }

  private async run(listed: () => void, failed: (e: unknown) => void): Promise<void> {
    let first = true;
    let backoff = 50;
    while (!this.stopped) {
      const began = Date.now();
      try {
        const list = await this.list();
        this.replace(list.items);
        if (first) {
          first = false;
          listed();
        }
        await this.watchFrom(list.metadata?.resourceVersion);
      } catch (e) {
        // Refused by the API server (forbidden, not found...) before the first list: that will not heal.
        const status = statusOf(e);
        if (first && status !== undefined && status >= 400 && status < 500) {
          this.stopped = true;
          failed(e);
          return;
        }
      }
      if (this.stopped) break;
      // A watch that ended quickly (API server down, refused) backs off; a long one relists at once.
      backoff = Date.now() - began > 5000 ? 50 : Math.min(backoff * 2, 1000);
      await sleep(backoff);
    }
    if (first) failed(new Error(`stopped before listing ${this.path}`));
    return;
  }

  private replace(items: T[]): void {
    const seen = new Set<string>();
    for (const item of items) {
      const name = item.metadata?.name ?? '';
      seen.add(name);
      const old = this.items.get(name);
      this.items.set(name, item);
      if (!old) this.onEvent('ADDED', item, undefined);
      else if (old.metadata?.resourceVersion !== item.metadata?.resourceVersion) this.onEvent('MODIFIED', item, old);
    }
    for (const [name, old] of [...this.items]) {
      if (!seen.has(name)) {
        this.items.delete(name);
        this.onEvent('DELETED', old, old);
      }
    }
  }

  private watchFrom(resourceVersion: string | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.stopped) return resolve();
      const watch = new Watch(this.kc);
      void watch
        .watch(
          this.path,
          { ...this.query, allowWatchBookmarks: true, ...(resourceVersion && { resourceVersion }) },
          (type: string, obj: T) => {
            if (type === 'ERROR' || type === 'BOOKMARK') {
              if (type === 'ERROR') this.abort?.abort(); // e.g. 410 Gone: list again
              return;
            }
            const apply = () => {
              const name = obj.metadata?.name ?? '';
              const old = this.items.get(name);
              if (type === 'DELETED') this.items.delete(name);
              else this.items.set(name, obj);
              this.onEvent(type as EventType, obj, old);
            };
            // A late watch (see KubeletStandIn.watchLagMs): events keep their order, each comes late.
            if (this.lagMs() > 0) setTimeout(apply, this.lagMs());
            else apply();
          },
          () => resolve(),
        )
        .then((controller) => {
          this.abort = controller;
          if (this.stopped) controller.abort();
        }, () => resolve());
    });
  }
}
