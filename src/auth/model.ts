// The compiler's model: what compile() is told (options, budgets) and what it answers (a verdict per
// object, the NATS users and accounts to render). Types only, and the two helpers every part uses.
import type { ObjectMeta, MemberRoomStatus } from '../api/types.js';
import type { RoomRefReason, VerdictReason } from '../api/conditions.js';
import type { AccountModel, JetStreamLimits } from './accounts.js';
import type { MemberCache } from './memberCache.js';

export interface CompileOptions {
  /**
   * The members of namespace N live in the NATS account `<account>_N`; the locked user in `<account>`.
   * An account per namespace is what keeps namespaces apart (see accounts.ts).
   */
  account?: string;
  /** Subject roots a cluster admin added per namespace, besides the default `rooms.<namespace>`. */
  extraSubjectRoots?: Readonly<Record<string, readonly string[]>>;
  /** Subjects every accepted member may use, set by the cluster admin. */
  defaultPermissions?: { publish?: readonly string[]; subscribe?: readonly string[] };
  /** Public keys no Member may claim (the operator's own users; the locked user's always is). */
  reservedKeys?: readonly string[];
  /** Operator-generated public keys of Members without spec.nkey, by `namespace/name`. */
  generatedKeys?: ReadonlyMap<string, string>;
  /** Why the operator could not generate a key for a Member, by `namespace/name`. */
  credentialProblems?: ReadonlyMap<string, string>;
  /**
   * What one namespace may put in the config, so that no namespace can fill it for everyone. Objects
   * past their namespace's budget are left out, newest first (QuotaExceeded).
   */
  budgets?: Budgets;
  /** What each namespace's account may hold in JetStream once one of its rooms is persisted. */
  jetstreamLimits?: { default?: Partial<JetStreamLimits>; perNamespace?: Readonly<Record<string, Partial<JetStreamLimits>>> };
  /**
   * Per namespace, streams of Rooms being deleted that the operator deletes with them (deletionPolicy
   * Delete): its stream user keeps the right to delete them; no member is granted them any more.
   */
  retiringStreams?: ReadonlyMap<string, readonly string[]>;
  /**
   * The public key of the operator's stream user in a namespace's account (derived from the operator's
   * seed). Absent (the offline render): a placeholder no one can sign for.
   */
  streamAdminKey?: (namespace: string) => string;
  /**
   * Results of earlier compiles, reused for members none of whose inputs changed (see memberCache.ts);
   * the answer is the same without it. The caller keeps it from one compile to the next.
   */
  cache?: MemberCache;
}

/** An account's JetStream limits unless the cluster admin set others (--jetstream-limits). */
export const DEFAULT_JETSTREAM_LIMITS: JetStreamLimits = { maxMemory: 64 * 2 ** 20, maxFile: 2 ** 30, maxStreams: 64, maxConsumers: 1024 };

export interface NamespaceBudget {
  /** Accepted Members. */
  members?: number;
  /** Accepted Rooms. */
  rooms?: number;
  /** Bytes of the config its Members' entries take (as userEntryBytes() counts them). */
  bytes?: number;
}

export interface Budgets {
  /** Every namespace's, unless perNamespace says otherwise. */
  default?: NamespaceBudget;
  perNamespace?: Readonly<Record<string, NamespaceBudget>>;
}

/**
 * Default budgets: 32 shards of 1 MB hold about 32 MB of entries; a namespace may take an eighth of
 * that (10,000 members of three rooms each take about 3 MB). Should namespaces together still outgrow
 * the shards, removals are applied and additions wait (see pressure.ts).
 */
export const DEFAULT_BUDGET: Required<NamespaceBudget> = { members: 10_000, rooms: 5000, bytes: 4_000_000 };

export const DEFAULT_ACCOUNT = 'ROOMS';

/** See api/conditions.ts: every reason in one place. */
export type Reason = VerdictReason;
export type { RoomRefReason };

export interface Verdict {
  accepted: boolean;
  reason: Reason;
  message: string;
}

export interface RoomResult extends Verdict {
  subject?: string;
  stream?: string;
  memberCount: number;
}

export interface SubjectPermission {
  allow: string[];
  deny: string[];
}

export interface Permissions {
  publish: SubjectPermission;
  subscribe: SubjectPermission;
  /**
   * Respond: may publish to the reply subject of each request it receives (nats-server's
   * allow_responses, one reply within two minutes), in its own namespace's account only.
   */
  allowResponses: boolean;
}

/**
 * Permissions that can no longer change: the cache may hand them to the next compile, and render()
 * keeps the text it wrote for them (see userBody()).
 */
export function frozenPermissions(p: Permissions): Permissions {
  for (const side of [p.publish, p.subscribe]) {
    Object.freeze(side.allow);
    Object.freeze(side.deny);
    Object.freeze(side);
  }
  return Object.freeze(p);
}

export interface MemberResult extends Verdict {
  publicKey?: string;
  keySource?: 'spec' | 'generated';
  inboxPrefix?: string;
  rooms: MemberRoomStatus[];
  permissions?: Permissions;
}

export interface UserEntry {
  publicKey: string;
  /** `namespace/name` of the Member, for comments and status. */
  member: string;
  /** The NATS account of the member's namespace. */
  account: string;
  permissions: Permissions;
}

export interface AuthModel {
  /** The account of the locked user, and the prefix of every namespace's account. */
  account: string;
  /** Sorted by public key. */
  users: UserEntry[];
  /** Every namespace's account that has users, exports or imports; sorted by name. */
  accounts: AccountModel[];
}

export interface Compiled {
  model: AuthModel;
  rooms: Map<string, RoomResult>;
  members: Map<string, MemberResult>;
}

export const keyOf = (meta: Pick<ObjectMeta, 'namespace' | 'name'>) => `${meta.namespace}/${meta.name}`;

/**
 * An object's `namespace/name`, made once per cached object: the reflectors hand out the same object
 * while it is unchanged, and at 50,000 members making the keys again (and hashing them) cost 100-200 ms
 * a reconcile.
 */
const objectKeys = new WeakMap<object, string>();
export function objectKey(object: { metadata: Pick<ObjectMeta, 'namespace' | 'name'> }): string {
  let key = objectKeys.get(object);
  if (key === undefined) objectKeys.set(object, (key = keyOf(object.metadata)));
  return key;
}

export function reject(reason: Reason, message: string): Verdict {
  return { accepted: false, reason, message };
}
