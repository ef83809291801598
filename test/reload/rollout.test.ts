// The rolling reload against the platform: a real API server, three real nats-servers in a cluster,
// the kubelet stand-in, and real clients connected to every server before each change.
import { writeFileSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { attachControlPlane } from '../platform/controlPlane.js';
import { Client } from '../support/natsClient.js';
import { TestKube } from '../support/kube.js';
import { member, newUserKey, room } from '../support/objects.js';
import { useOperatorAndNats } from '../support/operator.js';
import { waitFor } from '../support/processes.js';

const cp = attachControlPlane(inject('controlPlane'));
const kube = new TestKube(cp.kubeConfig);
const NS = 'roll-a';
const NATS = 'roll-nats';
const RELEASE = 'roll';

const suite = useOperatorAndNats({ kubeConfig: cp.kubeConfig, natsNamespace: NATS, natsRelease: RELEASE, watchNamespaces: [NS], kubeletDelayMs: 60_000 });
const alice = newUserKey();
const bob = newUserKey();
const inbox = (name: string) => `_INBOX_${NS}_${name}`;

/** One connection as `name` to every server, each before the change it is meant to observe. */
function everywhere(key: { seed: string }, name: string): Promise<Client[]> {
  return suite.connectEverywhere(key.seed, inbox(name));
}

async function receivedOnAll(subs: { msgs: unknown[] }[], publish: () => void, what: string): Promise<void> {
  const before = subs.map((s) => s.msgs.length);
  publish();
  await waitFor(what, () => (subs.every((s, i) => s.msgs.length > before[i]!) ? true : undefined), 3000);
}

beforeAll(async () => {
  await kube.apply(room(NS, 'r1'));
  await kube.apply(room(NS, 'r2'));
  await kube.apply(member(NS, 'alice', { nkey: alice.publicKey, rooms: [{ room: 'r1', access: 'PublishSubscribe' }] }));
  await kube.apply(member(NS, 'bob', { nkey: bob.publicKey, rooms: [{ room: 'r1', access: 'Publish' }, { room: 'r2', access: 'Publish' }] }));
  await kube.waitCondition('members', NS, 'alice', 'Ready', 'True');
  await kube.waitCondition('members', NS, 'bob', 'Ready', 'True');
});

describe('rolling reload (kubelet delay 60 s, so only the pod poke delivers in time)', () => {
  it('a joined room works for clients already connected to every server once Ready is True, and not before', async () => {
    const alices = await everywhere(alice, 'alice');
    const [bobOn0] = await everywhere(bob, 'bob');
    const early = alices.map((c) => c.subscribe('rooms.roll-a.r2'));
    for (const c of alices) await c.permissionError('subscription', 'rooms.roll-a.r2');

    await kube.apply(member(NS, 'alice', { nkey: alice.publicKey, rooms: [{ room: 'r1', access: 'PublishSubscribe' }, { room: 'r2', access: 'Subscribe' }] }));
    await kube.waitCondition('members', NS, 'alice', 'Ready', 'True');
    // Ready promises every server enforces it: no retries from here on.
    const subs = alices.map((c) => c.subscribe('rooms.roll-a.r2'));
    await Promise.all(alices.map((c) => c.nc.flush()));
    expect(alices.filter((c) => c.events.permissionErrors.length > 1)).toEqual([]);
    await receivedOnAll(subs, () => bobOn0!.nc.publish('rooms.roll-a.r2'), 'alice to receive on r2 through every server');
    expect(early.every((s) => s.msgs.length === 0)).toBe(true);
    for (const c of alices) expect(c.events).toMatchObject({ disconnects: 0, reconnects: 0 });
  });

  it('leaving a room closes the live subscription with a permissions error on every server', async () => {
    const alices = await everywhere(alice, 'alice');
    const [bobOn0] = await everywhere(bob, 'bob');
    const subs = alices.map((c) => c.subscribe('rooms.roll-a.r2'));
    await Promise.all(alices.map((c) => c.nc.flush()));
    await receivedOnAll(subs, () => bobOn0!.nc.publish('rooms.roll-a.r2'), 'alice to receive on r2 before leaving');

    await kube.apply(member(NS, 'alice', { nkey: alice.publicKey, rooms: [{ room: 'r1', access: 'PublishSubscribe' }] }));
    await kube.waitCondition('members', NS, 'alice', 'Ready', 'True');
    for (const c of alices) await c.permissionError('subscription', 'rooms.roll-a.r2', 1000);
    const counts = subs.map((s) => s.msgs.length);
    bobOn0!.nc.publish('rooms.roll-a.r2');
    await bobOn0!.nc.flush();
    await Promise.all(alices.map((c) => c.nc.flush()));
    expect(subs.map((s) => s.msgs.length)).toEqual(counts);
    for (const c of alices) expect(c.nc.isClosed()).toBe(false);
  });

  it('deleting a member closes its connections on every server and refuses reconnects', async () => {
    const carol = newUserKey();
    await kube.apply(member(NS, 'carol', { nkey: carol.publicKey, rooms: [{ room: 'r1', access: 'Subscribe' }] }));
    await kube.waitCondition('members', NS, 'carol', 'Ready', 'True');
    const carols = await everywhere(carol, 'carol');
    await kube.delete('members', NS, 'carol');
    await waitFor('every carol connection to be closed', () => (carols.every((c) => c.nc.isClosed()) ? true : undefined), 15_000);
    for (const url of suite.nats.urls) {
      await expect(Client.connect(url, carol.seed, inbox('carol'), { reconnect: false })).rejects.toThrow(/Authorization Violation/i);
    }
  });
});

describe('a server that does not confirm stops the rollout', () => {
  it('a server that is down: Degraded naming it, later servers untouched, then converges', async () => {
    const [, , aliceOn2] = await everywhere(alice, 'alice');
    await suite.nats.stopServer(1);
    await kube.apply(member(NS, 'alice', { nkey: alice.publicKey, rooms: [{ room: 'r1', access: 'PublishSubscribe' }, { room: 'r2', access: 'Subscribe' }] }));
    const degraded = await waitFor('Ready=False RolloutDegraded naming roll-1', async () => {
      const c = (await kube.member(NS, 'alice'))!.status!.conditions!.find((x) => x.type === 'Ready')!;
      return c.reason === 'RolloutDegraded' && c.message.includes('roll-1') ? c : undefined;
    });
    expect(degraded.status).toBe('False');
    expect(degraded.message).not.toMatch(/roll-2/);
    // Server 2 comes after the stopped server 1: it must still enforce the old permissions.
    aliceOn2!.subscribe('rooms.roll-a.r2');
    await aliceOn2!.permissionError('subscription', 'rooms.roll-a.r2');

    await suite.nats.startServer(1);
    await kube.waitCondition('members', NS, 'alice', 'Ready', 'True', 60_000);
    const sub = aliceOn2!.subscribe('rooms.roll-a.r2');
    await aliceOn2!.nc.flush();
    const [bobOn0] = await everywhere(bob, 'bob');
    await receivedOnAll([sub], () => bobOn0!.nc.publish('rooms.roll-a.r2'), 'alice on server 2 to receive r2 after recovery');
  });

  it('a server that refuses the config: Degraded with its reason, later servers untouched, then converges', async () => {
    const file = suite.nats.servers[1]!.configFile;
    const good = readFileSync(file, 'utf8');
    // A port change cannot be reloaded: nats-server refuses the whole reload.
    writeFileSync(file, good.replace(/listen: "127\.0\.0\.1:(\d+)"/, (_m, p) => `listen: "127.0.0.1:${Number(p) + 1}"`));
    const [, , aliceOn2] = await everywhere(alice, 'alice');
    await kube.apply(member(NS, 'alice', { nkey: alice.publicKey, rooms: [{ room: 'r1', access: 'PublishSubscribe' }] }));
    await waitFor('Ready=False RolloutDegraded with the refusal of roll-1', async () => {
      const c = (await kube.member(NS, 'alice'))!.status!.conditions!.find((x) => x.type === 'Ready')!;
      return c.reason === 'RolloutDegraded' && /roll-1 refused/.test(c.message) && /not supported/.test(c.message) ? true : undefined;
    });
    // Server 2 still lets alice subscribe to r2 (the old generation), although the new one would not.
    const sub = aliceOn2!.subscribe('rooms.roll-a.r2');
    await aliceOn2!.nc.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(aliceOn2!.hasPermissionError('subscription', 'rooms.roll-a.r2')).toBe(false);
    expect(sub.error()).toBeUndefined();

    writeFileSync(file, good);
    await kube.waitCondition('members', NS, 'alice', 'Ready', 'True', 60_000);
    await aliceOn2!.permissionError('subscription', 'rooms.roll-a.r2');
  });
});
