// An account per namespace: which members live where, and how rooms that allow other namespaces
// become exports and imports (the live meaning is proven in test/security).
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/auth/compile.js';
import { LOCKED_USER_KEY } from '../../src/auth/keys.js';
import type { AccessMode } from '../../src/api/types.js';
import { member, newUserKey, room } from '../support/objects.js';

const key = () => newUserKey().publicKey;
const shared = () => room('home', 'shared', { allowedNamespaces: ['g1', 'g2'] });
const guest = (ns: string, name: string, access: AccessMode, r = 'shared') => member(ns, name, { nkey: key(), rooms: [{ room: r, namespace: 'home', access }] });
const accountsOf = (...args: Parameters<typeof compile>) => Object.fromEntries(compile(...args).model.accounts.map((a) => [a.name, a]));

describe('an account per namespace', () => {
  const service = () => room('home', 'svc', { allowedNamespaces: ['g1', 'g2'], guestAccess: 'Request' });
  const homeMember = (name: string, access: AccessMode, r = 'shared') => member('home', name, { nkey: key(), rooms: [{ room: r, access }] });

  it('puts each member in the account of its namespace, and nothing is wired without a guest', () => {
    const { model } = compile([room('a', 'r'), room('b', 'r')], [member('a', 'm', { nkey: key(), rooms: [{ room: 'r', access: 'Publish' }] }), member('b', 'm', { nkey: key() })]);
    expect(model.users.map((u) => [u.member, u.account]).sort()).toEqual([['a/m', 'ROOMS_a'], ['b/m', 'ROOMS_b']]);
    expect(model.accounts.map((a) => [a.name, a.exports.length + a.imports.length])).toEqual([['ROOMS_a', 0], ['ROOMS_b', 0]]);
  });

  it('names accounts after the configured prefix', () => {
    expect(compile([], [member('a', 'm', { nkey: key() })], { account: 'CHAT' }).model.accounts.map((a) => a.name)).toEqual(['CHAT_a']);
  });

  it('a room offering Subscribe (the default) is a stream export to the namespaces of its guest subscribers', () => {
    const a = accountsOf([shared()], [homeMember('p', 'Publish'), guest('g1', 's', 'Subscribe'), guest('g2', 's', 'Subscribe')]);
    expect(a.ROOMS_home!.exports).toEqual([{ kind: 'stream', subject: 'rooms.home.shared', accounts: ['ROOMS_g1', 'ROOMS_g2'] }]);
    expect(a.ROOMS_g1!.imports).toEqual([{ kind: 'stream', account: 'ROOMS_home', subject: 'rooms.home.shared' }]);
    expect(a.ROOMS_g1!.exports).toEqual([]);
  });

  it('a room offering Request is a service export to the namespaces of its guest requesters; its responders answer with allow_responses', () => {
    const result = compile([service()], [homeMember('greeter', 'Respond', 'svc'), homeMember('pam', 'Request', 'svc'), guest('g1', 'joe', 'Request', 'svc')]);
    const a = Object.fromEntries(result.model.accounts.map((x) => [x.name, x]));
    expect(a.ROOMS_home!.exports).toEqual([{ kind: 'service', subject: 'rooms.home.svc', accounts: ['ROOMS_g1'] }]);
    expect(a.ROOMS_g1!.imports).toEqual([{ kind: 'service', account: 'ROOMS_home', subject: 'rooms.home.svc' }]);
    expect(result.members.get('home/greeter')!.permissions).toMatchObject({ publish: { allow: [] }, allowResponses: true });
    expect(result.members.get('g1/joe')!.permissions!.publish.allow).toEqual(['rooms.home.svc']);
  });

  it.each([
    ['Subscribe', 'Publish'],
    ['Subscribe', 'PublishSubscribe'],
    ['Subscribe', 'Respond'],
    ['Subscribe', 'Request'],
    ['Request', 'Subscribe'],
    ['Request', 'Respond'],
    ['Request', 'Publish'],
  ] as const)('a room offering %s does not give a guest %s', (offer, access) => {
    const r = room('home', 'x', { allowedNamespaces: ['g1'], guestAccess: offer });
    const result = compile([r], [guest('g1', 'm', access, 'x')]);
    const m = result.members.get('g1/m')!;
    expect(m.rooms[0]).toMatchObject({ granted: false, reason: 'AccessNotOffered' });
    expect(m.message).toMatch(/offers other namespaces one access/);
    expect(m.permissions!.subscribe.allow).toEqual(['_INBOX_g1_m.>']);
    expect(m.permissions!.publish.allow).toEqual([]);
    expect(m.permissions!.allowResponses).toBe(false);
    expect(result.model.accounts.flatMap((a) => a.imports)).toEqual([]);
  });

  it('a rejected member wires nothing', () => {
    const k = key();
    const result = compile([shared()], [member('home', 'old', { nkey: k, rooms: [{ room: 'shared', access: 'Publish' }] }), member('g1', 'dup', { nkey: k, rooms: [{ room: 'shared', namespace: 'home', access: 'Subscribe' }] })]);
    expect(result.members.get('g1/dup')!.reason).toBe('DuplicateNkey');
    expect(result.model.accounts.map((a) => [a.name, a.exports])).toEqual([['ROOMS_home', []]]);
  });

  it("a guest gets the room's subject but not its stream's API (the stream lives in the room's account)", () => {
    const r = room('home', 'log', { allowedNamespaces: ['g1'], jetstream: {} });
    const result = compile([r], [member('home', 'h', { nkey: key(), rooms: [{ room: 'log', access: 'Subscribe' }] }), guest('g1', 'g', 'Subscribe', 'log')]);
    expect(result.members.get('home/h')!.permissions!.publish.allow.some((s) => s.startsWith('$JS.API'))).toBe(true);
    expect(result.members.get('g1/g')!.permissions!.publish.allow).toEqual([]);
    expect(result.members.get('g1/g')!.permissions!.subscribe.allow).toContain('rooms.home.log');
  });

  it('a room offering Request may not overlap one offering Subscribe: the younger is rejected', () => {
    const all = room('home', 'all', { subject: 'rooms.home.>', allowedNamespaces: ['g1'] });
    const svc = room('home', 'svc', { subject: 'rooms.home.svc', allowedNamespaces: ['g2'], guestAccess: 'Request' });
    const result = compile([all, svc], []);
    expect(result.rooms.get('home/all')!.accepted).toBe(true);
    expect(result.rooms.get('home/svc')).toMatchObject({ accepted: false, reason: 'SubjectConflict' });
    expect(result.rooms.get('home/svc')!.message).toMatch(/older room home\/all/);
    // Without guests, or with the same offer, they may overlap.
    expect(compile([all, room('home', 'svc', { subject: 'rooms.home.svc', guestAccess: 'Request' })], []).rooms.get('home/svc')!.accepted).toBe(true);
    expect(compile([all, room('home', 'sub', { subject: 'rooms.home.svc', allowedNamespaces: ['g2'] })], []).rooms.get('home/sub')!.accepted).toBe(true);
  });

  it('imports of overlapping rooms: a broader one covers a narrower; a partial overlap is refused for the younger room', () => {
    const all = room('home', 'all', { subject: 'rooms.home.>', allowedNamespaces: ['g1'] });
    const one = room('home', 'one', { subject: 'rooms.home.x', allowedNamespaces: ['g1'] });
    const a = accountsOf([all, one], [guest('g1', 'a', 'Subscribe', 'all'), guest('g1', 'b', 'Subscribe', 'one')]);
    expect(a.ROOMS_g1!.imports).toEqual([{ kind: 'stream', account: 'ROOMS_home', subject: 'rooms.home.>' }]);

    const left = room('home', 'left', { subject: 'rooms.home.*.x', allowedNamespaces: ['g1'] });
    const right = room('home', 'right', { subject: 'rooms.home.y.*', allowedNamespaces: ['g1'] });
    const result = compile([left, right], [guest('g1', 'b', 'Subscribe', 'right'), guest('g1', 'a', 'Subscribe', 'left')]);
    expect(result.members.get('g1/a')!.rooms[0]).toMatchObject({ granted: true });
    expect(result.members.get('g1/b')!.rooms[0]).toMatchObject({ granted: false, reason: 'SubjectConflict' });
    expect(result.members.get('g1/b')!.message).toContain('overlaps');
    // Only between guests of one namespace: its home's own members may join both.
    const home = compile([left, right], [member('home', 'h', { nkey: key(), rooms: [{ room: 'left', access: 'Subscribe' }, { room: 'right', access: 'Subscribe' }] })]);
    expect(home.members.get('home/h')!.rooms.every((r) => r.granted)).toBe(true);
  });
});

describe('keys no Member may claim', () => {
  it("the locked user's key is reserved, so no Member can make nats-server refuse the config as a duplicate", () => {
    const result = compile([], [member('a', 'm', { nkey: LOCKED_USER_KEY })]);
    expect(result.members.get('a/m')).toMatchObject({ accepted: false, reason: 'ReservedKey' });
    expect(result.model.users).toEqual([]);
  });
});

describe('namespace budgets', () => {
  const rooms = [room('a', 'r'), room('b', 'r')];
  const joins = (ns: string, i: number) => member(ns, `m${i}`, { nkey: key(), rooms: [{ room: 'r', access: 'PublishSubscribe' }] });

  it('leaves out the newest members past a namespace’s budget, and no one of another namespace', () => {
    const members = [...Array.from({ length: 5 }, (_, i) => joins('a', i)), joins('b', 0)];
    const result = compile(rooms, members, { budgets: { perNamespace: { a: { members: 3 } } } });
    expect([0, 1, 2, 3, 4].map((i) => result.members.get(`a/m${i}`)!.reason)).toEqual(['Accepted', 'Accepted', 'Accepted', 'QuotaExceeded', 'QuotaExceeded']);
    expect(result.members.get('a/m3')!.message).toMatch(/namespace a is over its budget of 3 accepted Members/);
    expect(result.members.get('b/m0')!.accepted).toBe(true);
    expect(result.rooms.get('a/r')!.memberCount).toBe(3);
  });

  it('counts the bytes a namespace’s entries take: a namespace of huge members is cut off, others are not', () => {
    const long = Array.from({ length: 64 }, (_, i) => `rooms.a.${'x'.repeat(200)}${i}`);
    const huge = (i: number) => member('a', `h${i}`, { nkey: key(), rooms: [{ room: 'r', access: 'Subscribe' }], deny: { publish: long, subscribe: long } });
    const result = compile(rooms, [huge(0), huge(1), huge(2), joins('b', 0)], { budgets: { default: { bytes: 60_000 } } });
    expect(['h0', 'h1', 'h2'].map((n) => result.members.get(`a/${n}`)!.reason)).toEqual(['Accepted', 'Accepted', 'QuotaExceeded']);
    expect(result.members.get('b/m0')!.accepted).toBe(true);
  });

  it('leaves out the newest rooms past the rooms budget; their members are told', () => {
    const result = compile([room('a', 'r1'), room('a', 'r2'), room('a', 'r3')], [member('a', 'm', { nkey: key(), rooms: [{ room: 'r3', access: 'Subscribe' }] })], { budgets: { default: { rooms: 2 } } });
    expect(['r1', 'r2', 'r3'].map((n) => result.rooms.get(`a/${n}`)!.reason)).toEqual(['Accepted', 'Accepted', 'QuotaExceeded']);
    expect(result.members.get('a/m')!.rooms[0]).toMatchObject({ granted: false, reason: 'RoomRejected' });
  });
});

describe('what a member left out holds', () => {
  it('a member refused for bytes takes no slot of the members budget', () => {
    const long = Array.from({ length: 64 }, (_, i) => `rooms.a.${'x'.repeat(200)}${i}`);
    const result = compile([], [member('a', 'small', { nkey: key() }), member('a', 'huge', { nkey: key(), deny: { publish: long } }), member('a', 'next', { nkey: key() })], {
      budgets: { default: { members: 2, bytes: 5000 } },
    });
    expect(['small', 'huge', 'next'].map((n) => result.members.get(`a/${n}`)!.reason)).toEqual(['Accepted', 'QuotaExceeded', 'QuotaExceeded']);
    // The bytes budget, not the members one, stopped them: the newest wait behind the first that did not fit.
    expect(result.members.get('a/next')!.message).toMatch(/bytes/);
  });

  it('a member over its budget holds neither its key nor its inbox', () => {
    const k = key();
    const result = compile([], [member('a', 'm0', { nkey: key() }), member('a', 'm1', { nkey: k }), member('b', 'n0', { nkey: k })], { budgets: { perNamespace: { a: { members: 1 } } } });
    expect(result.members.get('a/m1')!.reason).toBe('QuotaExceeded');
    expect(result.members.get('b/n0')!.reason).toBe('Accepted');
  });
});
