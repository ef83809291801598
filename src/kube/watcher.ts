// One watch of a collection from a resourceVersion, with a watchdog: a watch that brings neither an
// event nor a bookmark for `stallTimeoutMs` is presumed stalled (client-node#364, #596, #958 saw
// such watches hang forever), aborted, and reported as an error so the reflector starts over.
import { systemClock, type Clock, type Timer } from '../clock.js';
import { KubeError, type KubeClient } from './client.js';
import type { KubeObject, WatchEventType } from './types.js';

export class WatchStalledError extends Error {}

export interface WatchOptions {
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion: string;
  /** Server-side timeout: the server ends the watch cleanly after it. */
  timeoutSeconds: number;
  stallTimeoutMs: number;
  /** Aborts the watch (a clean end, not an error). */
  signal: AbortSignal;
  clock?: Clock;
}

/**
 * Streams events (bookmarks included, so the caller can keep its resourceVersion) until the server
 * ends the watch or `signal` aborts it. Rejects on an ERROR event (410 Gone among them), a failed
 * connection, or a stall.
 */
export async function watchOnce(client: KubeClient, o: WatchOptions, onEvent: (type: Exclude<WatchEventType, 'ERROR'>, object: KubeObject) => void): Promise<void> {
  const abort = new AbortController();
  const forward = () => abort.abort();
  o.signal.addEventListener('abort', forward, { once: true });
  let stalled = false;
  const clock = o.clock ?? systemClock;
  let timer: Timer | undefined;
  const feed = () => {
    timer?.cancel();
    timer = clock.after(o.stallTimeoutMs, () => {
      stalled = true;
      abort.abort();
    });
  };
  feed();
  try {
    await client.watch(
      o.path,
      { labelSelector: o.labelSelector, fieldSelector: o.fieldSelector, resourceVersion: o.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: o.timeoutSeconds },
      (type, object) => {
        feed();
        if (type === 'ERROR') {
          const status = object as KubeObject & { code?: number; message?: string };
          throw new KubeError(status.code ?? 500, 'WatchError', status.message ?? 'watch error');
        }
        onEvent(type, object);
      },
      abort.signal,
    );
  } finally {
    timer?.cancel();
    o.signal.removeEventListener('abort', forward);
  }
  if (stalled) throw new WatchStalledError(`watch on ${o.path} stalled for ${o.stallTimeoutMs} ms`);
}
