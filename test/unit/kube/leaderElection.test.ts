// Leader election against an in-memory Lease with the API server's optimistic concurrency (a write
// with a stale resourceVersion is a 409), on a fake clock: takeover waits a whole lease duration of
// an unchanged record, a leader steps down at its renew deadline even while a request hangs, and two
// candidates never lead at once.
import { describe, expect, it } from 'vitest';
import { LeaderElector } from '../../../src/kube/leaderElection.js';
import { KubeError, type KubeClient } from '../../../src/kube/client.js';
import { silentLogger } from '../../../src/log.js';
import { FakeClock } from '../../support/fakeClock.js';

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number; leaseTransitions?: number };
}

/** One Lease, as the API server keeps it. `down` fails every request; `hang` never answers. */
class LeaseApi {
  lease?: Lease;
  private version = 0;
  down = false;
  hang = false;
  writes = 0;

  client(): KubeClient {
    const answer = async <T>(f: () => T): Promise<T> => {
      if (this.hang) return new Promise<T>(() => undefined);
      if (this.down) throw new Error('connection refused');
      return f();
    };
    const copy = <T>(x: T): T => structuredClone(x);
    return {
      getOptional: <T>() => answer(() => (this.lease ? copy(this.lease) : undefined) as T),
      request: <T>(method: string, _path: string, options: { body?: unknown }) =>
        answer(() => {
          const body = copy(options.body) as Lease;
          if (method === 'POST' && this.lease) throw new KubeError(409, 'AlreadyExists', 'exists');
          if (method === 'PUT' && body.metadata.resourceVersion !== this.lease?.metadata.resourceVersion) throw new KubeError(409, 'Conflict', 'stale');
          this.writes++;
          this.lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(++this.version) } };
          return copy(this.lease) as T;
        }),
    } as unknown as KubeClient;
  }

  /** Another process takes the lease by writing it directly. */
  steal(holder: string): void {
    this.lease = { ...this.lease!, metadata: { ...this.lease!.metadata, resourceVersion: String(++this.version) }, spec: { ...this.lease!.spec, holderIdentity: holder, renewTime: `t${this.version}` } };
  }
}

const log = silentLogger;
const TIMING = { leaseDurationSeconds: 3, renewDeadlineMs: 1000, retryPeriodMs: 200 };

function candidate(api: LeaseApi, clock: FakeClock, identity: string) {
  const elector = new LeaderElector(api.client(), { namespace: 'ops', name: 'lease', identity, ...TIMING, clock }, log);
  const events: string[] = [];
  void elector.run(
    () => events.push(`start@${clock.now()}`),
    () => events.push(`stop@${clock.now()}`),
  );
  return { elector, events };
}

describe('LeaderElector', () => {
  it('creates the lease and leads, renewing it every retry period', async () => {
    const api = new LeaseApi();
    const clock = new FakeClock(0);
    const a = candidate(api, clock, 'a');
    await clock.advance(0);
    expect(a.events).toEqual(['start@0']);
    expect(a.elector.isLeader).toBe(true);
    expect(api.lease?.spec?.holderIdentity).toBe('a');
    const before = api.writes;
    await clock.advance(1000);
    expect(api.writes - before).toBe(5);
    a.elector.abandon();
  });

  it('a standby takes over only after the record stayed unchanged for a whole lease duration', async () => {
    const api = new LeaseApi();
    const clock = new FakeClock(0);
    const a = candidate(api, clock, 'a');
    await clock.advance(0);
    const b = candidate(api, clock, 'b');
    await clock.advance(5000);
    expect(b.events).toEqual([]);
    expect(b.elector.isLeader).toBe(false);

    a.elector.abandon(); // a crash: the lease is left as it was, last renewed at 5000
    await clock.advance(2800);
    expect(b.events).toEqual([]);
    await clock.advance(600);
    expect(b.events).toHaveLength(1);
    const at = Number(b.events[0]!.split('@')[1]);
    // b saw the last record at 5000-5200 and waited more than 3 s from then.
    expect(at).toBeGreaterThan(8000);
    expect(at).toBeLessThanOrEqual(8400);
    expect(api.lease?.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    b.elector.abandon();
  });

  it('stop() releases the lease, so the standby takes over at its next retry', async () => {
    const api = new LeaseApi();
    const clock = new FakeClock(0);
    const a = candidate(api, clock, 'a');
    await clock.advance(0);
    const b = candidate(api, clock, 'b');
    await clock.advance(1000);
    await a.elector.stop();
    expect(api.lease?.spec?.holderIdentity).toBe('');
    await clock.advance(200);
    expect(b.elector.isLeader).toBe(true);
    b.elector.abandon();
  });

  it('steps down at the renew deadline while lease requests fail, and leads again once they work', async () => {
    const api = new LeaseApi();
    const clock = new FakeClock(0);
    const a = candidate(api, clock, 'a');
    await clock.advance(0);
    api.down = true;
    await clock.advance(1000);
    expect(a.events).toEqual(['start@0']);
    await clock.advance(200);
    expect(a.events).toEqual(['start@0', 'stop@1200']);
    expect(a.elector.isLeader).toBe(false);
    api.down = false;
    await clock.advance(200);
    // Its own record: no need to wait out the lease.
    expect(a.events).toEqual(['start@0', 'stop@1200', 'start@1400']);
    a.elector.abandon();
  });

  it('is no longer leader at the renew deadline even while a request hangs', async () => {
    const api = new LeaseApi();
    const clock = new FakeClock(0);
    const a = candidate(api, clock, 'a');
    await clock.advance(0);
    api.hang = true;
    await clock.advance(1000);
    expect(a.elector.isLeader).toBe(true);
    await clock.advance(1);
    expect(a.elector.isLeader).toBe(false);
    a.elector.abandon();
  });

  it('steps down at once when it finds another holder in the lease', async () => {
    const api = new LeaseApi();
    const clock = new FakeClock(0);
    const a = candidate(api, clock, 'a');
    await clock.advance(0);
    api.steal('c');
    await clock.advance(200);
    expect(a.events).toEqual(['start@0', 'stop@200']);
    expect(api.lease?.spec?.holderIdentity).toBe('c');
    a.elector.abandon();
  });

  it('never lets two candidates lead at once when they start together', async () => {
    const api = new LeaseApi();
    const clock = new FakeClock(0);
    const all = ['a', 'b', 'c'].map((id) => candidate(api, clock, id));
    for (let t = 0; t < 10_000; t += 100) {
      await clock.advance(100);
      expect(all.filter((c) => c.elector.isLeader).length).toBe(1);
    }
    for (const c of all) c.elector.abandon();
  });
});
