// A config larger than one Secret: the operator splits it across shard Secrets that the NATS pods
// mount with the main one in a projected volume, rolls it out, and removes shards it no longer needs.
// (Secrets here are limited to 4,000 bytes so that a few members need several.)
import { beforeAll, expect, inject, it } from 'vitest';
import type { Member } from '../../src/api/types.js';
import { attachControlPlane } from '../platform/controlPlane.js';
import { AUTH_SHARDS } from '../platform/natsPods.js';
import { TestKube } from '../support/kube.js';
import { member, newUserKey, room } from '../support/objects.js';
import { useOperatorAndNats } from '../support/operator.js';
import { waitFor } from '../support/processes.js';

const cp = attachControlPlane(inject('controlPlane'));
const kube = new TestKube(cp.kubeConfig);
const NS = 'shard-a';
const NATS = 'shard-nats';
const keys = Array.from({ length: 24 }, () => newUserKey());

const shardSecrets = async () => {
  const found: string[] = [];
  for (let i = 1; i <= AUTH_SHARDS; i++) if (await kube.secret(NATS, `nats-rooms-auth-${i}`)) found.push(`nats-rooms-auth-${i}`);
  return found;
};

const allReady = async (count: number) =>
  waitFor(`${count} members Ready`, async () => {
    const list = await kube.list<Member>('members', [NS]);
    return list.length === count && list.every((m) => m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === m.metadata.generation)) ? true : undefined;
  }, 60_000, 100);

const suite = useOperatorAndNats({ kubeConfig: cp.kubeConfig, natsNamespace: NATS, natsRelease: 'shard', watchNamespaces: [NS], args: ['--max-secret-bytes=4000'], kubeletDelayMs: 60_000 });

beforeAll(async () => {
  await kube.apply(room(NS, 'r'));
});

it('spreads a large config over shard Secrets, enforces it on every server, and removes shards no longer needed', async () => {
  await Promise.all(keys.map((k, i) => kube.apply(member(NS, `m${i}`, { nkey: k.publicKey, rooms: [{ room: 'r', access: 'PublishSubscribe' }] }))));
  await allReady(keys.length);
  const shards = await shardSecrets();
  expect(shards.length).toBeGreaterThanOrEqual(2);
  const main = (await kube.secretText(NATS, 'nats-rooms-auth'))!;
  expect(main).toContain('include "users-1.conf"');
  expect(main.length).toBeLessThanOrEqual(4000);

  // The last member's permissions come from a shard: its client works through every server.
  const last = keys.length - 1;
  for (const c of await suite.connectEverywhere(keys[last]!.seed, `_INBOX_${NS}_m${last}`)) {
    const sub = c.subscribe('rooms.shard-a.r');
    await c.nc.flush();
    c.nc.publish('rooms.shard-a.r');
    await waitFor('its own message back', () => (sub.msgs.length > 0 ? true : undefined), 3000);
    expect(c.events.permissionErrors).toEqual([]);
  }

  for (let i = 4; i < keys.length; i++) await kube.delete('members', NS, `m${i}`);
  await allReady(4);
  await waitFor('stale shard Secrets to be deleted', async () => ((await shardSecrets()).length < shards.length ? true : undefined), 30_000);
  for (const c of suite.clients) await waitFor('removed members to be disconnected', () => (c.nc.isClosed() ? true : undefined), 15_000);
});
