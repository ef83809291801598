import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/auth/compile.js';
import { memberStatus, roomStatus, sameStatus, type Enforcement } from '../../../src/controller/status.js';
import { member, newUserKey, room } from '../../support/objects.js';

const K = newUserKey().publicKey;
const r = { ...room('t', 'r'), metadata: { ...room('t', 'r').metadata, generation: 3 } };
const m = { ...member('t', 'm', { nkey: K, rooms: [{ room: 'r', access: 'Request' }] }), metadata: { ...member('t', 'm').metadata, generation: 7 } };
const compiled = compile([r], [m]);
const T0 = '2026-11-22T10:00:00Z';
const T1 = '2026-11-22T11:00:00Z';

describe('member status', () => {
  const cases: [Enforcement, string, string][] = [
    [{ state: 'Enforced' }, 'True', 'Enforced'],
    [{ state: 'RollingOut', message: 'waiting for nats-1' }, 'False', 'RollingOut'],
    [{ state: 'Degraded', message: 'nats-1 refused' }, 'False', 'RolloutDegraded'],
    [{ state: 'NotVerified', message: 'strategy none' }, 'Unknown', 'NotVerified'],
  ];
  it.each(cases)('%o gives Ready=%s (%s)', (enforcement, status, reason) => {
    const s = memberStatus(m, compiled.members.get('t/m')!, enforcement, T0);
    expect(s.conditions).toEqual([
      { type: 'Accepted', status: 'True', reason: 'Accepted', message: expect.any(String), observedGeneration: 7, lastTransitionTime: T0 },
      { type: 'Ready', status, reason, message: expect.any(String), observedGeneration: 7, lastTransitionTime: T0 },
    ]);
    expect(s).toMatchObject({ publicKey: K, inboxPrefix: '_INBOX_t_m', observedGeneration: 7, grantedSubjects: { publish: ['rooms.t.r'], subscribe: ['_INBOX_t_m.>'], allowResponses: false } });
  });

  it('keeps lastTransitionTime while a condition keeps its status, so an unchanged status is not rewritten', () => {
    const first = memberStatus(m, compiled.members.get('t/m')!, { state: 'Enforced' }, T0);
    const again = memberStatus({ ...m, status: first }, compiled.members.get('t/m')!, { state: 'Enforced' }, T1);
    expect(sameStatus(first, again)).toBe(true);
    const flipped = memberStatus({ ...m, status: first }, compiled.members.get('t/m')!, { state: 'RollingOut', message: 'x' }, T1);
    expect(flipped.conditions!.map((c) => c.lastTransitionTime)).toEqual([T0, T1]);
  });

  it('a rejected member is not Ready whatever the rollout says, and names the generated Secret only when generated', () => {
    const rejected = compile([r], [member('t', 'x', { nkey: 'U' + 'A'.repeat(55) })]).members.get('t/x')!;
    const s = memberStatus(member('t', 'x'), rejected, { state: 'Enforced' }, T0);
    expect(s.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidNkey' });
    expect(s.credentialsSecret).toBeUndefined();
    const generated = compile([r], [member('t', 'g')], { generatedKeys: new Map([['t/g', K]]) }).members.get('t/g')!;
    expect(memberStatus(member('t', 'g'), generated, { state: 'Enforced' }, T0).credentialsSecret).toBe('g-nats-credentials');
  });
});

describe('room status', () => {
  it('reports subject, member count and conditions', () => {
    const s = roomStatus(r, compiled.rooms.get('t/r')!, { state: 'Enforced' }, T0);
    expect(s).toMatchObject({ subject: 'rooms.t.r', memberCount: 1, observedGeneration: 3 });
    expect(s.conditions!.map((c) => `${c.type}=${c.status}`)).toEqual(['Accepted=True', 'Ready=True']);
  });
});

describe('sameStatus', () => {
  it('ignores key order and undefined fields', () => {
    expect(sameStatus({ a: 1, b: [{ x: 1, y: undefined }] }, { b: [{ x: 1 }], a: 1 })).toBe(true);
    expect(sameStatus({ a: 1 }, { a: 2 })).toBe(false);
  });

  it('tells apart what JSON tells apart: missing and extra keys, arrays and objects, order in arrays, types', () => {
    expect(sameStatus({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(sameStatus({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(sameStatus({ a: 1, b: undefined }, { a: 1, c: undefined })).toBe(true);
    expect(sameStatus([1, 2], [2, 1])).toBe(false);
    expect(sameStatus([1], { 0: 1 })).toBe(false);
    expect(sameStatus({ a: '1' }, { a: 1 })).toBe(false);
    expect(sameStatus({ a: null }, { a: {} })).toBe(false);
    expect(sameStatus(undefined, {})).toBe(false);
    expect(sameStatus({ a: [{ b: [true] }] }, { a: [{ b: [true] }] })).toBe(true);
  });
});
