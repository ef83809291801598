import { describe, expect, it } from 'vitest';
import { render, shardOf, shardSeed, LOCKED_USER_KEY, MIN_USER_LINE_CHARS } from '../../src/auth/render.js';
import { compile } from '../../src/auth/compile.js';
import { keyWithoutSeed } from '../../src/auth/keys.js';
import { fromPublic } from 'nkeys.js';
import { member, newUserKey, room } from '../support/objects.js';

const K1 = newUserKey().publicKey;

describe('render', () => {
  it('always holds the locked user, so authentication stays required with no members', () => {
    const { text } = render(compile([], []).model);
    expect(text).toContain(`{nkey: "${LOCKED_USER_KEY}", permissions: {publish: {deny: [">"]}, subscribe: {deny: [">"]}}}`);
    expect(() => fromPublic(LOCKED_USER_KEY)).not.toThrow();
  });

  it('writes an empty publish allow list as an explicit deny of everything', () => {
    const { text } = render(compile([room('t', 'r')], [member('t', 'm', { nkey: K1, rooms: [{ room: 'r', access: 'Respond' }] })]).model);
    expect(text).toContain(`{nkey: "${K1}", permissions: {publish: {deny: [">"]}, subscribe: {allow: ["_INBOX_t_m.>", "rooms.t.r"]}, allow_responses: true}}`);
  });

  it('keeps the member deny list next to the implicit deny-all', () => {
    const { text } = render(compile([], [member('t', 'm', { nkey: K1, deny: { publish: ['x'] } })]).model);
    expect(text).toContain('publish: {deny: [">", "x"]}');
  });

  it('refuses to write a value outside the grammar even if the compiler let it through', () => {
    const model = compile([], [member('t', 'm', { nkey: K1 })]).model;
    const tampered = structuredClone(model);
    tampered.users[0]!.permissions.subscribe.allow.push('a"] } users: [ {user: x');
    expect(() => render(tampered)).toThrow(/unsafe value/);
    expect(() => render({ ...model, account: 'A }' })).toThrow(/account/);
    expect(() => render({ ...model, accounts: [{ ...model.accounts[0]!, name: 'B" }' }] })).toThrow(/account/);
  });

  it('hashes the text', () => {
    const a = render(compile([], [member('t', 'm', { nkey: K1 })]).model);
    const b = render(compile([], []).model);
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.hash).not.toBe(b.hash);
  });
});

describe('render with the operator system user', () => {
  it('adds the system account user and a generation marker named after the hash', () => {
    const op = newUserKey().publicKey;
    const plain = render(compile([], [member('t', 'm', { nkey: K1 })]).model);
    const withSys = render(compile([], [member('t', 'm', { nkey: K1 })]).model, { systemUserKey: op });
    expect(withSys.text).toContain(`"$SYS": {\n    users: [{nkey: "${op}"}]`);
    expect(withSys.text).toContain(`mappings: {"natsrooms.generation.${withSys.hash}": "natsrooms.generation.${withSys.hash}"}`);
    expect(withSys.hash).not.toBe(plain.hash);
    const other = render(compile([], []).model, { systemUserKey: op });
    expect(other.hash).not.toBe(withSys.hash);
  });
});

describe('render of a config larger than one file', () => {
  // Fixed keys, so which shard each lands in (and so each shard's size) is the same in every run.
  const keys = Array.from({ length: 60 }, (_, i) => keyWithoutSeed(`render test member ${i}`));
  const world = (count: number, changed?: number) =>
    compile([room('t', 'r'), room('t', 's')], keys.slice(0, count).map((k, i) =>
      member('t', `m${i}`, { nkey: k, rooms: [{ room: i === changed ? 's' : 'r', access: 'PublishSubscribe' }] }))).model;

  it('splits users over the fixed number of shards, each user in the shard of its key', () => {
    const r = render(world(60), { maxFileBytes: 4000, shardCount: 5 });
    expect(r.shards).toHaveLength(5);
    for (let i = 1; i <= 5; i++) expect(r.text).toContain(`include "users-${i}.conf"`);
    keys.forEach((k, i) => expect(r.shards[shardOf(k, 5)]).toContain(`# t/m${i}\n`));
    expect(r.shards.every((s) => s.length < 4000)).toBe(true);
  });

  it('rewrites only the shard of a changed or added member', () => {
    const before = render(world(59), { maxFileBytes: 4000, shardCount: 5 });
    const changed = render(world(59, 7), { maxFileBytes: 4000, shardCount: 5 });
    const added = render(world(60), { maxFileBytes: 4000, shardCount: 5 });
    const differing = (a: string[], b: string[]) => a.flatMap((s, i) => (s === b[i] ? [] : [i]));
    expect(differing(before.shards, changed.shards)).toEqual([shardOf(keys[7]!, 5)]);
    expect(differing(before.shards, added.shards)).toEqual([shardOf(keys[59]!, 5)]);
    expect(changed.hash).not.toBe(before.hash);
  });

  it('mixes a secret salt into the shard of each key: another salt, other shards; the same salt, the same', () => {
    const plain = render(world(60), { maxFileBytes: 4000, shardCount: 5 });
    const salted = render(world(60), { maxFileBytes: 4000, shardCount: 5, shardSalt: 'secret' });
    const again = render(world(60), { maxFileBytes: 4000, shardCount: 5, shardSalt: 'secret' });
    expect(again.shards).toEqual(salted.shards);
    expect(salted.shards).not.toEqual(plain.shards);
    keys.forEach((k, i) => expect(salted.shards[shardOf(k, 5, shardSeed('secret'))]).toContain(`# t/m${i}\n`));
  });

  it('does not split with a shard count of 0 (the caller reports the size)', () => {
    const r = render(world(60), { maxFileBytes: 4000, shardCount: 0 });
    expect(r.shards).toEqual([]);
    expect(r.text.length).toBeGreaterThan(4000);
  });
});

it('never writes a user shorter than MIN_USER_LINE_CHARS, which render relies on to skip a file that cannot fit', () => {
  const { text } = render(compile([], [member('a', 'b', { nkey: K1 })]).model);
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.includes(K1));
  expect(`${lines[at - 1]}\n${lines[at]}\n`.length).toBeGreaterThanOrEqual(MIN_USER_LINE_CHARS);
});
