// Every condition type and reason the operator writes, in one place: compile.ts and status.ts take
// them from here, and the CRD schema's descriptions are built from them, so `kubectl explain` cannot
// drift from what the operator does.

export const CONDITION_TYPES = ['Accepted', 'Ready', 'StreamReady'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

/** Reasons of Accepted (the compile verdict). When Accepted is False, Ready is False with the same reason. */
export const VERDICT_REASONS = [
  'Accepted',
  'SomeRoomsUnresolved',
  'InvalidName',
  'InvalidSpec',
  'SubjectOutsideRoot',
  'StreamOutsideNamespace',
  'StreamConflict',
  'InvalidNkey',
  'KeyPending',
  'CredentialsUnavailable',
  'ReservedKey',
  'DuplicateNkey',
  'InboxPrefixOutsideNamespace',
  'InboxPrefixConflict',
  'SubjectConflict',
  'QuotaExceeded',
] as const;
export type VerdictReason = (typeof VERDICT_REASONS)[number];

/** Reasons of Ready for an accepted object: how far the rollout of its permissions got. */
export const READY_REASONS = ['Enforced', 'RollingOut', 'RolloutDegraded', 'NotVerified'] as const;
export type ReadyReason = (typeof READY_REASONS)[number];

/**
 * Reasons of StreamReady (persisted rooms only): True once the stream exists as the Room says;
 * False while it waits for the config to be enforced or when JetStream refused what the Room asks.
 */
export const STREAM_REASONS = [
  'StreamReady',
  'StreamPending',
  'ChangeNotAllowed',
  'SubjectsOverlap',
  'NameTaken',
  'JetStreamUnavailable',
  'StreamError',
] as const;
export type StreamReason = (typeof STREAM_REASONS)[number];

/** Reasons of one room reference in a Member's status.rooms. */
export const ROOM_REF_REASONS = [
  'Granted',
  'RoomNotFound',
  'RoomRejected',
  'RoomNotAllowed',
  'AccessNotOffered',
  'SubjectConflict',
  'ConsumersNotOffered',
  'MemberRejected',
] as const;
export type RoomRefReason = (typeof ROOM_REF_REASONS)[number];
