// Arbitrary worlds of Rooms and Members, valid and hostile, for the property tests: names, subjects and
// values that try to inject config, rooms shared across namespaces, persisted rooms, sharded layouts.
import fc from 'fast-check';
import { ACCESS_MODES, type AccessMode, type Member, type Room } from '../../src/api/types.js';
import { newUserKey } from './objects.js';

const NAMESPACES = ['a', 'b', 'team-c'];
const KEYS = Array.from({ length: 40 }, () => newUserKey().publicKey);

const hostile = fc.constantFrom(
  'a"b', 'a\nb', 'x}', '}]}', 'rooms.a.x"] }, {nkey: "U', '$VAR', '${x}', 'a b', "include './x'", '', '.', 'a..b',
  'rooms.a.>.x', '\u0000', 'rooms.a.\u00e9', '#comment', '// c', 'rooms.a.*x', '>', '*',
);
const token = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,6}$/);
const subjectUnder = (root: string) =>
  fc.tuple(fc.array(fc.oneof(token, fc.constant('*')), { maxLength: 3 }), fc.boolean()).map(([ts, tail]) =>
    [root, ...ts, ...(tail ? ['>'] : [])].join('.'),
  );
const anySubject = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...NAMESPACES).chain((ns) => subjectUnder(`rooms.${ns}`)) },
  { weight: 3, arbitrary: subjectUnder('elsewhere') },
  { weight: 1, arbitrary: hostile },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);
const roomName = fc.constantFrom('r1', 'r2', 'r3', 'r1', 'r2', 'r3', 'x.y', 'Bad_Name');

export const roomArb: fc.Arbitrary<Room> = fc.record({
  ns: fc.constantFrom(...NAMESPACES),
  name: roomName,
  subject: fc.option(anySubject, { nil: undefined, freq: 2 }),
  // Mostly rooms that allow other namespaces, so that worlds are wired across accounts.
  allowed: fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: fc.subarray(NAMESPACES) }),
  jetstream: fc.oneof(
    { weight: 5, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: fc.constant(null) },
    { weight: 2, arbitrary: fc.constantFrom('a_s', 'b_s', 'team-c_s', 'x') },
    { weight: 1, arbitrary: hostile },
  ),
  // Stream settings, some out of range (replicas 0 or 9, a malformed duration): those rooms are refused.
  settings: fc.option(
    fc.record({ replicas: fc.constantFrom(1, 3, 1, 3, 0, 9), maxAge: fc.constantFrom('24h', '1h30m', '24h', '5 days'), storage: fc.constantFrom('File', 'Memory') }, { requiredKeys: [] }),
    { nil: undefined, freq: 2 },
  ),
}).map(({ ns, name, subject, allowed, jetstream, settings }) => ({
  metadata: { namespace: ns, name },
  spec: {
    ...(subject !== undefined && { subject }),
    ...(allowed !== undefined && { allowedNamespaces: allowed }),
    ...(jetstream !== undefined && { jetstream: { ...(jetstream !== null && { stream: jetstream }), ...settings } as never }),
  },
}));

export const memberArb: fc.Arbitrary<Member> = fc.record({
  ns: fc.constantFrom(...NAMESPACES),
  name: fc.constantFrom('m1', 'm2', 'm3', 'm.4', 'm5'),
  nkey: fc.oneof({ weight: 16, arbitrary: fc.constantFrom(...KEYS) }, { weight: 1, arbitrary: hostile }, { weight: 1, arbitrary: fc.constant('U' + 'A'.repeat(55)) }),
  created: fc.integer({ min: 0, max: 5 }),
  rooms: fc.uniqueArray(
    fc.record(
      {
        room: fc.constantFrom('r1', 'r2', 'r3', 'x.y', 'r1', 'r2', 'r3', 'x.y', 'Bad_Name'),
        namespace: fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.constantFrom(...NAMESPACES) }),
        access: fc.constantFrom(...ACCESS_MODES),
        consumers: fc.oneof({ weight: 8, arbitrary: fc.subarray(['h', 'w'], { minLength: 1 }) }, { weight: 1, arbitrary: fc.constant<string[]>(['Bad_c']) }),
      },
      { requiredKeys: ['room', 'namespace', 'access'] },
    ).map((r) => (r.consumers && (r.access === 'Subscribe' || r.access === 'PublishSubscribe' || r.room === 'x.y') ? r : { ...r, consumers: undefined })),
    { maxLength: 4, selector: (r) => `${r.namespace ?? ''}/${r.room}/${r.access === 'Publish' ? 'dup' : r.access}` },
  ),
  inbox: fc.oneof(
    { weight: 8, arbitrary: fc.constant(undefined) },
    { weight: 2, arbitrary: fc.constantFrom('_INBOX_a_x', '_INBOX_b_m1', '_INBOX_a_m1', '_INBOX') },
    { weight: 1, arbitrary: hostile },
  ),
  denyPub: fc.array(anySubject, { maxLength: 1 }),
  denySub: fc.array(anySubject, { maxLength: 1 }),
}).map((m) => ({
  metadata: { namespace: m.ns, name: m.name, creationTimestamp: new Date(1_700_000_000_000 + m.created * 1000).toISOString() },
  spec: {
    nkey: m.nkey,
    rooms: m.rooms.map((r) => (r.namespace === undefined ? { room: r.room, access: r.access, ...(r.consumers && { consumers: r.consumers }) } : r)),
    ...(m.inbox !== undefined && { inboxPrefix: m.inbox }),
    ...((m.denyPub.length > 0 || m.denySub.length > 0) && { deny: { publish: m.denyPub, subscribe: m.denySub } }),
  },
}));

/** Objects as the API server would hold them: unique by namespace/name. */
const uniqueByKey = <T extends Room | Member>(items: T[]) =>
  [...new Map(items.map((i) => [`${i.metadata.namespace}/${i.metadata.name}`, i])).values()];
/** Rooms `fed` that every namespace may join, and members joining them across namespaces in any mode. */
const federatedArb = fc.record({
  homes: fc.subarray(NAMESPACES, { minLength: 1 }),
  guestAccess: fc.constantFrom(undefined, 'Subscribe', 'Request'),
  members: fc.array(
    fc.record({ ns: fc.constantFrom(...NAMESPACES), nkey: fc.constantFrom(...KEYS), home: fc.constantFrom(...NAMESPACES), access: fc.constantFrom(...ACCESS_MODES) }),
    { maxLength: 5 },
  ),
}).map(({ homes, guestAccess, members }) => ({
  rooms: homes.map((ns): Room => ({ metadata: { namespace: ns, name: 'fed' }, spec: { allowedNamespaces: NAMESPACES, ...(guestAccess && { guestAccess }) } })),
  members: members.map((m, i): Member => ({ metadata: { namespace: m.ns, name: `f${i}` }, spec: { nkey: m.nkey, rooms: [{ room: 'fed', namespace: m.home, access: m.access }] } })),
}));

/** A persisted room `log` and members of its namespace reading it through consumers of their own (or publishing). */
const persistedArb = fc.record({
  ns: fc.constantFrom(...NAMESPACES),
  members: fc.array(
    fc.record({ nkey: fc.constantFrom(...KEYS), access: fc.constantFrom('Subscribe', 'PublishSubscribe', 'Publish'), consumers: fc.subarray(['h', 'w']), push: fc.boolean() }),
    { maxLength: 4 },
  ),
}).map(({ ns, members }) => ({
  rooms: [{ metadata: { namespace: ns, name: 'log' }, spec: { jetstream: {} } } as Room],
  members: members.map(
    (m, i): Member => ({
      metadata: { namespace: ns, name: `p${i}` },
      spec: {
        nkey: m.nkey,
        rooms: [{ room: 'log', access: m.access as AccessMode, ...(m.access !== 'Publish' && m.consumers.length > 0 && { [m.push ? 'pushConsumers' : 'consumers']: m.consumers }) }],
      },
    }),
  ),
}));

export const worldArb = fc.record({
  rooms: fc.array(roomArb, { maxLength: 6 }).map(uniqueByKey),
  members: fc.array(memberArb, { maxLength: 8 }).map(uniqueByKey),
  federated: fc.option(federatedArb, { freq: 2, nil: undefined }),
  persisted: fc.option(persistedArb, { freq: 2, nil: undefined }),
  withSystemUser: fc.boolean(),
  // Small limits force the sharded layout (a main file including users-N.conf files).
  maxFileBytes: fc.constantFrom(undefined, undefined, 700, 2500),
  shardCount: fc.constantFrom(undefined, 1, 3),
}).map(({ federated, persisted, ...world }) => ({
  ...world,
  rooms: [...world.rooms, ...(federated?.rooms ?? []), ...(persisted?.rooms ?? [])],
  members: [...world.members, ...(federated?.members ?? []), ...(persisted?.members ?? [])],
}));
