// Writes Room and Member statuses in the background, so a reconcile hands them over and goes on to
// the next config generation instead of waiting for thousands of API writes. Per object only the
// latest wanted status is kept: one a newer reconcile replaced before it was written is never written
// (a burst of new Members goes from no status straight to Ready), and writes of one object never
// overlap, so an older status cannot land after a newer one.
import { backoffMs, systemClock, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { CONTENT_TYPE, isNotFound, type KubeClient } from '../kube/client.js';
import { paths } from '../kube/paths.js';
import type { Metrics } from '../metrics.js';
import { sameStatus } from './status.js';

const MAX_ATTEMPTS = 5;

export type StatusPlural = 'rooms' | 'members';

export interface StatusWrite {
  plural: StatusPlural;
  namespace: string;
  name: string;
  /** Fields of the current status that the new one drops (written as null in the merge patch). */
  dropped: string[];
  status: object;
}

export interface StatusWriterOptions {
  client: KubeClient;
  log: Logger;
  metrics: Metrics;
  fieldManager: string;
  concurrency: number;
  clock?: Clock;
}

export class StatusWriter {
  private readonly wanted = new Map<string, StatusWrite>();
  /** Keys with a wanted status, oldest first (a Set keeps insertion order and deletes in O(1)). */
  private readonly queue = new Set<string>();
  private readonly attempts = new Map<string, number>();
  /** Keys being written, with the status on its way. */
  private readonly writing = new Map<string, object>();
  private workers = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly o: StatusWriterOptions) {}

  /** The status an object should have; undefined when the one it has is right (drops a pending write). */
  set(key: string, write: StatusWrite | undefined): void {
    // Already on its way: the object shows it as soon as the write lands.
    const inFlight = this.writing.get(key);
    if (write && inFlight && sameStatus(inFlight, write.status)) write = undefined;
    if (!write) {
      this.wanted.delete(key);
      this.updateGauge();
      return;
    }
    this.wanted.set(key, write);
    this.attempts.delete(key);
    this.queue.add(key);
    this.updateGauge();
    this.pump();
  }

  /** Forgets every pending write (leadership lost: writing is someone else's job now). */
  clear(): void {
    this.wanted.clear();
    this.queue.clear();
    this.updateGauge();
  }

  get pending(): number {
    return this.wanted.size;
  }

  /** Resolves when nothing is pending or being written. */
  idle(): Promise<void> {
    if (this.wanted.size === 0 && this.writing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.workers < this.o.concurrency && this.queue.size > 0) {
      this.workers++;
      void this.work().finally(() => {
        this.workers--;
        if (this.wanted.size === 0 && this.writing.size === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  private async work(): Promise<void> {
    for (;;) {
      // The oldest key not being written right now (its newer status waits for the write in flight).
      let key: string | undefined;
      for (const k of this.queue) {
        if (this.writing.has(k)) continue;
        key = k;
        break;
      }
      if (key === undefined) return;
      this.queue.delete(key);
      const write = this.wanted.get(key);
      if (!write) continue;
      this.wanted.delete(key);
      this.writing.set(key, write.status);
      try {
        if (!(await this.write(write))) this.retryLater(key, write);
      } finally {
        this.writing.delete(key);
        this.updateGauge();
      }
    }
  }

  /** A failed write is tried again (a few times, backing off) unless a newer status replaced it. */
  private retryLater(key: string, write: StatusWrite): void {
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    if (attempt > MAX_ATTEMPTS) {
      this.attempts.delete(key);
      return;
    }
    (this.o.clock ?? systemClock).after(backoffMs(attempt, 500, Infinity), () => {
      if (this.wanted.has(key) || this.writing.has(key) || this.attempts.get(key) !== attempt) return;
      this.wanted.set(key, write);
      this.queue.add(key);
      this.updateGauge();
      this.pump();
    });
    this.attempts.set(key, attempt);
  }

  /** True when written, or when there is nothing left to write (the object is gone). */
  private async write({ plural, namespace, name, dropped, status }: StatusWrite): Promise<boolean> {
    const base = plural === 'rooms' ? paths.rooms(namespace) : paths.members(namespace);
    // A merge patch of the whole status (the operator owns it): cheaper for the API server than
    // server-side apply when a burst rewrites thousands of statuses.
    const patch: Record<string, unknown> = Object.fromEntries(dropped.map((k) => [k, null]));
    Object.assign(patch, status);
    try {
      await this.o.client.request('PATCH', `${base}/${name}/status`, {
        query: { fieldManager: this.o.fieldManager },
        contentType: CONTENT_TYPE.mergePatch,
        body: { status: patch },
      });
      this.o.metrics.statusWrites.inc({ kind: plural === 'rooms' ? 'Room' : 'Member' });
      return true;
    } catch (e) {
      if (isNotFound(e)) return true;
      this.o.log.warn('status write failed', { object: `${plural}/${namespace}/${name}`, error: e });
      return false;
    }
  }

  private updateGauge(): void {
    this.o.metrics.statusWritesPending.set(this.wanted.size + this.writing.size);
  }
}
