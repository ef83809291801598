// Every condition type and reason the operator writes, in one place: compile.ts and status.ts take
// them from here, and the CRD schema's descriptions are built from them, so `kubectl explain` cannot
// drift from what the operator does.

export const CONDITION_TYPES = ['Accepted', 'Ready'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

/** Reasons of Accepted (the compile verdict). When Accepted is False, Ready is False with the same reason. */
export const VERDICT_REASONS = [
  'Accepted',
  'SomeRoomsUnresolved',
  'InvalidName',
  'InvalidSpec',
  'SubjectOutsideRoot',
  'StreamOutsideNamespace',
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

/** Reasons of one room reference in a Member's status.rooms. */
export const ROOM_REF_REASONS = [
  'Granted',
  'RoomNotFound',
  'RoomRejected',
  'RoomNotAllowed',
  'AccessNotOffered',
  'SubjectConflict',
  'MemberRejected',
] as const;
export type RoomRefReason = (typeof ROOM_REF_REASONS)[number];
