// The status each Room and Member should have, from its compile verdict and how far the rollout got.
// Pure: the reconciler writes a status only when what this returns differs from what is stored.
import type { StreamOutcome } from '../jetstream/streamKeeper.js';
import type { Condition, GrantedSubjects, Member, MemberStatus, Room, RoomStatus } from '../api/types.js';
import { credentialsSecretName } from '../api/defaults.js';
import type { MemberResult, RoomResult, Verdict } from '../auth/model.js';
import type { ReadyReason } from '../api/conditions.js';

/** Where the permissions of one object stand on the NATS servers. */
export type Enforcement =
  | { state: 'Enforced' }
  | { state: 'RollingOut'; message: string }
  | { state: 'Degraded'; message: string }
  /** The operator writes the config but has no way to confirm it (no rollout strategy configured). */
  | { state: 'NotVerified'; message: string };

export function memberStatus(member: Member, result: MemberResult, enforcement: Enforcement, now: string): MemberStatus {
  const status: MemberStatus = { observedGeneration: member.metadata.generation, conditions: conditionsOf(member, result, enforcement, now) };
  if (result.publicKey) status.publicKey = result.publicKey;
  if (result.inboxPrefix) status.inboxPrefix = result.inboxPrefix;
  if (result.keySource === 'generated') status.credentialsSecret = credentialsSecretName(member.metadata.name);
  if (result.permissions) {
    const granted: GrantedSubjects = {
      publish: result.permissions.publish.allow,
      subscribe: result.permissions.subscribe.allow,
      allowResponses: result.permissions.allowResponses,
    };
    status.grantedSubjects = granted;
  }
  if (result.rooms.length > 0) status.rooms = result.rooms;
  return status;
}

/** A persisted room's StreamReady, before its stream was kept once after the current config was enforced. */
export const STREAM_PENDING: StreamOutcome = { ready: false, reason: 'StreamPending', message: 'the stream is kept once every NATS server enforces the current config' };

export function roomStatus(room: Room, result: RoomResult, enforcement: Enforcement, now: string, stream?: StreamOutcome): RoomStatus {
  const status: RoomStatus = { memberCount: result.memberCount, observedGeneration: room.metadata.generation, conditions: conditionsOf(room, result, enforcement, now) };
  if (result.subject) status.subject = result.subject;
  if (result.stream) status.stream = result.stream;
  if (result.accepted && result.stream) {
    const outcome = stream ?? STREAM_PENDING;
    if (outcome.state) status.streamState = outcome.state;
    const condition: Condition = { type: 'StreamReady', status: outcome.ready ? 'True' : 'False', reason: outcome.reason, message: outcome.message };
    status.conditions = [...status.conditions!, ...withTimes(room.status?.conditions, [condition], room.metadata.generation, now)];
  }
  return status;
}

/** Accepted (the compile verdict) and Ready (accepted, and enforced by every server). */
function conditionsOf(obj: Room | Member, verdict: Verdict, enforcement: Enforcement, now: string): Condition[] {
  const accepted: Condition = { type: 'Accepted', status: verdict.accepted ? 'True' : 'False', reason: verdict.reason, message: verdict.message };
  const ready = readyCondition(verdict.accepted, verdict.reason, enforcement);
  return withTimes(obj.status?.conditions, [accepted, ready], obj.metadata.generation, now);
}

function readyCondition(accepted: boolean, reason: string, enforcement: Enforcement): Condition {
  if (!accepted) return { type: 'Ready', status: 'False', reason, message: 'not in the NATS config: see the Accepted condition' };
  const ready = (status: Condition['status'], reason: ReadyReason, message: string): Condition => ({ type: 'Ready', status, reason, message });
  switch (enforcement.state) {
    case 'Enforced':
      return ready('True', 'Enforced', 'every NATS server enforces the current permissions');
    case 'RollingOut':
      return ready('False', 'RollingOut', enforcement.message);
    case 'Degraded':
      return ready('False', 'RolloutDegraded', enforcement.message);
    case 'NotVerified':
      return ready('Unknown', 'NotVerified', enforcement.message);
  }
}

/** Keeps lastTransitionTime where a condition's status did not change (API conventions). */
function withTimes(previous: Condition[] | undefined, next: Condition[], generation: number | undefined, now: string): Condition[] {
  return next.map((c) => {
    const before = previous?.find((p) => p.type === c.type);
    const lastTransitionTime = before && before.status === c.status && before.lastTransitionTime ? before.lastTransitionTime : now;
    return { ...c, ...(generation !== undefined && { observedGeneration: generation }), lastTransitionTime };
  });
}

/**
 * Deep equality for JSON-shaped status values, ignoring key order and keys set to undefined. Runs for
 * every object on every reconcile, so it compares in place rather than serialising both sides.
 */
export function sameStatus(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameStatus(a[i], b[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let defined = 0;
  for (const k in x) {
    if (x[k] === undefined) continue;
    defined++;
    if (!Object.hasOwn(y, k) || !sameStatus(x[k], y[k])) return false;
  }
  for (const k in y) if (y[k] !== undefined) defined--;
  return defined === 0;
}
