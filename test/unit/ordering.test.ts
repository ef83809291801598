// The compiler's fast orderings agree with the plain ones they replace, on arbitrary inputs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Member } from '../../src/api/types.js';
import type { UserEntry } from '../../src/auth/model.js';
import { byAgeOf, byPublicKey, oldestFirst } from '../../src/auth/ordering.js';

const user = (publicKey: string): UserEntry => ({ publicKey, member: publicKey, account: 'A', permissions: { publish: { allow: [], deny: [] }, subscribe: { allow: [], deny: [] }, allowResponses: false } });
const plain = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

describe('byPublicKey', () => {
  it('orders as comparing the keys themselves does (shared prefixes, short keys, any characters)', () => {
    const key = fc.oneof(fc.string({ maxLength: 10 }), fc.stringMatching(/^UA[A-C]{0,8}$/), fc.string({ unit: 'binary', maxLength: 8 }));
    fc.assert(
      fc.property(fc.array(key, { maxLength: 60 }), (keys) => {
        expect(byPublicKey(keys.map(user)).map((u) => u.publicKey)).toEqual([...keys].sort(plain));
      }),
      { numRuns: 500 },
    );
  });
});

describe('oldestFirst', () => {
  const meta = fc.record({
    namespace: fc.constantFrom('a', 'b'),
    name: fc.constantFrom('x', 'y', 'z'),
    creationTimestamp: fc.option(fc.oneof(fc.constantFrom('2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', 'not a time'), fc.date({ min: new Date(0), max: new Date(2_000_000_000_000), noInvalidDate: true })), { nil: undefined }),
  });
  it('orders by creation time (missing or unreadable last), then namespace/name, as byAgeOf does', () => {
    fc.assert(
      fc.property(fc.array(meta, { maxLength: 40 }), (metas) => {
        const members = metas.map((metadata) => ({ metadata }) as Member);
        const keys: string[] = new Array(members.length);
        const order = oldestFirst(members, keys);
        expect(keys).toEqual(members.map((m) => `${m.metadata.namespace}/${m.metadata.name}`));
        const expected = members.map((_, i) => i).sort((x, y) => byAgeOf(members[x]!.metadata, members[y]!.metadata));
        expect(order.map((i) => keys[i])).toEqual(expected.map((i) => keys[i]));
      }),
      { numRuns: 500 },
    );
  });
});
