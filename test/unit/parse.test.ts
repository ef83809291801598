// The last generation read back from its files (the property test round-trips 10,000 worlds).
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/auth/compile.js';
import { parseRendered } from '../../src/auth/parse.js';
import { render } from '../../src/auth/render.js';
import { member, newUserKey, room } from '../support/objects.js';

const world = (extra: number) =>
  compile(
    [room('a', 'r', { allowedNamespaces: ['b'] })],
    Array.from({ length: 6 + extra }, (_, i) => member(i % 2 ? 'a' : 'b', `m${i}`, { nkey: newUserKey().publicKey, rooms: [{ room: 'r', namespace: 'a', access: 'Subscribe' }] })),
  ).model;

describe('parseRendered', () => {
  it('reads back a sharded config, exports and imports included', () => {
    const model = world(0);
    const rendered = render(model, { maxFileBytes: 600, shardCount: 3 });
    expect(rendered.shards.length).toBe(3);
    expect(parseRendered(rendered.text, rendered.shards)).toEqual(model);
  });

  it('refuses a main file with a shard of another generation', () => {
    const a = render(world(0), { maxFileBytes: 600, shardCount: 3 });
    const b = render(world(1), { maxFileBytes: 600, shardCount: 3 });
    // A shard that differs (with random keys, shard 1 of both may be empty, hence the same file).
    const i = b.shards.findIndex((shard, k) => shard !== a.shards[k]);
    expect(i).toBeGreaterThanOrEqual(0);
    expect(parseRendered(a.text, a.shards.map((shard, k) => (k === i ? b.shards[i]! : shard)))).toBeUndefined();
  });

  it('refuses what it did not write (the single-account layout of older versions)', () => {
    expect(parseRendered('accounts: {\n  ROOMS: {\n    users: [\n      {nkey: "U", permissions: {}}\n    ]\n  }\n}\n', [])).toBeUndefined();
  });
});
