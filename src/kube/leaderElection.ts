// Leader election with a coordination.k8s.io Lease, as client-go does it: the holder renews the lease
// every retry period; a candidate takes it over only after it has seen the same record unchanged for a
// whole lease duration (measured on its own clock, so clock skew between replicas does not matter).
// Every write carries the resourceVersion it read, so two candidates can never both win.
import { systemClock, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { isConflict, type KubeClient } from './client.js';
import { paths } from './paths.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

/** The Lease's MicroTime format: RFC 3339 with microseconds. */
const microTime = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private observed = { record: '', at: 0 };
  private lastRenew = 0;
  private readonly o: Required<LeaderElectionOptions>;

  constructor(
    private readonly client: KubeClient,
    options: LeaderElectionOptions,
    private readonly log: Logger,
  ) {
    this.o = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, clock: systemClock, ...options };
  }

  /** Leading, and renewed within the renew deadline (a hung request does not extend it). */
  get isLeader(): boolean {
    return this.leading && this.o.clock.now() - this.lastRenew <= this.o.renewDeadlineMs;
  }

  /** Campaigns until stopped; calls back when leadership starts and when it is lost. */
  async run(onStartedLeading: () => void, onStoppedLeading: () => void): Promise<void> {
    while (!this.stopped) {
      let held: boolean | 'taken' = false;
      // The time the request is sent, not answered: the lease is only known to be ours from then.
      const attemptAt = this.o.clock.now();
      try {
        held = await this.tryAcquireOrRenew();
      } catch (e) {
        this.log.warn('leader election: lease request failed', { error: e });
      }
      if (held === 'taken' && this.leading) {
        // Another replica holds the lease now: stop at once rather than at the renew deadline.
        this.leading = false;
        this.log.error('leader election: the lease is held by another replica', { identity: this.o.identity });
        onStoppedLeading();
      } else if (held === true) {
        this.lastRenew = attemptAt;
        if (!this.leading) {
          this.leading = true;
          this.log.info('leader election: became leader', { identity: this.o.identity });
          onStartedLeading();
        }
      } else if (this.leading && this.o.clock.now() - this.lastRenew > this.o.renewDeadlineMs) {
        this.leading = false;
        this.log.error('leader election: lost the lease', { identity: this.o.identity });
        onStoppedLeading();
      }
      await this.o.clock.sleep(this.o.retryPeriodMs);
    }
  }

  /** Stops campaigning without touching the lease, as a crashed process would. */
  abandon(): void {
    this.stopped = true;
    this.leading = false;
  }

  /** Stops campaigning and, if leading, releases the lease so a successor need not wait it out. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (!this.leading) return;
    this.leading = false;
    const lease = await this.client.getOptional<Lease>(this.path());
    if (lease?.spec?.holderIdentity === this.o.identity) {
      await this.client
        .request('PUT', this.path(), { body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.o.clock.now()) } } })
        .catch(() => {});
    }
  }

  private path(): string {
    return `${paths.leases(this.o.namespace)}/${this.o.name}`;
  }

  /** true: we hold the lease; 'taken': another replica does; false: unknown (a conflict, retry). */
  private async tryAcquireOrRenew(): Promise<boolean | 'taken'> {
    const now = microTime(this.o.clock.now());
    const lease = await this.client.getOptional<Lease>(this.path());
    if (!lease) {
      try {
        await this.client.request('POST', paths.leases(this.o.namespace), {
          timeoutMs: this.o.renewDeadlineMs,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.o.name, namespace: this.o.namespace },
            spec: { holderIdentity: this.o.identity, leaseDurationSeconds: this.o.leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
          },
        });
        return true;
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
    }
    const spec = lease.spec ?? {};
    const record = `${spec.holderIdentity}/${spec.renewTime}`;
    if (record !== this.observed.record) this.observed = { record, at: this.o.clock.now() };
    const mine = spec.holderIdentity === this.o.identity;
    const expired = !spec.holderIdentity || this.o.clock.now() - this.observed.at > (spec.leaseDurationSeconds ?? this.o.leaseDurationSeconds) * 1000;
    if (!mine && !expired) return 'taken';
    const next = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.o.identity,
        leaseDurationSeconds: this.o.leaseDurationSeconds,
        renewTime: now,
        ...(!mine && { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
      },
    };
    try {
      const updated = await this.client.request<Lease>('PUT', this.path(), { body: next, timeoutMs: this.o.renewDeadlineMs });
      this.observed = { record: `${updated.spec?.holderIdentity}/${updated.spec?.renewTime}`, at: this.o.clock.now() };
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }
}
