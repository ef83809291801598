import { describe, expect, it } from 'vitest';
import { compile } from '../../src/auth/compile.js';
import { DEFAULT_JETSTREAM_LIMITS, type CompileOptions, type Permissions } from '../../src/auth/model.js';
import { render } from '../../src/auth/render.js';
import type { AccessMode, Member, Room } from '../../src/api/types.js';
import { member, newUserKey, room, shuffle } from '../support/objects.js';

const K1 = newUserKey().publicKey;
const K2 = newUserKey().publicKey;
const K3 = newUserKey().publicKey;

function permissionsOf(rooms: Room[], members: Member[], key: string, options?: CompileOptions): Permissions | undefined {
  return compile(rooms, members, options).members.get(key)?.permissions;
}

describe('access modes', () => {
  const cases: [AccessMode, Partial<Permissions>][] = [
    ['Publish', { publish: { allow: ['rooms.t.r'], deny: [] }, subscribe: { allow: ['_INBOX_t_m.>'], deny: [] }, allowResponses: false }],
    ['Subscribe', { publish: { allow: [], deny: [] }, subscribe: { allow: ['_INBOX_t_m.>', 'rooms.t.r'], deny: [] }, allowResponses: false }],
    ['PublishSubscribe', { publish: { allow: ['rooms.t.r'], deny: [] }, subscribe: { allow: ['_INBOX_t_m.>', 'rooms.t.r'], deny: [] }, allowResponses: false }],
    ['Request', { publish: { allow: ['rooms.t.r'], deny: [] }, subscribe: { allow: ['_INBOX_t_m.>'], deny: [] }, allowResponses: false }],
    ['Respond', { publish: { allow: [], deny: [] }, subscribe: { allow: ['_INBOX_t_m.>', 'rooms.t.r'], deny: [] }, allowResponses: true }],
  ];
  it.each(cases)('%s grants exactly its subjects plus the private inbox', (access, expected) => {
    const perms = permissionsOf([room('t', 'r')], [member('t', 'm', { nkey: K1, rooms: [{ room: 'r', access }] })], 't/m');
    expect(perms).toEqual(expected);
  });

  it('never grants the shared _INBOX.> space', () => {
    const modes: AccessMode[] = ['Publish', 'Subscribe', 'PublishSubscribe', 'Request', 'Respond'];
    const rooms = modes.map((m) => room('t', m.toLowerCase()));
    const perms = permissionsOf(rooms, [member('t', 'm', { nkey: K1, rooms: modes.map((access) => ({ room: access.toLowerCase(), access })) })], 't/m')!;
    expect([...perms.publish.allow, ...perms.subscribe.allow].filter((s) => s.startsWith('_INBOX.') || s === '>')).toEqual([]);
  });
});

describe('room subjects and confinement', () => {
  const cases: [string, Room, CompileOptions, { accepted: boolean; reason: string; subject?: string }][] = [
    ['default subject', room('team-a', 'support'), {}, { accepted: true, reason: 'Accepted', subject: 'rooms.team-a.support' }],
    ['dotted name keeps its tokens', room('team-a', 'support.v2'), {}, { accepted: true, reason: 'Accepted', subject: 'rooms.team-a.support.v2' }],
    ['explicit subject under the root', room('team-a', 's', { subject: 'rooms.team-a.x.*' }), {}, { accepted: true, reason: 'Accepted', subject: 'rooms.team-a.x.*' }],
    ['the root itself', room('team-a', 's', { subject: 'rooms.team-a' }), {}, { accepted: true, reason: 'Accepted', subject: 'rooms.team-a' }],
    ['another namespace root', room('team-a', 's', { subject: 'rooms.team-b.x' }), {}, { accepted: false, reason: 'SubjectOutsideRoot' }],
    ['a root prefix that is not a token boundary', room('team-a', 's', { subject: 'rooms.team-ab.x' }), {}, { accepted: false, reason: 'SubjectOutsideRoot' }],
    ['a wildcard over namespaces', room('team-a', 's', { subject: 'rooms.*.x' }), {}, { accepted: false, reason: 'SubjectOutsideRoot' }],
    ['full wildcard', room('team-a', 's', { subject: '>' }), {}, { accepted: false, reason: 'SubjectOutsideRoot' }],
    ['outside any root', room('team-a', 's', { subject: 'services.greet' }), {}, { accepted: false, reason: 'SubjectOutsideRoot' }],
    ['widened by the admin', room('team-a', 's', { subject: 'services.greet' }), { extraSubjectRoots: { 'team-a': ['services'] } }, { accepted: true, reason: 'Accepted', subject: 'services.greet' }],
    ['widening is per namespace', room('team-b', 's', { subject: 'services.greet' }), { extraSubjectRoots: { 'team-a': ['services'] } }, { accepted: false, reason: 'SubjectOutsideRoot' }],
    ['invalid subject', room('team-a', 's', { subject: 'rooms.team-a..x' }), {}, { accepted: false, reason: 'InvalidSpec' }],
    ['inbox space', room('team-a', 's', { subject: '_INBOX_team-a_x' }), {}, { accepted: false, reason: 'InvalidSpec' }],
    ['system subjects', room('team-a', 's', { subject: '$SYS.REQ.x' }), {}, { accepted: false, reason: 'InvalidSpec' }],
    ['config injection attempt', room('team-a', 's', { subject: 'rooms.team-a.x"]}, {nkey: "U' }), {}, { accepted: false, reason: 'InvalidSpec' }],
    ['bad namespace name', room('Team_A', 's'), {}, { accepted: false, reason: 'InvalidName' }],
    ['jetstream default stream', room('team-a', 'orders', { jetstream: {} }), {}, { accepted: true, reason: 'Accepted', subject: 'rooms.team-a.orders' }],
    ['jetstream stream of another namespace', room('team-a', 'orders', { jetstream: { stream: 'team-b_orders' } }), {}, { accepted: false, reason: 'StreamOutsideNamespace' }],
  ];
  it.each(cases)('%s', (_name, r, options, expected) => {
    const result = compile([r], [], options).rooms.get(`${r.metadata.namespace}/${r.metadata.name}`)!;
    expect({ accepted: result.accepted, reason: result.reason }).toEqual({ accepted: expected.accepted, reason: expected.reason });
    if (expected.subject) expect(result.subject).toBe(expected.subject);
    expect(result.message.length).toBeGreaterThan(10);
  });
});

describe('room references', () => {
  const shared = room('owner', 'shared', { allowedNamespaces: ['guests'] });
  const broken = room('owner', 'broken', { subject: 'elsewhere.x' });
  const cases: [string, Member, { granted: boolean; reason: string }][] = [
    ['own namespace', member('owner', 'm', { nkey: K1, rooms: [{ room: 'shared', access: 'Subscribe' }] }), { granted: true, reason: 'Granted' }],
    ['allowed other namespace', member('guests', 'm', { nkey: K1, rooms: [{ room: 'shared', namespace: 'owner', access: 'Subscribe' }] }), { granted: true, reason: 'Granted' }],
    ['other namespace not allowed', member('strangers', 'm', { nkey: K1, rooms: [{ room: 'shared', namespace: 'owner', access: 'Subscribe' }] }), { granted: false, reason: 'RoomNotAllowed' }],
    ['same name, wrong namespace', member('guests', 'm', { nkey: K1, rooms: [{ room: 'shared', access: 'Subscribe' }] }), { granted: false, reason: 'RoomNotFound' }],
    ['missing room', member('owner', 'm', { nkey: K1, rooms: [{ room: 'nope', access: 'Subscribe' }] }), { granted: false, reason: 'RoomNotFound' }],
    ['rejected room', member('owner', 'm', { nkey: K1, rooms: [{ room: 'broken', access: 'Subscribe' }] }), { granted: false, reason: 'RoomRejected' }],
  ];
  it.each(cases)('%s', (_name, m, expected) => {
    const result = compile([shared, broken], [m]).members.get(`${m.metadata.namespace}/${m.metadata.name}`)!;
    expect(result.accepted).toBe(true);
    expect(result.rooms[0]).toMatchObject(expected);
    expect(result.reason).toBe(expected.granted ? 'Accepted' : 'SomeRoomsUnresolved');
    const subscribed = result.permissions!.subscribe.allow.includes('rooms.owner.shared');
    expect(subscribed).toBe(expected.granted);
    if (!expected.granted) expect(result.message).toContain('not granted');
  });

  it('counts the accepted members of each room', () => {
    const members = [
      member('owner', 'a', { nkey: K1, rooms: [{ room: 'shared', access: 'Subscribe' }] }),
      member('guests', 'b', { nkey: K2, rooms: [{ room: 'shared', namespace: 'owner', access: 'Subscribe' }] }),
      member('strangers', 'c', { nkey: K3, rooms: [{ room: 'shared', namespace: 'owner', access: 'Publish' }] }),
    ];
    expect(compile([shared], members).rooms.get('owner/shared')!.memberCount).toBe(2);
  });
});

describe('member verdicts', () => {
  const r = room('t', 'r');
  it('rejects a key with a bad checksum', () => {
    const bad = K1.slice(0, -1) + (K1.endsWith('A') ? 'B' : 'A');
    const result = compile([r], [member('t', 'm', { nkey: bad })]).members.get('t/m')!;
    expect(result).toMatchObject({ accepted: false, reason: 'InvalidNkey' });
  });

  it('rejects a key of the wrong shape at the schema level', () => {
    const result = compile([r], [member('t', 'm', { nkey: 'SUAXYZ' })]).members.get('t/m')!;
    expect(result).toMatchObject({ accepted: false, reason: 'InvalidSpec' });
    expect(result.message).toContain('spec.nkey');
  });

  it('waits for a generated key when spec.nkey is absent', () => {
    expect(compile([r], [member('t', 'm')]).members.get('t/m')).toMatchObject({ accepted: false, reason: 'KeyPending' });
    const generated = compile([r], [member('t', 'm')], { generatedKeys: new Map([['t/m', K1]]) }).members.get('t/m')!;
    expect(generated).toMatchObject({ accepted: true, publicKey: K1, keySource: 'generated' });
  });

  it('gives a duplicate nkey to the older member only', () => {
    const older = member('t', 'zed', { nkey: K1 });
    const newer = member('t', 'abe', { nkey: K1 });
    const result = compile([r], [newer, older]);
    expect(result.members.get('t/zed')).toMatchObject({ accepted: true });
    expect(result.members.get('t/abe')).toMatchObject({ accepted: false, reason: 'DuplicateNkey' });
    expect(result.members.get('t/abe')!.message).toContain('t/zed');
    expect(result.model.users.map((u) => u.member)).toEqual(['t/zed']);
  });

  it('breaks an age tie by namespace and name', () => {
    const a = member('t', 'a', { nkey: K1 });
    const b = { ...member('t', 'b', { nkey: K1 }), metadata: { ...a.metadata, name: 'b' } };
    expect(compile([], [b, a]).members.get('t/a')!.accepted).toBe(true);
    expect(compile([], [a, b]).members.get('t/b')!.reason).toBe('DuplicateNkey');
  });

  it('refuses reserved keys', () => {
    const result = compile([], [member('t', 'm', { nkey: K1 })], { reservedKeys: [K1] });
    expect(result.members.get('t/m')).toMatchObject({ accepted: false, reason: 'ReservedKey' });
  });

  it('derives a one-token inbox prefix, dots in the name becoming underscores', () => {
    const result = compile([], [member('ns', 'svc.v2', { nkey: K1 })]).members.get('ns/svc.v2')!;
    expect(result.inboxPrefix).toBe('_INBOX_ns_svc_v2');
    expect(result.permissions!.subscribe.allow).toEqual(['_INBOX_ns_svc_v2.>']);
  });

  it('accepts an inbox override inside the namespace and refuses one outside it', () => {
    const ok = compile([], [member('ns', 'm', { nkey: K1, inboxPrefix: '_INBOX_ns_custom' })]).members.get('ns/m')!;
    expect(ok).toMatchObject({ accepted: true, inboxPrefix: '_INBOX_ns_custom' });
    for (const inboxPrefix of ['_INBOX_other_m', '_INBOX_ns_', '_INBOX_nsx_m']) {
      const bad = compile([], [member('ns', 'm', { nkey: K1, inboxPrefix })]).members.get('ns/m')!;
      expect(bad).toMatchObject({ accepted: false, reason: 'InboxPrefixOutsideNamespace' });
    }
    const shared = compile([], [member('ns', 'm', { nkey: K1, inboxPrefix: '_INBOX' })]).members.get('ns/m')!;
    expect(shared).toMatchObject({ accepted: false, reason: 'InvalidSpec' });
  });

  it('gives a contested inbox prefix to the older member', () => {
    const older = member('ns', 'joe', { nkey: K1 });
    const newer = member('ns', 'evil', { nkey: K2, inboxPrefix: '_INBOX_ns_joe' });
    const result = compile([], [newer, older]);
    expect(result.members.get('ns/joe')!.accepted).toBe(true);
    expect(result.members.get('ns/evil')).toMatchObject({ accepted: false, reason: 'InboxPrefixConflict' });
  });

  it('applies deny lists', () => {
    const perms = permissionsOf([r], [member('t', 'm', { nkey: K1, rooms: [{ room: 'r', access: 'PublishSubscribe' }], deny: { publish: ['rooms.t.r'], subscribe: ['x.>'] } })], 't/m')!;
    expect(perms.publish).toEqual({ allow: ['rooms.t.r'], deny: ['rooms.t.r'] });
    expect(perms.subscribe.deny).toEqual(['x.>']);
  });

  it('grants the union when a room is listed more than once, and counts the member once', () => {
    const m = member('t', 'm', { nkey: K1, rooms: [{ room: 'r', access: 'Publish' }, { room: 'r', namespace: 't', access: 'Publish' }, { room: 'r', access: 'Subscribe' }] });
    const compiled = compile([r], [m]);
    expect(compiled.members.get('t/m')!.permissions).toMatchObject({ publish: { allow: ['rooms.t.r'] }, subscribe: { allow: ['_INBOX_t_m.>', 'rooms.t.r'] } });
    expect(compiled.rooms.get('t/r')!.memberCount).toBe(1);
  });

  it('adds the admin default permissions to every member', () => {
    const perms = permissionsOf([], [member('t', 'm', { nkey: K1 })], 't/m', { defaultPermissions: { publish: ['public.>'], subscribe: ['news'] } })!;
    expect(perms.publish.allow).toEqual(['public.>']);
    expect(perms.subscribe.allow).toEqual(['_INBOX_t_m.>', 'news']);
  });

  it("grants a reader the stream's history and its own consumers, never consumer or stream management", () => {
    const orders = room('shop', 'orders', { jetstream: {} });
    const perms = permissionsOf([orders], [member('shop', 'm.x', { nkey: K1, rooms: [{ room: 'orders', access: 'Subscribe', consumers: ['work'] }] })], 'shop/m.x')!;
    expect(perms.publish.allow).toEqual([
      '$JS.ACK.shop_orders.m_x__work.>',
      '$JS.API.CONSUMER.INFO.shop_orders.m_x__work',
      '$JS.API.CONSUMER.MSG.NEXT.shop_orders.m_x__work',
      '$JS.API.DIRECT.GET.shop_orders',
      '$JS.API.DIRECT.GET.shop_orders.>',
      '$JS.API.INFO',
      '$JS.API.STREAM.INFO.shop_orders',
      '$JS.API.STREAM.MSG.GET.shop_orders',
    ]);
    const producer = permissionsOf([orders], [member('shop', 'p', { nkey: K2, rooms: [{ room: 'orders', access: 'Publish' }] })], 'shop/p')!;
    expect(producer.publish.allow).toEqual(['$JS.API.INFO', '$JS.API.STREAM.INFO.shop_orders', 'rooms.shop.orders']);
    // A push consumer delivers into the member's own inbox: info, acks and flow control, no pull.
    const pushed = compile([orders], [member('shop', 'r', { nkey: K3, inboxPrefix: '_INBOX_shop_mine', rooms: [{ room: 'orders', access: 'Subscribe', pushConsumers: ['feed'] }] })]).members.get('shop/r')!;
    expect(pushed.rooms[0]!.pushConsumers).toEqual([{ name: 'r__feed', deliverSubject: '_INBOX_shop_mine.r__feed' }]);
    expect(pushed.permissions!.publish.allow.filter((s) => s.includes('r__feed'))).toEqual([
      '$JS.ACK.shop_orders.r__feed.>',
      '$JS.API.CONSUMER.INFO.shop_orders.r__feed',
      '$JS.FC.shop_orders.r__feed.>',
    ]);
    expect(pushed.permissions!.subscribe.allow).toEqual(['_INBOX_shop_mine.>', 'rooms.shop.orders']);
    // Request and Respond use the subject only: a stream's acks would answer requests.
    const requester = permissionsOf([orders], [member('shop', 'q', { nkey: K2, rooms: [{ room: 'orders', access: 'Request' }] })], 'shop/q')!;
    expect(requester.publish.allow).toEqual(['rooms.shop.orders']);
  });

  it('refuses consumers where no stream of the namespace can hold them', () => {
    const rooms = [room('shop', 'plain'), room('shop', 'orders', { jetstream: {}, allowedNamespaces: ['guest'] })];
    const compiled = compile(rooms, [
      member('shop', 'a', { nkey: K1, rooms: [{ room: 'plain', access: 'Subscribe', consumers: ['x'] }] }),
      member('guest', 'b', { nkey: K2, rooms: [{ room: 'orders', namespace: 'shop', access: 'Subscribe', consumers: ['x'] }] }),
      member('shop', 'c', { nkey: K3, rooms: [{ room: 'orders', access: 'Publish', consumers: ['x'] }] }),
    ]);
    for (const key of ['shop/a', 'guest/b']) {
      expect(compiled.members.get(key)).toMatchObject({ accepted: true, reason: 'SomeRoomsUnresolved', rooms: [{ granted: false, reason: 'ConsumersNotOffered' }] });
    }
    expect(compiled.members.get('shop/c')).toMatchObject({ accepted: false, reason: 'InvalidSpec' });
    expect(compiled.members.get('shop/c')!.message).toContain('consumers read the stream');
  });

  it('enables JetStream only in accounts with an accepted persisted room, with the operator as its only manager', () => {
    const compiled = compile(
      [room('shop', 'orders', { jetstream: {} }), room('shop', 'copy', { jetstream: { stream: 'shop_orders' } }), room('blog', 'posts')],
      [member('shop', 'm', { nkey: K1, rooms: [{ room: 'orders', access: 'Subscribe' }] }), member('blog', 'n', { nkey: K2, rooms: [{ room: 'posts', access: 'Subscribe' }] })],
      { streamAdminKey: () => K3, jetstreamLimits: { perNamespace: { shop: { maxStreams: 5 } } } },
    );
    expect(compiled.rooms.get('shop/copy')).toMatchObject({ accepted: false, reason: 'StreamConflict' });
    const byName = new Map(compiled.model.accounts.map((a) => [a.namespace, a]));
    expect(byName.get('shop')!.jetstream).toEqual({ limits: { ...DEFAULT_JETSTREAM_LIMITS, maxStreams: 5 }, streams: ['shop_orders'], adminKey: K3 });
    expect(byName.get('blog')!.jetstream).toBeUndefined();
    // The stream user's key is reserved: a Member claiming it is refused.
    const claimed = compile([room('shop', 'orders', { jetstream: {} })], [member('shop', 'm', { nkey: K3 })], { streamAdminKey: () => K3 });
    expect(claimed.members.get('shop/m')).toMatchObject({ accepted: false, reason: 'ReservedKey' });
  });
});

describe('isolation and determinism', () => {
  const rooms = [room('a', 'r1'), room('a', 'r2', { allowedNamespaces: ['b'] }), room('b', 'r3')];
  const good = [
    member('a', 'one', { nkey: K1, rooms: [{ room: 'r1', access: 'PublishSubscribe' }, { room: 'r2', access: 'Respond' }] }),
    member('b', 'two', { nkey: K2, rooms: [{ room: 'r2', namespace: 'a', access: 'Request' }, { room: 'r3', access: 'Subscribe' }] }),
  ];
  const bad = [
    member('a', 'dup', { nkey: K1, rooms: [{ room: 'r1', access: 'Publish' }] }),
    member('b', 'bad-key', { nkey: 'U' + 'A'.repeat(55) }),
    member('b', 'bad-inbox', { nkey: K3, inboxPrefix: '_INBOX_a_one' }),
    member('b', 'bad-room', { nkey: K3, rooms: [{ room: 'r1', namespace: 'a', access: 'PublishSubscribe' }] }),
  ];

  it('a rejected or partly resolved member changes no one else', () => {
    const alone = compile(rooms, good);
    const withBad = compile(rooms, [...good, ...bad]);
    for (const key of ['a/one', 'b/two']) expect(withBad.members.get(key)).toEqual(alone.members.get(key));
    const others = withBad.model.users.filter((u) => u.member !== 'b/bad-room');
    expect(others).toEqual(alone.model.users);
  });

  it('renders byte-identical config for the same objects in any order', () => {
    const reference = render(compile(rooms, [...good, ...bad]).model);
    for (let seed = 1; seed <= 20; seed++) {
      const again = render(compile(shuffle(rooms, seed), shuffle([...good, ...bad], seed * 7)).model);
      expect(again.text).toBe(reference.text);
      expect(again.hash).toBe(reference.hash);
    }
  });

  it('does not mutate its inputs', () => {
    const input = [...good, ...bad];
    const before = JSON.stringify([rooms, input]);
    compile(rooms, input);
    expect(JSON.stringify([rooms, input])).toBe(before);
  });

  it('refuses invalid operator options', () => {
    expect(() => compile([], [], { extraSubjectRoots: { a: ['rooms.*'] } })).toThrow(/extraSubjectRoots/);
    // Reserved spaces: every namespace's rooms.<ns>, the operator's natsrooms., NATS's _INBOX and $.
    for (const root of ['rooms', 'rooms.b', 'natsrooms.x', '_INBOX_a_x', '_INBOX', '$SYS', '$JS.API']) {
      expect(() => compile([], [], { extraSubjectRoots: { a: [root] } }), root).toThrow(/extraSubjectRoots\[a\]/);
    }
    // Two namespaces never share subjects: a root may not lie within, or contain, another's.
    expect(() => compile([], [], { extraSubjectRoots: { a: ['orders'], b: ['orders.eu'] } })).toThrow(/overlaps root orders of namespace a/);
    expect(() => compile([], [], { extraSubjectRoots: { a: ['orders.eu'], b: ['orders'] } })).toThrow(/overlaps/);
    expect(() => compile([], [], { extraSubjectRoots: { a: ['orders', 'orders.eu'], b: ['ordersx'] } })).not.toThrow();
    expect(() => compile([], [], { account: 'A B' })).toThrow(/account/);
    expect(() => compile([], [], { defaultPermissions: { publish: ['a b'] } })).toThrow(/defaultPermissions/);
  });
});
