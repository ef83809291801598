import { describe, expect, it } from 'vitest';
import { covers, intersects } from '../../src/auth/subjects.js';

describe('intersects', () => {
  const cases: [string, string, boolean][] = [
    ['a.b', 'a.b', true],
    ['a.b', 'a.c', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a.b.c', false],
    ['a.>', 'a', false],
    ['a.>', 'a.b.c', true],
    ['a.*.c', 'a.b.*', true],
    ['a.*.c', 'a.b.d', false],
    ['>', 'x', true],
    ['*', 'x.y', false],
    ['rooms.a.x', 'rooms.b.>', false],
  ];
  it.each(cases)('%s and %s: %s', (a, b, expected) => {
    expect(intersects(a, b)).toBe(expected);
    expect(intersects(b, a)).toBe(expected);
  });
});

describe('covers', () => {
  const cases: [string, string, boolean][] = [
    ['a.b', 'a.b', true],
    ['a.>', 'a.b', true],
    ['a.>', 'a.*.c', true],
    ['a.>', 'a', false],
    ['a.*', 'a.b', true],
    ['a.*', 'a.>', false],
    ['a.b', 'a.*', false],
    ['a.*.c', 'a.b.*', false],
    ['>', 'a.b.>', true],
    ['a.*.>', 'a.b.c', true],
    ['a.*.>', 'a.b', false],
  ];
  it.each(cases)('%s covers %s: %s', (outer, inner, expected) => expect(covers(outer, inner)).toBe(expected));
});
