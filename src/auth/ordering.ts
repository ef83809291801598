// Orders compile() settles conflicts in, and the order users are written in, computed the way the
// speed goal needs: sorts over flat arrays of numbers, not over one object per member.
import type { ObjectMeta } from '../api/types.js';
import { keyOf, type UserEntry } from './model.js';

/** Oldest first, then by namespace/name. */
export function byAgeOf(a: ObjectMeta, b: ObjectMeta): number {
  const ta = timeOf(a);
  const tb = timeOf(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = keyOf(a);
  const kb = keyOf(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function timeOf(meta: ObjectMeta): number {
  const t = meta.creationTimestamp;
  if (t === undefined) return Number.POSITIVE_INFINITY;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

/** What oldestFirst() reads of a member: its `namespace/name` and creation time (see timeOf()). */
export interface Identity {
  key: string;
  time: number;
}

/**
 * Indices of `members` by creation time, then namespace/name: the order in which conflicts are settled.
 * Fills `keys` with each member's namespace/name. The sort reads flat arrays, not one object per member.
 * `identify` may answer from memory (a MemberCache: the same key string every time also keeps its hash,
 * which every Map keyed by it would otherwise compute again).
 */
export function oldestFirst<T extends { metadata: ObjectMeta }>(members: readonly T[], keys: string[], identify?: (member: T) => Identity): number[] {
  const times = new Float64Array(members.length);
  for (let i = 0; i < members.length; i++) {
    const known = identify?.(members[i]!);
    times[i] = known?.time ?? timeOf(members[i]!.metadata);
    keys[i] = known?.key ?? keyOf(members[i]!.metadata);
  }
  const order = indices(members.length);
  order.sort((a, b) => {
    const ta = times[a]!;
    const tb = times[b]!;
    if (ta !== tb) return ta < tb ? -1 : 1;
    return keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : 0;
  });
  return order;
}

/**
 * Users in public key order. Comparing the users' keys directly means fetching a user and a string
 * from memory for every comparison, which dominates the sort at tens of thousands of users; instead
 * it compares numbers taken from the keys' first six characters, held in two flat arrays, and reads
 * the keys themselves only when those are equal.
 */
export function byPublicKey(users: readonly UserEntry[]): UserEntry[] {
  const head = new Float64Array(users.length);
  const next = new Float64Array(users.length);
  for (let i = 0; i < users.length; i++) {
    head[i] = codeUnits(users[i]!.publicKey, 0);
    next[i] = codeUnits(users[i]!.publicKey, 3);
  }
  const order = indices(users.length);
  order.sort((a, b) => {
    if (head[a] !== head[b]) return head[a]! < head[b]! ? -1 : 1;
    if (next[a] !== next[b]) return next[a]! < next[b]! ? -1 : 1;
    const ka = users[a]!.publicKey;
    const kb = users[b]!.publicKey;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  return order.map((i) => users[i]!);
}

/** [0, 1, ..., n - 1]. */
function indices(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(i);
  return out;
}

/** Three UTF-16 code units of `s` from `at` as one number that orders as they do (a missing unit first). */
function codeUnits(s: string, at: number): number {
  let n = 0;
  for (let i = at; i < at + 3; i++) n = n * 0x10001 + (i < s.length ? s.charCodeAt(i) + 1 : 0);
  return n;
}
