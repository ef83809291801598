// Persisted rooms, tried live: the operator against the real API server and three clustered
// nats-servers running JetStream, real nats.js clients of every Member on every server. The operator
// keeps the room's R3 stream and each member's durable consumers; members get exactly their share:
// publishers their acks, readers history (direct get, message get) and their own consumers.
//
// The attempts, each with its positive control: another member pulls from, inspects, deletes or acks
// alice's consumer; a member creates a consumer of its own in any of JetStream's forms (nats-server does
// not check a push consumer's deliver subject against its creator, so one CONSUMER.CREATE would let it
// deliver the stream into a room it may not publish to); a member of another room, and a member of
// another namespace, reads the stream by any API subject. Leaving the room closes the stream on the
// member's live connection.
import { AckPolicy, connect, consumerOpts, DeliverPolicy, nkeyAuthenticator, type JetStreamManager, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Member, MemberSpec } from '../../src/api/types.js';
import { attachControlPlane } from '../platform/controlPlane.js';
import { TestKube } from '../support/kube.js';
import type { Client } from '../support/natsClient.js';
import { member, newUserKey, room } from '../support/objects.js';
import { useOperatorAndNats } from '../support/operator.js';
import { waitFor } from '../support/processes.js';
import { SYSTEM_SEED_KEY } from '../../src/api/metadata.js';
import { STREAM_ADMIN_INBOX } from '../../src/auth/jetstream.js';
import { streamAdminOf } from '../../src/jetstream/adminUser.js';

const cp = attachControlPlane(inject('controlPlane'));
const kube = new TestKube(cp.kubeConfig);
const NS = 'js-a';
const OTHER_NS = 'js-b';
const NATS = 'js-nats';
const suite = useOperatorAndNats({
  kubeConfig: cp.kubeConfig,
  natsNamespace: NATS,
  natsRelease: 'js',
  watchNamespaces: [NS, OTHER_NS],
  kubeletDelayMs: 0,
  jetstream: true,
  args: ['--stream-resync-ms=500'],
});

const STREAM = 'js-a_chat';
const CHAT = 'rooms.js-a.chat';
const OTHER = 'rooms.js-a.other';
const SERVERS = [0, 1, 2];
const enc = new TextEncoder();
const dec = new TextDecoder();

interface Principal {
  name: string;
  ns: string;
  seed: string;
  inbox: string;
  /** One connection per server. */
  on: Client[];
}

const principals = new Map<string, Principal>();

async function join(ns: string, name: string, spec: MemberSpec): Promise<Principal> {
  const key = newUserKey();
  const obj: Member = member(ns, name, { ...spec, nkey: key.publicKey });
  await kube.apply(obj);
  await kube.waitCondition('members', ns, name, 'Ready', 'True');
  const inbox = `_INBOX_${ns}_${name}`;
  const p = { name, ns, seed: key.seed, inbox, on: await suite.connectEverywhere(key.seed, inbox) };
  principals.set(name, p);
  return p;
}

async function streamReady(): Promise<Record<string, unknown>> {
  return waitFor('room chat StreamReady', async () => {
    const r = await kube.room(NS, 'chat');
    return r?.status?.conditions?.some((c) => c.type === 'StreamReady' && c.status === 'True') ? (r.status as Record<string, unknown>) : undefined;
  }, 30_000);
}

/** A JetStream API request: the parsed reply, or 'denied' when the server refused the publish. */
async function api(c: Client, subject: string, body: unknown = {}): Promise<Record<string, unknown> | 'denied' | 'timeout'> {
  try {
    const msg = await c.nc.request(subject, enc.encode(JSON.stringify(body)), { timeout: 1500 });
    return JSON.parse(dec.decode(msg.data)) as Record<string, unknown>;
  } catch (e) {
    if (c.hasPermissionError('publish', subject) || /permission/i.test(String(e))) return 'denied';
    return 'timeout';
  }
}

/** The test's view of the stream: the operator's own stream user of the namespace (it alone may list consumers). */
let jsm: JetStreamManager;
let observer: NatsConnection;

beforeAll(async () => {
  for (const ns of [NS, OTHER_NS]) await kube.ensureNamespace(ns);
  await kube.apply(room(NS, 'chat', { jetstream: { replicas: 3, maxMessages: 1000 } }));
  await kube.apply(room(NS, 'other'));
  await kube.apply(room(OTHER_NS, 'own', { jetstream: {} }));
  await join(NS, 'writer', { rooms: [{ room: 'chat', access: 'Publish' }] });
  await join(NS, 'alice', { rooms: [{ room: 'chat', access: 'Subscribe', consumers: ['history'] }] });
  await join(NS, 'bob', { rooms: [{ room: 'chat', access: 'PublishSubscribe', consumers: ['mine'] }] });
  await join(NS, 'eve', { rooms: [{ room: 'other', access: 'PublishSubscribe' }] });
  await join(OTHER_NS, 'mallory', { rooms: [{ room: 'own', access: 'PublishSubscribe' }] });
  await streamReady();
  const sysSecret = await kube.secret(NATS, 'nats-rooms-operator-system');
  const admin = streamAdminOf(Buffer.from(sysSecret!.data![SYSTEM_SEED_KEY]!, 'base64').toString('utf8'), NS);
  observer = await connect({ servers: suite.nats.urls, authenticator: nkeyAuthenticator(new TextEncoder().encode(admin.seed)), inboxPrefix: STREAM_ADMIN_INBOX });
  jsm = await observer.jetstreamManager({ checkAPI: false });
}, 120_000);

afterAll(async () => {
  await observer?.close();
});

describe('a persisted room', () => {
  it('acks the publisher on every server, and its Room reports the stream', async () => {
    const writer = principals.get('writer')!;
    for (const i of SERVERS) {
      const ack = await writer.on[i]!.nc.jetstream().publish(CHAT, enc.encode(`hello from server ${i}`));
      expect(ack.stream).toBe(STREAM);
      expect(ack.seq).toBe(i + 1);
    }
    const info = await jsm.streams.info(STREAM);
    expect(info.config.num_replicas).toBe(3);
    expect(info.config.subjects).toEqual([CHAT]);
    const status = await waitFor('streamState to count 3 messages', async () => {
      const s = await streamReady();
      return (s.streamState as { messages?: number } | undefined)?.messages === 3 ? s : undefined;
    }, 20_000);
    expect(status.streamState).toMatchObject({ messages: 3, firstSequence: 1, lastSequence: 3, consumers: 2 });
  });

  it('gives a member who joins later the history: its durable consumer and direct get, on every server', async () => {
    const carol = await join(NS, 'carol', { rooms: [{ room: 'chat', access: 'Subscribe', consumers: ['late'] }] });
    await waitFor('carol__late to exist', async () => (await jsm.consumers.info(STREAM, 'carol__late').catch(() => undefined)) ?? undefined);
    for (const i of SERVERS) {
      const js = carol.on[i]!.nc.jetstream();
      const consumer = await js.consumers.get(STREAM, 'carol__late');
      const batch = await consumer.fetch({ max_messages: 1, expires: 2000 });
      const got: string[] = [];
      for await (const m of batch) {
        got.push(dec.decode(m.data));
        m.ack();
      }
      expect(got).toEqual([`hello from server ${i}`]);
      for (const seq of [1, 2, 3]) {
        const direct = await carol.on[i]!.nc.request(`$JS.API.DIRECT.GET.${STREAM}`, enc.encode(JSON.stringify({ seq })), { timeout: 2000 });
        expect(dec.decode(direct.data)).toBe(`hello from server ${seq - 1}`);
      }
    }
    // Acks went through: the consumer has nothing pending.
    const info = await jsm.consumers.info(STREAM, 'carol__late');
    expect(info.num_ack_pending).toBe(0);
    expect(info.delivered.stream_seq).toBe(3);
  });

  it("delivers the history, in order, into a member's own inbox through its push consumer; nobody else can read or ack it", async () => {
    const frank = await join(NS, 'frank', { rooms: [{ room: 'chat', access: 'Subscribe', pushConsumers: ['feed'] }] });
    const deliver = `${frank.inbox}.frank__feed`;
    expect((await kube.member(NS, 'frank'))!.status!.rooms![0]!.pushConsumers).toEqual([{ name: 'frank__feed', deliverSubject: deliver }]);
    await waitFor('frank__feed to exist', async () => (await jsm.consumers.info(STREAM, 'frank__feed').catch(() => undefined)) ?? undefined);
    // Bob tries first: the inbox subject is frank's alone, and so are its acks.
    const bob = principals.get('bob')!;
    bob.on[1]!.subscribe(deliver);
    await bob.on[1]!.permissionError('subscription', deliver);
    bob.on[1]!.nc.publish(`$JS.ACK.${STREAM}.frank__feed.1.1.1.0.0`);
    await bob.on[1]!.permissionError('publish', `$JS.ACK.${STREAM}.frank__feed.1.1.1.0.0`);

    const opts = consumerOpts();
    opts.bind(STREAM, 'frank__feed');
    opts.manualAck();
    const sub = await frank.on[1]!.nc.jetstream().subscribe(CHAT, opts);
    const got: string[] = [];
    for await (const m of sub) {
      got.push(dec.decode(m.data));
      m.ack();
      if (got.length === 3) break;
    }
    expect(got).toEqual(['hello from server 0', 'hello from server 1', 'hello from server 2']);
    await waitFor('frank__feed acked', async () => ((await jsm.consumers.info(STREAM, 'frank__feed')).num_ack_pending === 0 ? true : undefined));
    expect((await jsm.consumers.info(STREAM, 'frank__feed')).config.deliver_subject).toBe(deliver);
  });
});

describe("a member's consumers are its own", () => {
  it('bob cannot pull from, inspect, delete or ack alice__history; alice can (control)', async () => {
    const [alice, bob] = [principals.get('alice')!, principals.get('bob')!];
    for (const i of SERVERS) {
      const b = bob.on[i]!;
      expect(await api(b, `$JS.API.CONSUMER.MSG.NEXT.${STREAM}.alice__history`, { batch: 1, expires: 500_000_000 }), 'next').toBe('denied');
      expect(await api(b, `$JS.API.CONSUMER.INFO.${STREAM}.alice__history`), 'info').toBe('denied');
      expect(await api(b, `$JS.API.CONSUMER.DELETE.${STREAM}.alice__history`), 'delete').toBe('denied');
      b.nc.publish(`$JS.ACK.${STREAM}.alice__history.1.1.1.0.0`);
      await b.permissionError('publish', `$JS.ACK.${STREAM}.alice__history.1.1.1.0.0`);
      // Control: alice reads her own consumer's info on the same server.
      const own = await api(alice.on[i]!, `$JS.API.CONSUMER.INFO.${STREAM}.alice__history`);
      expect(own).toMatchObject({ name: 'alice__history' });
    }
    expect((await jsm.consumers.info(STREAM, 'alice__history')).delivered.stream_seq).toBe(0);
  });

  it('no member creates a consumer in any form, so none can deliver the stream into another subject', async () => {
    const [bob, eve] = [principals.get('bob')!, principals.get('eve')!];
    const tap = eve.on[1]!.subscribe(OTHER);
    const push = { stream_name: STREAM, config: { deliver_subject: OTHER, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All } };
    for (const i of SERVERS) {
      const b = bob.on[i]!;
      expect(await api(b, `$JS.API.CONSUMER.CREATE.${STREAM}`, push), 'legacy ephemeral').toBe('denied');
      expect(await api(b, `$JS.API.CONSUMER.CREATE.${STREAM}.bob__relay`, { stream_name: STREAM, config: { ...push.config, name: 'bob__relay' } }), 'named').toBe('denied');
      expect(await api(b, `$JS.API.CONSUMER.CREATE.${STREAM}.bob__mine`, { stream_name: STREAM, config: { ...push.config, durable_name: 'bob__mine' } }), 'over his own').toBe('denied');
      expect(await api(b, `$JS.API.CONSUMER.DURABLE.CREATE.${STREAM}.bob__relay`, { stream_name: STREAM, config: { ...push.config, durable_name: 'bob__relay' } }), 'legacy durable').toBe('denied');
      expect(await api(b, `$JS.API.STREAM.UPDATE.${STREAM}`, { name: STREAM, subjects: [CHAT, OTHER] }), 'stream update').toBe('denied');
    }
    // Control: eve's tap works (bob cannot publish to other; eve can).
    eve.on[0]!.nc.publish(OTHER, enc.encode('control'));
    await waitFor('the control message on other', () => (tap.msgs.length > 0 ? true : undefined));
    await new Promise((r) => setTimeout(r, 500));
    expect(tap.msgs.map((m) => dec.decode(m.data))).toEqual(['control']);
    expect((await jsm.consumers.list(STREAM).next()).map((c) => c.name).sort()).toEqual(['alice__history', 'bob__mine', 'carol__late', 'frank__feed']);
  });

  it("a member of another room, and of another namespace, reads nothing of the stream by any API subject", async () => {
    const [eve, mallory, alice] = [principals.get('eve')!, principals.get('mallory')!, principals.get('alice')!];
    const reads: [string, unknown][] = [
      [`$JS.API.STREAM.INFO.${STREAM}`, {}],
      [`$JS.API.DIRECT.GET.${STREAM}`, { seq: 1 }],
      [`$JS.API.DIRECT.GET.${STREAM}.${CHAT}`, {}],
      [`$JS.API.STREAM.MSG.GET.${STREAM}`, { seq: 1 }],
      [`$JS.API.CONSUMER.MSG.NEXT.${STREAM}.alice__history`, { batch: 1 }],
      [`$JS.API.CONSUMER.INFO.${STREAM}.alice__history`, {}],
      [`$JS.API.CONSUMER.LIST.${STREAM}`, {}],
      [`$JS.API.STREAM.NAMES`, {}],
    ];
    for (const i of SERVERS) {
      for (const [subject, body] of reads) {
        expect(await api(eve.on[i]!, subject, body), `eve ${subject}`).toBe('denied');
        // Mallory's account has JetStream (her own room is persisted) but not this stream: denied too.
        expect(await api(mallory.on[i]!, subject, body), `mallory ${subject}`).toBe('denied');
      }
      expect(await api(eve.on[i]!, '$JS.API.INFO'), 'eve account info').toBe('denied');
      // Mallory's own account's info is hers to read: one stream (her room's), nothing of js-a.
      expect(await api(mallory.on[i]!, '$JS.API.INFO')).toMatchObject({ streams: 1, consumers: 0 });
      // Control: alice, a reader, gets the first message by direct get on the same server.
      const direct = await alice.on[i]!.nc.request(`$JS.API.DIRECT.GET.${STREAM}`, enc.encode(JSON.stringify({ seq: 1 })), { timeout: 2000 });
      expect(dec.decode(direct.data)).toBe('hello from server 0');
    }
  });
});

describe('leaving the room', () => {
  it("closes the stream on the member's live connection, and the operator deletes its consumer", async () => {
    const alice = principals.get('alice')!;
    const before = await api(alice.on[2]!, `$JS.API.STREAM.INFO.${STREAM}`);
    expect(before).toMatchObject({ config: { name: STREAM } });
    await kube.apply(member(NS, 'alice', { nkey: (await kube.member(NS, 'alice'))!.spec!.nkey!, rooms: [{ room: 'other', access: 'Subscribe' }] }));
    await kube.waitCondition('members', NS, 'alice', 'Ready', 'True');
    for (const i of SERVERS) {
      expect(await api(alice.on[i]!, `$JS.API.DIRECT.GET.${STREAM}`, { seq: 1 }), `direct get on ${i}`).toBe('denied');
      expect(await api(alice.on[i]!, `$JS.API.CONSUMER.MSG.NEXT.${STREAM}.alice__history`, { batch: 1 }), `next on ${i}`).toBe('denied');
      expect(alice.on[i]!.nc.isClosed()).toBe(false);
    }
    await waitFor('alice__history to be deleted', async () => ((await jsm.consumers.info(STREAM, 'alice__history').catch(() => 'gone')) === 'gone' ? true : undefined));
  });
});

describe('why members may not create consumers', () => {
  it('whoever may send CONSUMER.CREATE can deliver the stream into any subject of the account (shown with the operator\'s own stream user)', async () => {
    const eve = principals.get('eve')!;
    const tap = eve.on[2]!.subscribe(OTHER);
    await eve.on[2]!.nc.flush();
    // nats-server checks the creator's permission to publish the create request, never the deliver subject.
    await jsm.consumers.add(STREAM, { name: 'relay-demo', deliver_subject: OTHER, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
    try {
      await waitFor('the stream delivered into rooms.js-a.other', () => (tap.msgs.length >= 3 ? true : undefined));
      expect(tap.msgs.slice(0, 3).map((m) => dec.decode(m.data))).toEqual(['hello from server 0', 'hello from server 1', 'hello from server 2']);
    } finally {
      // The operator deletes consumers no Member lists, so it may be gone already.
      await jsm.consumers.delete(STREAM, 'relay-demo').catch(() => undefined);
      tap.sub.unsubscribe();
    }
  });
});

describe("the stream follows the Room's settings", () => {
  const spec = (extra: Record<string, unknown>) => room(NS, 'chat', { jetstream: { replicas: 3, maxMessages: 1000, ...extra } });
  const condition = async () => (await kube.room(NS, 'chat'))?.status?.conditions?.find((c) => c.type === 'StreamReady');

  it('updates the stream in place, and refuses (StreamReady=False) what JetStream cannot change', async () => {
    const started = performance.now();
    await kube.apply(spec({ maxMessages: 500, maxAge: '24h' }));
    await waitFor('max_msgs 500 on the stream', async () => ((await jsm.streams.info(STREAM)).config.max_msgs === 500 ? true : undefined), 20_000, 20);
    console.log(`stream update through the operator: ${Math.round(performance.now() - started)} ms from the apply to the new config in JetStream`);
    expect((await jsm.streams.info(STREAM)).config.max_age).toBe(86_400e9);

    await kube.apply(spec({ maxMessages: 500, maxAge: '24h', storage: 'Memory' }));
    const refused = await waitFor('StreamReady=False', async () => {
      const c = await condition();
      return c?.status === 'False' ? c : undefined;
    }, 20_000);
    expect(refused).toMatchObject({ reason: 'ChangeNotAllowed' });
    expect(refused.message).toContain('storage is file and cannot become memory');
    expect((await jsm.streams.info(STREAM)).state.messages).toBe(3);

    await kube.apply(spec({ maxMessages: 500, maxAge: '24h' }));
    await waitFor('StreamReady=True again', async () => ((await condition())?.status === 'True' ? true : undefined), 20_000);
  });

  it("refuses a stream whose subject another stream of the namespace captures (SubjectsOverlap), without touching that one", async () => {
    await kube.apply(room(NS, 'overlap', { subject: 'rooms.js-a.*', jetstream: {} }));
    const refused = await waitFor('StreamReady=False SubjectsOverlap', async () => {
      const c = (await kube.room(NS, 'overlap'))?.status?.conditions?.find((x) => x.type === 'StreamReady');
      return c?.status === 'False' && c.reason === 'SubjectsOverlap' ? c : undefined;
    }, 30_000);
    expect(refused.message).toContain('rooms.js-a.*');
    expect((await jsm.streams.info(STREAM)).config.subjects).toEqual([CHAT]);
    await kube.delete('rooms', NS, 'overlap');
  });

  it('creates a new persisted room\'s stream once the config is enforced', async () => {
    const started = performance.now();
    await kube.apply(room(NS, 'timed', { jetstream: { storage: 'Memory' } }));
    await kube.waitCondition('rooms', NS, 'timed', 'StreamReady', 'True', 30_000);
    console.log(`stream creation through the operator: ${Math.round(performance.now() - started)} ms from the apply to StreamReady`);
    expect((await jsm.streams.info('js-a_timed').catch(() => undefined))?.config.storage).toBe('memory');
  });

  it('keeps an R3 stream writable and readable while one server restarts', async () => {
    const writer = principals.get('writer')!;
    await suite.nats.stopServer(2);
    const ack = await writer.on[0]!.nc.jetstream().publish(CHAT, enc.encode('while nats-2 is down'), { timeout: 10_000 });
    expect(ack.seq).toBe(4);
    await suite.nats.startServer(2);
    const reader = await suite.connectEverywhere(principals.get('carol')!.seed, principals.get('carol')!.inbox);
    const msg = await waitFor('nats-2 to serve message 4', async () => {
      const r = await reader[2]!.nc.request(`$JS.API.DIRECT.GET.${STREAM}`, enc.encode(JSON.stringify({ seq: 4 })), { timeout: 2000 }).catch(() => undefined);
      return r && r.data.length > 0 ? dec.decode(r.data) : undefined;
    }, 30_000);
    expect(msg).toBe('while nats-2 is down');
    expect((await jsm.streams.info(STREAM)).cluster?.replicas?.length).toBe(2);
  });
});

describe('deleting a persisted Room', () => {
  /** The stream's message count as the Room's status reports it (the test's stream user loses a deleted Room's stream). */
  const messagesOf = async (name: string) => {
    const r = await kube.waitCondition('rooms', NS, name, 'StreamReady', 'True', 30_000);
    return ((r as { status?: { streamState?: { messages?: number } } }).status?.streamState?.messages);
  };
  const recreated = async (name: string, jetstream: Record<string, unknown>) => {
    await kube.apply(room(NS, name, { jetstream }));
    return waitFor(`${name}'s streamState`, async () => {
      const r = await kube.room(NS, name);
      const ready = r?.status?.conditions?.find((c) => c.type === 'StreamReady' && c.status === 'True' && c.observedGeneration === r.metadata.generation);
      return ready && r?.status?.streamState ? r.status.streamState.messages : undefined;
    }, 30_000);
  };
  let poster: Principal;

  beforeAll(async () => {
    poster = await join(NS, 'poster', { rooms: [{ room: 'kept', access: 'Publish' }, { room: 'scratch', access: 'Publish' }] });
  });

  const post = async (name: string) => {
    await waitFor(`poster to be granted ${name}`, async () => ((await kube.member(NS, 'poster'))?.status?.rooms?.find((r) => r.room === name)?.granted && (await kube.member(NS, 'poster'))?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined), 30_000);
    const ack = await poster.on[0]!.nc.jetstream().publish(`rooms.js-a.${name}`, enc.encode('kept?'));
    expect(ack.stream).toBe(`js-a_${name}`);
  };

  it('keeps the stream by default (deletionPolicy Retain): a Room made again finds its history', async () => {
    await kube.apply(room(NS, 'kept', { jetstream: {} }));
    const ready = await kube.waitCondition('rooms', NS, 'kept', 'StreamReady', 'True', 30_000);
    expect(JSON.stringify(ready)).toContain('it is kept when the Room is deleted (deletionPolicy Retain)');
    expect((await kube.room(NS, 'kept'))!.metadata.finalizers ?? []).toEqual([]);
    await post('kept');
    await kube.delete('rooms', NS, 'kept');
    await waitFor('the Room to go', async () => ((await kube.room(NS, 'kept')) ? undefined : true));
    expect(await recreated('kept', {})).toBe(1);
  });

  it('with deletionPolicy Delete, deletes the stream first, then lets the Room go', async () => {
    await kube.apply(room(NS, 'scratch', { jetstream: { deletionPolicy: 'Delete' } }));
    await kube.waitCondition('rooms', NS, 'scratch', 'StreamReady', 'True', 30_000);
    await waitFor('the stream finalizer on the Room', async () => ((await kube.room(NS, 'scratch'))?.metadata.finalizers?.includes('natsrooms.io/stream') ? true : undefined));
    await post('scratch');
    expect(await messagesOf('scratch')).toBeGreaterThanOrEqual(0);
    const started = performance.now();
    await kube.delete('rooms', NS, 'scratch');
    await waitFor('the Room to go', async () => ((await kube.room(NS, 'scratch')) ? undefined : true), 30_000);
    console.log(`Room with deletionPolicy Delete gone ${Math.round(performance.now() - started)} ms after the delete`);
    // Made again, it gets a new, empty stream: the old one and its message were deleted.
    expect(await recreated('scratch', {})).toBe(0);
  });

  it("a Room being deleted that names another Room's stream deletes nothing of it", async () => {
    await kube.apply(room(NS, 'sly', { jetstream: { deletionPolicy: 'Delete' } }));
    await waitFor('the stream finalizer on sly', async () => ((await kube.room(NS, 'sly'))?.metadata.finalizers?.includes('natsrooms.io/stream') ? true : undefined), 30_000);
    // Hold sly with a finalizer of the test's own, so it can be edited while it is being deleted.
    const roomPath = `/apis/natsrooms.io/v1alpha1/namespaces/${NS}/rooms/sly`;
    await kube.client.request('PATCH', roomPath, { contentType: 'application/json-patch+json', body: [{ op: 'add', path: '/metadata/finalizers/-', value: 'test.natsrooms.io/hold' }] });
    await kube.delete('rooms', NS, 'sly');
    await kube.apply(room(NS, 'sly', { jetstream: { deletionPolicy: 'Delete', stream: STREAM } }));
    await waitFor('the operator to let sly go (its finalizer removed)', async () => ((await kube.room(NS, 'sly'))?.metadata.finalizers?.includes('natsrooms.io/stream') ? undefined : true), 30_000);
    expect((await jsm.streams.info(STREAM)).state.messages).toBeGreaterThan(0);
    const held = (await kube.room(NS, 'sly'))!.metadata.finalizers!;
    await kube.client.request('PATCH', roomPath, { contentType: 'application/json-patch+json', body: [{ op: 'remove', path: `/metadata/finalizers/${held.indexOf('test.natsrooms.io/hold')}` }] });
  });
});
