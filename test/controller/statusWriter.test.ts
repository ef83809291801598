// The background status writer against the real API server: only the latest wanted status of an
// object is written, writes of one object never overlap, a gone object is not retried, and clear()
// drops what is pending.
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { Member } from '../../src/api/types.js';
import { KubeClient } from '../../src/kube/client.js';
import { createMetrics } from '../../src/metrics.js';
import { StatusWriter, type StatusWrite } from '../../src/controller/statusWriter.js';
import { silentLogger } from '../../src/log.js';
import { attachControlPlane } from '../platform/controlPlane.js';
import { TestKube } from '../support/kube.js';
import { member } from '../support/objects.js';

const cp = attachControlPlane(inject('controlPlane'));
const kube = new TestKube(cp.kubeConfig);
const NS = 'status-writer';
const COUNT = 20;

const writeOf = (name: string, message: string): StatusWrite => ({
  plural: 'members',
  namespace: NS,
  name,
  dropped: [],
  status: { conditions: [{ type: 'Ready', status: 'False', reason: 'RollingOut', message, lastTransitionTime: '2026-11-22T00:00:00Z' }] },
});

const writesOf = async (metrics: ReturnType<typeof createMetrics>) => (await metrics.statusWrites.get()).values.reduce((n, v) => n + v.value, 0);

beforeAll(async () => {
  await kube.ensureNamespace(NS);
  for (let i = 0; i < COUNT; i++) await kube.apply(member(NS, `m${i}`));
});

afterAll(async () => {
  for (let i = 0; i < COUNT; i++) await kube.delete('members', NS, `m${i}`).catch(() => {});
});

it('writes only the latest wanted status of each object, once', async () => {
  const metrics = createMetrics();
  const writer = new StatusWriter({ client: new KubeClient(cp.kubeConfig), log: silentLogger, metrics, fieldManager: 'test', concurrency: 2 });
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < COUNT; i++) writer.set(`m${i}`, writeOf(`m${i}`, `round ${round}`));
  }
  await writer.idle();
  const members = await kube.list<Member>('members', [NS]);
  expect(members.map((m) => m.status?.conditions?.[0]?.message)).toEqual(Array.from({ length: COUNT }, () => 'round 2'));
  // Two writers start on round 0 of the first two objects; everything else was replaced before it was written.
  expect(await writesOf(metrics)).toBeLessThanOrEqual(COUNT + 2);
  expect(await writesOf(metrics)).toBeGreaterThanOrEqual(COUNT);
});

it('drops a pending write when the object already has the status wanted, and everything on clear()', async () => {
  const metrics = createMetrics();
  const writer = new StatusWriter({ client: new KubeClient(cp.kubeConfig), log: silentLogger, metrics, fieldManager: 'test', concurrency: 1 });
  for (let i = 0; i < COUNT; i++) writer.set(`m${i}`, writeOf(`m${i}`, 'later'));
  writer.set('m5', undefined);
  writer.clear();
  await writer.idle();
  expect(writer.pending).toBe(0);
  const members = await kube.list<Member>('members', [NS]);
  // At most the one write already in flight when clear() came landed.
  expect(members.filter((m) => m.status?.conditions?.[0]?.message === 'later').length).toBeLessThanOrEqual(1);
  expect(members.find((m) => m.metadata.name === 'm5')?.status?.conditions?.[0]?.message).toBe('round 2');
});

it('does not retry a write to an object that is gone', async () => {
  const metrics = createMetrics();
  const writer = new StatusWriter({ client: new KubeClient(cp.kubeConfig), log: silentLogger, metrics, fieldManager: 'test', concurrency: 1 });
  writer.set('gone', writeOf('no-such-member', 'x'));
  await writer.idle();
  expect(writer.pending).toBe(0);
  expect((await metrics.statusWritesPending.get()).values[0]?.value).toBe(0);
  expect(await writesOf(metrics)).toBe(0);
});
