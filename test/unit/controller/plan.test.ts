// The reconcile's decisions, table by table: does the config fit, where does each member stand,
// which statuses must be written, which rejections still need an Event.
import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/auth/compile.js';
import type { Rendered } from '../../../src/auth/render.js';
import { enforcementOf, fingerprints, NOT_VERIFIED, sizeProblem, StatusMemo, untoldRejections, wantedStatuses } from '../../../src/controller/plan.js';
import type { RolloutResult } from '../../../src/reload/rollout.js';
import { member, newUserKey, room } from '../../support/objects.js';

const rendered = (main: number, shards: number[] = []): Rendered => ({ text: 'x'.repeat(main), shards: shards.map((n) => 'y'.repeat(n)), guards: shards.map(() => ''), hash: 'h', serviceImporters: [] });

describe('sizeProblem', () => {
  const limits = { maxSecretBytes: 100, authShards: 4 };
  it.each([
    ['a main file within the limit', rendered(100), undefined],
    ['a main file over it, sharding off', rendered(101), /auth config would be 101 bytes.*--auth-shards=4 allows no shard Secrets/],
    ['a shard over the limit', rendered(50, [10, 101]), /a shard .* 101 bytes.*raise --auth-shards/],
    ['a sharded main file over the limit', rendered(101, [10, 10]), /the main auth file would be 101 bytes/],
    ['shards within the limit', rendered(100, [100, 100]), undefined],
  ])('%s', (_what, r, expected) => {
    const problem = sizeProblem(r, limits);
    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toMatch(expected);
  });
});

const rooms = [room('t', 'r'), room('t', 'quiet')];
const joe = member('t', 'joe', { nkey: newUserKey().publicKey, rooms: [{ room: 'r', access: 'Subscribe' }] });
const pam = member('t', 'pam', { nkey: newUserKey().publicKey, rooms: [{ room: 'r', access: 'Publish' }] });
const bad = member('t', 'bad', { nkey: 'not a key' });
const compiled = compile(rooms, [joe, pam, bad]);
const current = fingerprints(compiled.model);
const rolling: RolloutResult = { state: 'RollingOut', message: 'waiting for nats-1' };
const degraded: RolloutResult = { state: 'Degraded', message: 'nats-1 refused' };
const enforced: RolloutResult = { state: 'Enforced', message: '' };

describe('fingerprints', () => {
  // Kept per frozen permissions between calls: whatever else the entry is made of still counts.
  const model = compiled.model;
  const joeEntry = model.users.find((u) => u.member === 't/joe')!;
  const uncached = (m: typeof model, u: typeof joeEntry) => JSON.stringify([u.publicKey, u.permissions, JSON.stringify(m.accounts.find((a) => a.name === u.account))]);
  it('are the same string again for the same entry, and equal to a fresh one', () => {
    expect(Object.isFrozen(joeEntry.permissions)).toBe(true);
    const again = fingerprints(model);
    expect(again.get('t/joe')).toBe(current.get('t/joe'));
    expect(again.get('t/joe')).toBe(uncached(model, joeEntry));
  });
  it.each([
    ['another key', (u: typeof joeEntry) => ({ ...u, publicKey: newUserKey().publicKey }), (m: typeof model) => m],
    ['another account', (u: typeof joeEntry) => ({ ...u, account: 'ROOMS_other' }), (m: typeof model) => m],
    ['its account wired otherwise', (u: typeof joeEntry) => u, (m: typeof model) => ({ ...m, accounts: m.accounts.map((a) => ({ ...a, exports: [...a.exports, { kind: 'stream' as const, subject: 'x', accounts: ['y'] }] })) })],
  ])('follow %s with the same permissions', (_, entry, wiring) => {
    expect(fingerprints(model).get('t/joe')).toBe(current.get('t/joe'));
    const changed = entry(joeEntry);
    const m = wiring({ ...model, users: model.users.map((u) => (u === joeEntry ? changed : u)) });
    const got = fingerprints(m).get('t/joe');
    expect(changed.permissions).toBe(joeEntry.permissions);
    expect(got).not.toBe(current.get('t/joe'));
    expect(got).toBe(uncached(m, changed));
  });
});

describe('enforcementOf', () => {
  const ok = compiled.members.get('t/joe')!;
  const rejected = compiled.members.get('t/bad')!;
  it.each([
    ['no rollout to confirm', ok, 'f', 'f', undefined, NOT_VERIFIED],
    ['the confirmed generation has its entry', ok, 'f', 'f', rolling, { state: 'Enforced' }],
    ['its entry changed since', ok, 'g', 'f', rolling, { state: 'RollingOut', message: 'waiting for nats-1' }],
    ['its entry changed and the rollout stopped', ok, 'g', 'f', degraded, { state: 'Degraded', message: 'nats-1 refused' }],
    ['never confirmed', ok, 'g', undefined, enforced, { state: 'RollingOut', message: '' }],
    ['rejected, even with matching prints', rejected, 'f', 'f', enforced, { state: 'RollingOut', message: '' }],
  ] as const)('%s', (_what, result, fingerprint, confirmed, outcome, expected) => {
    expect(enforcementOf(result, fingerprint, confirmed, outcome)).toEqual(expected);
  });
});

describe('wantedStatuses', () => {
  const now = '2026-12-02T08:00:00Z';
  const statuses = (enforcedPrints: Map<string, string>, outcome: RolloutResult | undefined) =>
    new Map(wantedStatuses({ rooms, members: [joe, pam, bad], compiled, current, enforced: enforcedPrints, outcome, now }).map((w) => [`${w.plural}/${w.object.metadata.name}`, w.status as { conditions: { type: string; reason: string }[] } | undefined]));
  const ready = (s: { conditions: { type: string; reason: string }[] } | undefined) => s?.conditions.find((c) => c.type === 'Ready')?.reason;

  it('a room waits for every member granted it; a room nobody joined is ready', () => {
    const onlyJoe = new Map([['t/joe', current.get('t/joe')!]]);
    const s = statuses(onlyJoe, rolling);
    expect(ready(s.get('members/joe'))).toBe('Enforced');
    expect(ready(s.get('members/pam'))).toBe('RollingOut');
    expect(ready(s.get('rooms/r'))).toBe('RollingOut');
    expect(ready(s.get('rooms/quiet'))).toBe('Enforced');
    expect(ready(s.get('members/bad'))).toBe('InvalidSpec');
  });

  it('without a rollout nothing is Ready: NotVerified', () => {
    const s = statuses(current, undefined);
    expect(ready(s.get('members/joe'))).toBe('NotVerified');
    expect(ready(s.get('rooms/quiet'))).toBe('NotVerified');
  });

  it('an object that already has its status needs no write', () => {
    const first = wantedStatuses({ rooms, members: [joe], compiled, current, enforced: current, outcome: enforced, now });
    const stored = { ...joe, status: first.find((w) => w.object === joe)!.status as never };
    const again = wantedStatuses({ rooms, members: [stored], compiled, current, enforced: current, outcome: enforced, now: '2026-12-02T09:00:00Z' });
    expect(again.find((w) => w.object === stored)!.status).toBeUndefined();
  });

  it('with a memo, computes again only objects whose inputs or stored status changed', () => {
    const memo = new StatusMemo();
    const run = (members: typeof joe[], enforcedPrints: typeof current, outcome = enforced) =>
      new Map(wantedStatuses({ rooms, members, compiled, current, enforced: enforcedPrints, outcome, now, memo }).map((w) => [`${w.plural}/${w.object.metadata.name}`, w]));
    const first = run([joe, pam], current);
    expect(first.get('members/joe')!.unchanged).toBeUndefined();
    const storedJoe = { ...joe, status: first.get('members/joe')!.status as never };
    const storedPam = { ...pam, status: first.get('members/pam')!.status as never };
    // The stored statuses differ from what the memo saw (they were just written): computed, and equal.
    const written = run([storedJoe, storedPam], current);
    expect(written.get('members/joe')).toMatchObject({ status: undefined });
    expect(written.get('members/joe')!.unchanged).toBeUndefined();
    // Nothing changed: skipped, and a pending write of theirs is left alone.
    const quiet = run([storedJoe, storedPam], current);
    expect([quiet.get('members/joe')!.unchanged, quiet.get('members/pam')!.unchanged, quiet.get('rooms/r')!.unchanged]).toEqual([true, true, true]);
    // pam's permissions are not enforced any more (a new generation rolls out): pam and her room again.
    const rolling = run([storedJoe, storedPam], new Map([...current].filter(([k]) => k !== 't/pam')), { state: 'RollingOut', message: 'waiting' });
    expect(rolling.get('members/joe')!.unchanged).toBe(true);
    expect(ready(rolling.get('members/pam')!.status as never)).toBe('RollingOut');
    expect(ready(rolling.get('rooms/r')!.status as never)).toBe('RollingOut');
    // Someone edited joe's stored status: computed again and put back.
    const tampered = { ...storedJoe, status: { ...(storedJoe.status as object), conditions: [] } as never };
    expect(run([tampered, storedPam], current).get('members/joe')!.status).toBeDefined();
  });
});

describe('untoldRejections', () => {
  it('tells a rejection once, again for a new reason, never what the status shows, and forgets the gone', () => {
    const reported = new Map<string, string>();
    expect(untoldRejections(rooms, [joe, bad], compiled, reported).map((r) => `${r.kind}/${r.object.metadata.name}: ${r.reason}`)).toEqual(['Member/bad: InvalidSpec']);
    expect(untoldRejections(rooms, [joe, bad], compiled, reported)).toEqual([]);

    const shown = { ...bad, status: { conditions: [{ type: 'Accepted', status: 'False' as const, reason: 'InvalidSpec', message: '' }] } };
    expect(untoldRejections(rooms, [shown], compiled, new Map())).toEqual([]);

    const otherReason = compile(rooms, [member('t', 'bad', { nkey: newUserKey().publicKey, rooms: [{ room: 'r', access: 'Publish' }], inboxPrefix: '_INBOX_other_x' })]);
    expect(untoldRejections(rooms, [bad], otherReason, reported).map((r) => r.reason)).toEqual(['InboxPrefixOutsideNamespace']);

    untoldRejections(rooms, [], compiled, reported);
    expect(reported.size).toBe(0);
  });
});
