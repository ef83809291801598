// The rollout's timing on a fake clock, against servers that stand in for nats-server only in what
// the rollout sees: a file on disk that kubelet replaces some time after the poke, a reload that
// takes a while and loads what is on disk (or refuses). Real servers: test/reload/rollout.test.ts.
import { describe, expect, it } from 'vitest';
import type { Rendered } from '../../../src/auth/render.js';
import { loadConfig } from '../../../src/config.js';
import type { KubeClient } from '../../../src/kube/client.js';
import type { Pod } from '../../../src/kube/types.js';
import { silentLogger } from '../../../src/log.js';
import { createMetrics } from '../../../src/metrics.js';
import type { NatsSystem, ServerConnection } from '../../../src/reload/natsSystem.js';
import { ServerRollout } from '../../../src/reload/rollout.js';
import { FakeClock } from '../../support/fakeClock.js';

interface FakeServer {
  onDisk: string;
  loaded: string;
  reloadMs: number;
  reloads: number;
  refuse?: string;
}

function cluster(clock: FakeClock, count: number, reloadMs: number, flags: string[] = []) {
  const servers = new Map<string, FakeServer>();
  const pods: Pod[] = [];
  for (let i = 0; i < count; i++) {
    servers.set(`nats://10.0.0.${i}:4222`, { onDisk: 'old', loaded: 'old', reloadMs, reloads: 0 });
    pods.push({
      metadata: { name: `nats-${i}`, namespace: 'nats' },
      spec: { containers: [{ name: 'nats', ports: [{ name: 'client', containerPort: 4222 }] }] },
      status: { phase: 'Running', podIP: `10.0.0.${i}`, conditions: [{ type: 'Ready', status: 'True' }] },
    });
  }
  const at = (conn: ServerConnection) => servers.get(conn.serverId)!;
  /** Every reload as [start, end, server index], to see which ran at once. */
  const reloadSpans: [number, number, number][] = [];
  const system = {
    server: async (url: string) => ({ serverId: url, serverName: url, nc: undefined }) as unknown as ServerConnection,
    generation: async (conn: ServerConnection) => at(conn).loaded,
    accounts: async () => [],
    reload: async (conn: ServerConnection) => {
      const s = at(conn);
      s.reloads++;
      const start = clock.now();
      // nats-server reads the file when the reload starts.
      const read = s.onDisk;
      await clock.sleep(s.reloadMs);
      reloadSpans.push([start, clock.now(), Number(conn.serverId.split('.')[3]!.split(':')[0])]);
      if (s.refuse) return s.refuse;
      s.loaded = read;
      return undefined;
    },
  } as unknown as NatsSystem;
  const pokes: { at: number; pod: string }[] = [];
  const client = {
    request: async (_m: string, path: string) => void pokes.push({ at: clock.now(), pod: path.split('/').at(-1)! }),
  } as unknown as KubeClient;
  const rollout = new ServerRollout({ strategy: 'reload', system, client, config: loadConfig(flags, {}), log: silentLogger, metrics: createMetrics(), clock });
  const server = (i: number) => servers.get(`nats://10.0.0.${i}:4222`)!;
  return { rollout, pods, server, pokes, reloadSpans };
}

const generation = (hash: string): Rendered => ({ text: '', shards: [], guards: [], hash, serviceImporters: [] });

/** Runs ensure() on the fake clock until it settles; returns its result and when it came. */
async function ensure(clock: FakeClock, rollout: ServerRollout, pods: Pod[], hash: string) {
  const start = clock.now();
  let done: { result: Awaited<ReturnType<ServerRollout['ensure']>>; at: number } | undefined;
  void rollout.ensure(generation(hash), pods).then((result) => (done = { result, at: clock.now() - start }));
  for (let t = 0; t < 10_000 && !done; t += 5) await clock.advance(5);
  return done!;
}

describe('ServerRollout timing', () => {
  it('polls a small config closely: enforced within a few tens of ms of kubelet delivering it', async () => {
    const clock = new FakeClock(0);
    const { rollout, pods, server } = cluster(clock, 3, 2);
    for (let i = 0; i < 3; i++) clock.after(170, () => (server(i).onDisk = 'new'));
    const { result, at } = await ensure(clock, rollout, pods, 'new');
    expect(result.state).toBe('Enforced');
    // The first reload is 100 ms after the pokes, then after pauses of 25, 37, 56 ms: the delivery at 170
    // is seen by the reload at about 225 (the old schedule of 100, 200, 400 ms saw it at about 400).
    expect(at).toBeGreaterThanOrEqual(170);
    expect(at).toBeLessThanOrEqual(240);
    expect(server(0).reloads).toBeGreaterThanOrEqual(3);
    expect(server(1).reloads).toBe(1);
  });

  it('spaces the reloads of a large config by their cost, instead of reparsing it back to back', async () => {
    const clock = new FakeClock(0);
    const { rollout, pods, server } = cluster(clock, 3, 400);
    const { result } = await ensure(clock, rollout, pods, 'never-delivered');
    expect(result.state).toBe('RollingOut');
    // In 1.6 s: reloads of 400 ms, the second at once after the first, then at least 800 ms apart: three at most.
    expect(server(0).reloads).toBeLessThanOrEqual(3);
  });

  it('retries a large config at once after the first reload that found the old files (kubelet delivered meanwhile), then by its cost', async () => {
    const clock = new FakeClock(0);
    const { rollout, pods, server, reloadSpans } = cluster(clock, 3, 400);
    for (let i = 0; i < 3; i++) clock.after(150, () => (server(i).onDisk = 'new'));
    const { result } = await ensure(clock, rollout, pods, 'new');
    expect(result.state).toBe('Enforced');
    // nats-0: the reload at 100 reads the old file; the next starts 25 ms after it ends, not 800.
    const first = reloadSpans.filter(([, , s]) => s === 0);
    expect(first.map(([start]) => start)).toEqual([100, 525]);
    expect(server(1).reloads).toBe(1);
  });

  it('learns how long kubelet takes: later rollouts of a large config wait for it instead of re-reading the old files', async () => {
    const clock = new FakeClock(0);
    const { rollout, pods, server, reloadSpans } = cluster(clock, 3, 400);
    const oldReads: number[] = [];
    for (let round = 1; round <= 10; round++) {
      const hash = `gen-${round}`;
      const start = clock.now();
      const before = reloadSpans.length;
      for (let i = 0; i < 3; i++) clock.after(300, () => (server(i).onDisk = hash));
      const { result } = await ensure(clock, rollout, pods, hash);
      expect(result.state).toBe('Enforced');
      // nats-0's first reload in this round: did it start before kubelet delivered?
      const [firstStart] = reloadSpans.slice(before).find(([, , s]) => s === 0)!;
      oldReads.push(firstStart - start < 300 ? 1 : 0);
    }
    // The first rollout reloads at 100 ms and reads the old files (as every one did with a fixed wait);
    // then the wait follows the delivery, coming down slowly and going up again when it read too early.
    expect(oldReads[0]).toBe(1);
    expect(oldReads.reduce((a, b) => a + b)).toBeLessThanOrEqual(4);
  });

  it('hands a server that keeps reading the old files back to the queue, and pokes its pod again', async () => {
    const clock = new FakeClock(0);
    const { rollout, pods, server, pokes } = cluster(clock, 3, 2);
    const { result, at } = await ensure(clock, rollout, pods, 'late');
    expect(result).toMatchObject({ state: 'RollingOut', message: expect.stringMatching(/waiting for server nats-0 to receive generation late/) });
    // Retried in place for up to 1.6 s (the next pause would pass it), then handed back.
    expect(at).toBeGreaterThan(1200);
    expect(at).toBeLessThanOrEqual(1600);
    expect(pokes.filter((p) => p.pod === 'nats-0')).toHaveLength(2);
    expect(server(1).reloads + server(2).reloads).toBe(0);
  });

  it('stops at a server that refuses the config, naming it, and leaves the later ones alone', async () => {
    const clock = new FakeClock(0);
    const { rollout, pods, server } = cluster(clock, 3, 2);
    for (let i = 0; i < 3; i++) server(i).onDisk = 'bad';
    server(1).refuse = 'config reload not supported for jetstream';
    const { result } = await ensure(clock, rollout, pods, 'bad');
    expect(result).toMatchObject({ state: 'Degraded', message: 'server nats-1 refused the config of generation bad: config reload not supported for jetstream' });
    expect(server(0).loaded).toBe('bad');
    expect(server(2).reloads).toBe(0);
  });

  it('stops at a server whose pod is not ready', async () => {
    const clock = new FakeClock(0);
    const { rollout, pods, server } = cluster(clock, 3, 2);
    for (let i = 0; i < 3; i++) server(i).onDisk = 'new';
    pods[1]!.status!.conditions = [{ type: 'Ready', status: 'False' }];
    const { result } = await ensure(clock, rollout, pods, 'new');
    expect(result).toMatchObject({ state: 'Degraded', message: expect.stringMatching(/^server nats-1 is not ready/) });
    expect(server(2).reloads).toBe(0);
  });
});

describe('ServerRollout with --rollout-parallelism', () => {
  it('reloads the first server alone, then the rest N at once', async () => {
    const clock = new FakeClock(0);
    const { rollout, pods, server, reloadSpans } = cluster(clock, 5, 400, ['--rollout-parallelism=2']);
    for (let i = 0; i < 5; i++) server(i).onDisk = 'new';
    const { result, at } = await ensure(clock, rollout, pods, 'new');
    expect(result.state).toBe('Enforced');
    const span = (i: number) => reloadSpans.find(([, , s]) => s === i)!;
    // The canary ends before any other starts; then 1 and 2 together, then 3 and 4 together.
    for (let i = 1; i < 5; i++) expect(span(i)[0]).toBeGreaterThanOrEqual(span(0)[1]);
    expect(span(1)[0]).toBe(span(2)[0]);
    expect(span(3)[0]).toBe(span(4)[0]);
    expect(span(3)[0]).toBeGreaterThanOrEqual(span(1)[1]);
    // Three rounds of a 400 ms reload after the 100 ms kubelet moment, not five.
    expect(at).toBeGreaterThanOrEqual(1300);
    expect(at).toBeLessThan(1400);
  });

  it('with the default of 1, one server at a time', async () => {
    const clock = new FakeClock(0);
    const { rollout, pods, server, reloadSpans } = cluster(clock, 5, 400);
    for (let i = 0; i < 5; i++) server(i).onDisk = 'new';
    const { result } = await ensure(clock, rollout, pods, 'new');
    expect(result.state).toBe('Enforced');
    const sorted = [...reloadSpans].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]![0]).toBeGreaterThanOrEqual(sorted[i - 1]![1]);
  });

  it('a config the canary refuses reaches no other server', async () => {
    const clock = new FakeClock(0);
    const { rollout, pods, server } = cluster(clock, 5, 2, ['--rollout-parallelism=4']);
    for (let i = 0; i < 5; i++) server(i).onDisk = 'bad';
    server(0).refuse = 'bad config';
    const { result } = await ensure(clock, rollout, pods, 'bad');
    expect(result).toMatchObject({ state: 'Degraded', message: expect.stringMatching(/^server nats-0 refused/) });
    for (let i = 1; i < 5; i++) expect(server(i).reloads).toBe(0);
  });

  it('within a batch, moves the servers before one that is down and holds the ones after it', async () => {
    const clock = new FakeClock(0);
    const { rollout, pods, server } = cluster(clock, 5, 2, ['--rollout-parallelism=4']);
    for (let i = 0; i < 5; i++) server(i).onDisk = 'new';
    pods[3]!.status!.conditions = [{ type: 'Ready', status: 'False' }];
    const { result } = await ensure(clock, rollout, pods, 'new');
    expect(result).toMatchObject({ state: 'Degraded', message: expect.stringMatching(/^server nats-3 is not ready/) });
    expect([0, 1, 2].map((i) => server(i).loaded)).toEqual(['new', 'new', 'new']);
    expect(server(4).reloads).toBe(0);
  });

  it('refuses a parallelism that is not a whole number of at least 1', () => {
    expect(() => loadConfig(['--rollout-parallelism=0'], {})).toThrow(/--rollout-parallelism: "0" is not a whole number of at least 1/);
    expect(() => loadConfig(['--rollout-parallelism=1.5'], {})).toThrow(/whole number/);
  });
});
