// The status writer's retries and ordering, with an in-memory API on a fake clock (its behaviour
// against the real API server is in test/controller/statusWriter.test.ts).
import { describe, expect, it } from 'vitest';
import { KubeError, type KubeClient } from '../../../src/kube/client.js';
import { createMetrics } from '../../../src/metrics.js';
import { StatusWriter, type StatusWrite } from '../../../src/controller/statusWriter.js';
import { silentLogger } from '../../../src/log.js';
import { FakeClock } from '../../support/fakeClock.js';

const writeOf = (name: string, message: string): StatusWrite => ({ plural: 'members', namespace: 'ns', name, dropped: [], status: { message } });

/** Answers status patches after `latencyMs` of fake time; `failures` makes the next ones fail. */
function fakeApi(clock: FakeClock, latencyMs = 0) {
  const api = {
    failures: 0,
    missing: new Set<string>(),
    written: [] as { at: number; name: string; message: string }[],
    inFlight: new Map<string, number>(),
    maxInFlightPerObject: 0,
    client: undefined as unknown as KubeClient,
  };
  api.client = {
    request: async (_method: string, path: string, options: { body: { status: { message: string } } }) => {
      const name = path.split('/').at(-2)!;
      api.inFlight.set(name, (api.inFlight.get(name) ?? 0) + 1);
      api.maxInFlightPerObject = Math.max(api.maxInFlightPerObject, api.inFlight.get(name)!);
      try {
        if (latencyMs) await clock.sleep(latencyMs);
        if (api.missing.has(name)) throw new KubeError(404, 'NotFound', 'gone');
        if (api.failures > 0) {
          api.failures--;
          throw new KubeError(500, 'InternalError', 'etcd is unhappy');
        }
        api.written.push({ at: clock.now(), name, message: options.body.status.message });
      } finally {
        api.inFlight.set(name, api.inFlight.get(name)! - 1);
      }
    },
  } as unknown as KubeClient;
  return api;
}

function writer(clock: FakeClock, client: KubeClient, concurrency = 2) {
  return new StatusWriter({ client, log: silentLogger, metrics: createMetrics(), fieldManager: 'test', concurrency, clock });
}

describe('StatusWriter', () => {
  it('retries a failed write with backoff (1 s, 2 s, ...) and gives up after five retries', async () => {
    const clock = new FakeClock(0);
    const api = fakeApi(clock);
    const w = writer(clock, api.client);
    api.failures = 2;
    w.set('a', writeOf('a', 'v1'));
    await clock.advance(0);
    expect(api.written).toEqual([]);
    await clock.advance(999);
    expect(api.written).toEqual([]);
    await clock.advance(1); // first retry at 1 s fails too, the next comes 2 s later
    await clock.advance(2000);
    expect(api.written).toEqual([{ at: 3000, name: 'a', message: 'v1' }]);

    api.failures = 100;
    w.set('b', writeOf('b', 'v1'));
    await clock.advance(120_000);
    expect(api.failures).toBe(100 - 6); // the first write and five retries
    expect(clock.timers).toBe(0);
    expect(w.pending).toBe(0);
  });

  it('drops the retry of a status that a newer one replaced, and writes the newer one', async () => {
    const clock = new FakeClock(0);
    const api = fakeApi(clock);
    const w = writer(clock, api.client);
    api.failures = 1;
    w.set('a', writeOf('a', 'old'));
    await clock.advance(10);
    w.set('a', writeOf('a', 'new'));
    await clock.advance(10_000);
    expect(api.written.map((x) => x.message)).toEqual(['new']);
  });

  it('does not retry a write to an object that is gone', async () => {
    const clock = new FakeClock(0);
    const api = fakeApi(clock);
    const w = writer(clock, api.client);
    api.missing.add('gone');
    w.set('gone', writeOf('gone', 'x'));
    await clock.advance(60_000);
    expect(api.written).toEqual([]);
    expect(clock.timers).toBe(0);
    expect(w.pending).toBe(0);
  });

  it('never has two writes of one object in flight, and the last wanted status lands last', async () => {
    const clock = new FakeClock(0);
    const api = fakeApi(clock, 50);
    const w = writer(clock, api.client, 4);
    for (let v = 1; v <= 5; v++) {
      w.set('a', writeOf('a', `v${v}`));
      w.set('b', writeOf('b', `v${v}`));
      await clock.advance(20);
    }
    await clock.advance(1000);
    await w.idle();
    expect(api.maxInFlightPerObject).toBe(1);
    expect(api.written.filter((x) => x.name === 'a').at(-1)?.message).toBe('v5');
    expect(api.written.filter((x) => x.name === 'b').at(-1)?.message).toBe('v5');
    // v1 was on its way when v2..v5 came: only v1 and the latest were written.
    expect(api.written.filter((x) => x.name === 'a').map((x) => x.message)).toEqual(['v1', 'v3', 'v5']);
  });
});
