// Under pressure (a config too large for its Secrets) removals are applied and additions wait.
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/auth/compile.js';
import { withoutAdditions } from '../../src/auth/pressure.js';
import { member, newUserKey, room } from '../support/objects.js';

const [k1, k2, k3] = [newUserKey().publicKey, newUserKey().publicKey, newUserKey().publicKey];
const rooms = [room('a', 'r'), room('a', 's'), room('home', 'x', { allowedNamespaces: ['a', 'b'] })];

describe('withoutAdditions', () => {
  const last = compile(rooms, [
    member('a', 'm1', { nkey: k1, rooms: [{ room: 'r', access: 'PublishSubscribe' }, { room: 'x', namespace: 'home', access: 'Subscribe' }] }),
    member('a', 'm2', { nkey: k2, rooms: [{ room: 'r', access: 'Subscribe' }], deny: { subscribe: ['rooms.a.r.secret'] } }),
    member('home', 'p', { nkey: newUserKey().publicKey, rooms: [{ room: 'x', access: 'Publish' }] }),
  ]).model;

  it('applies a revocation and holds an addition of the same member', () => {
    // m1 leaves r and joins s; m2 drops its deny list; m3 is new; a guest of b joins x.
    const next = compile(rooms, [
      member('a', 'm1', { nkey: k1, rooms: [{ room: 's', access: 'PublishSubscribe' }, { room: 'x', namespace: 'home', access: 'Subscribe' }] }),
      member('a', 'm2', { nkey: k2, rooms: [{ room: 'r', access: 'Subscribe' }] }),
      member('a', 'm3', { nkey: k3, rooms: [{ room: 'r', access: 'Subscribe' }] }),
      member('b', 'g', { nkey: newUserKey().publicKey, rooms: [{ room: 'x', namespace: 'home', access: 'Subscribe' }] }),
      member('home', 'p', { nkey: last.users.find((u) => u.member === 'home/p')!.publicKey, rooms: [{ room: 'x', access: 'Publish' }] }),
    ]).model;
    const { model, held } = withoutAdditions(next, last);
    const m1 = model.users.find((u) => u.member === 'a/m1')!;
    expect(m1.permissions.publish.allow).toEqual([]);
    expect(m1.permissions.subscribe.allow).toEqual(['_INBOX_a_m1.>', 'rooms.home.x']);
    // A deny list that was dropped stays in force: dropping a deny is an addition.
    expect(model.users.find((u) => u.member === 'a/m2')!.permissions.subscribe.deny).toEqual(['rooms.a.r.secret']);
    expect(model.users.map((u) => u.member).sort()).toEqual(['a/m1', 'a/m2', 'home/p']);
    expect([...held].sort()).toEqual(['a/m1', 'a/m2', 'a/m3', 'b/g']);
    // The new guest namespace's import waits; the old one stays.
    expect(model.accounts.find((a) => a.name === 'ROOMS_home')!.exports).toEqual([{ kind: 'stream', subject: 'rooms.home.x', accounts: ['ROOMS_a'] }]);
    expect(model.accounts.find((a) => a.name === 'ROOMS_b')).toBeUndefined();
  });

  it('holds nobody when nothing was added', () => {
    const { model, held } = withoutAdditions(last, last);
    expect(held.size).toBe(0);
    expect(model).toEqual(last);
  });
});
