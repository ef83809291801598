// compile(): Rooms and Members in, NATS users with their permissions and a verdict per object out.
// Pure and deterministic: no I/O, no clock, inputs never mutated. Rejected objects are left out of the
// model and never change anyone else's permissions; everything a user can set is checked here.
import type { AccessMode, Member, MemberRoomStatus, ObjectMeta, Room } from '../api/types.js';
import { formatErrors, validateMemberSpec, validateRoomSpec } from '../api/validate.js';
import * as defaults from '../api/defaults.js';
import { isDnsLabel, isDnsSubdomain, isSubject } from '../api/grammar.js';
import { canonical, isLiteral, isWithinRoot } from './subjects.js';
import { consumeSubjects, produceSubjects } from './jetstream.js';
import { isValidPublicUserKey } from './keys.js';

export interface CompileOptions {
  /** The NATS account every member lives in. */
  account?: string;
  /** Subject roots a cluster admin added per namespace, besides the default `rooms.<namespace>`. */
  extraSubjectRoots?: Readonly<Record<string, readonly string[]>>;
  /** Subjects every accepted member may use, set by the cluster admin. */
  defaultPermissions?: { publish?: readonly string[]; subscribe?: readonly string[] };
  /** Public keys no Member may claim (the operator's own users). */
  reservedKeys?: readonly string[];
  /** Operator-generated public keys of Members without spec.nkey, by `namespace/name`. */
  generatedKeys?: ReadonlyMap<string, string>;
  /** Why the operator could not generate a key for a Member, by `namespace/name`. */
  credentialProblems?: ReadonlyMap<string, string>;
}

export const DEFAULT_ACCOUNT = 'ROOMS';

export type Reason =
  | 'Accepted'
  | 'SomeRoomsUnresolved'
  | 'InvalidName'
  | 'InvalidSpec'
  | 'SubjectOutsideRoot'
  | 'StreamOutsideNamespace'
  | 'InvalidNkey'
  | 'KeyPending'
  | 'CredentialsUnavailable'
  | 'ReservedKey'
  | 'DuplicateNkey'
  | 'InboxPrefixOutsideNamespace'
  | 'InboxPrefixConflict';

export type RoomRefReason = 'Granted' | 'RoomNotFound' | 'RoomRejected' | 'RoomNotAllowed' | 'MemberRejected';

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
  allowResponses: boolean;
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
  permissions: Permissions;
}

export interface AuthModel {
  account: string;
  /** Sorted by public key. */
  users: UserEntry[];
}

export interface Compiled {
  model: AuthModel;
  rooms: Map<string, RoomResult>;
  members: Map<string, MemberResult>;
}

export const keyOf = (meta: Pick<ObjectMeta, 'namespace' | 'name'>) => `${meta.namespace}/${meta.name}`;

const PUBLISHES: ReadonlySet<AccessMode> = new Set(['Publish', 'PublishSubscribe', 'Request']);
const SUBSCRIBES: ReadonlySet<AccessMode> = new Set(['Subscribe', 'PublishSubscribe', 'Respond']);

export function compile(rooms: readonly Room[], members: readonly Member[], options: CompileOptions = {}): Compiled {
  checkOptions(options);
  const roomResults = new Map<string, RoomResult>();
  for (const room of rooms) roomResults.set(keyOf(room.metadata), compileRoom(room, options));

  const roomsByKey = new Map(rooms.map((r) => [keyOf(r.metadata), r]));
  const memberResults = new Map<string, MemberResult>();
  const keyOwners = new Map<string, string>();
  const inboxOwners = new Map<string, string>();
  const reserved = new Set(options.reservedKeys ?? []);
  const users: UserEntry[] = [];

  // Oldest first, so that on a conflict the older Member keeps its key or inbox.
  for (const member of oldestFirst(members)) {
    const key = keyOf(member.metadata);
    const result = compileMember(member, options, roomsByKey, roomResults);
    if (result.accepted) {
      const conflict = claim(result, key, reserved, keyOwners, inboxOwners);
      if (conflict) Object.assign(result, conflict, { permissions: undefined, rooms: result.rooms.map(notGranted) });
    }
    memberResults.set(key, result);
    if (result.accepted && result.permissions && result.publicKey) {
      users.push({ publicKey: result.publicKey, member: key, permissions: result.permissions });
      const granted = new Set(result.rooms.filter((r) => r.granted).map((r) => `${r.namespace}/${r.room}`));
      for (const roomKey of granted) roomResults.get(roomKey)!.memberCount++;
    }
  }
  users.sort((a, b) => (a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0));
  return { model: { account: options.account ?? DEFAULT_ACCOUNT, users }, rooms: roomResults, members: memberResults };
}

/** The subject roots of a namespace: `rooms.<namespace>` plus what the cluster admin added. */
export function subjectRootsOf(namespace: string, options: CompileOptions): string[] {
  return [defaults.defaultSubjectRoot(namespace), ...(options.extraSubjectRoots?.[namespace] ?? [])];
}

function checkOptions(options: CompileOptions): void {
  const bad = (what: string, value: unknown) => {
    throw new Error(`invalid operator option ${what}: ${JSON.stringify(value)}`);
  };
  if (options.account !== undefined && !/^[A-Za-z0-9_-]+$/.test(options.account)) bad('account', options.account);
  for (const [ns, roots] of Object.entries(options.extraSubjectRoots ?? {})) {
    if (!isDnsLabel(ns)) bad('extraSubjectRoots namespace', ns);
    for (const root of roots) if (!isSubject(root) || !isLiteral(root)) bad(`extraSubjectRoots[${ns}] (a literal subject)`, root);
  }
  for (const s of [...(options.defaultPermissions?.publish ?? []), ...(options.defaultPermissions?.subscribe ?? [])]) {
    if (!isSubject(s)) bad('defaultPermissions subject', s);
  }
}

function reject(reason: Reason, message: string): Verdict {
  return { accepted: false, reason, message };
}

function checkName(meta: ObjectMeta): Verdict | undefined {
  if (!isDnsLabel(meta.namespace)) return reject('InvalidName', `namespace ${JSON.stringify(meta.namespace)} is not a valid namespace name`);
  if (!isDnsSubdomain(meta.name)) return reject('InvalidName', `name ${JSON.stringify(meta.name)} is not a valid object name`);
  return undefined;
}

function compileRoom(room: Room, options: CompileOptions): RoomResult {
  const { namespace, name } = room.metadata;
  const invalid = checkName(room.metadata);
  if (invalid) return { ...invalid, memberCount: 0 };
  const errors = validateRoomSpec(room.spec);
  if (errors.length > 0) return { ...reject('InvalidSpec', formatErrors(errors)), memberCount: 0 };

  const spec = room.spec ?? {};
  const subject = spec.subject ?? defaults.defaultRoomSubject(namespace, name);
  const roots = subjectRootsOf(namespace, options);
  if (!isSubject(subject)) return { ...reject('InvalidSpec', `subject ${JSON.stringify(subject)} is not a valid NATS subject`), memberCount: 0 };
  if (!roots.some((root) => isWithinRoot(subject, root))) {
    return {
      ...reject(
        'SubjectOutsideRoot',
        `subject ${subject} is outside the subject roots of namespace ${namespace} (${roots.join(', ')}); ` +
          `use a subject below one of them, or ask a cluster admin to add a root for this namespace`,
      ),
      subject,
      memberCount: 0,
    };
  }
  let stream: string | undefined;
  if (spec.jetstream) {
    stream = spec.jetstream.stream ?? defaults.defaultStreamName(namespace, name);
    const prefix = defaults.streamNamespacePart(namespace);
    if (!stream.startsWith(prefix) || stream.length === prefix.length) {
      return {
        ...reject('StreamOutsideNamespace', `stream ${stream} must be named ${prefix}<something>, so that rooms can only grant streams of their own namespace`),
        subject,
        memberCount: 0,
      };
    }
  }
  return { accepted: true, reason: 'Accepted', message: `grants ${subject}`, subject, stream, memberCount: 0 };
}

function compileMember(
  member: Member,
  options: CompileOptions,
  roomsByKey: ReadonlyMap<string, Room>,
  roomResults: ReadonlyMap<string, RoomResult>,
): MemberResult {
  const { namespace, name } = member.metadata;
  const invalid = checkName(member.metadata);
  if (invalid) return { ...invalid, rooms: [] };
  const errors = validateMemberSpec(member.spec);
  if (errors.length > 0) return { ...reject('InvalidSpec', formatErrors(errors)), rooms: [] };
  const spec = member.spec ?? {};
  const key = keyOf(member.metadata);

  let publicKey: string;
  let keySource: 'spec' | 'generated';
  if (spec.nkey !== undefined) {
    if (!isValidPublicUserKey(spec.nkey)) {
      return { ...reject('InvalidNkey', `spec.nkey ${spec.nkey} is not a valid public user nkey (its checksum does not match)`), rooms: [] };
    }
    publicKey = spec.nkey;
    keySource = 'spec';
  } else {
    const generated = options.generatedKeys?.get(key);
    const problem = options.credentialProblems?.get(key);
    if (!generated && problem) return { ...reject('CredentialsUnavailable', problem), rooms: [] };
    if (!generated) {
      return { ...reject('KeyPending', 'spec.nkey is not set and the operator has not generated a key pair yet'), rooms: [] };
    }
    publicKey = generated;
    keySource = 'generated';
  }

  const inboxPrefix = spec.inboxPrefix ?? defaults.defaultInboxPrefix(namespace, name);
  const inboxNamespace = defaults.inboxPrefixNamespacePart(namespace);
  if (!inboxPrefix.startsWith(inboxNamespace) || inboxPrefix.length === inboxNamespace.length) {
    return {
      ...reject('InboxPrefixOutsideNamespace', `spec.inboxPrefix ${inboxPrefix} must start with ${inboxNamespace} followed by at least one character`),
      publicKey,
      keySource,
      rooms: [],
    };
  }

  const publish: string[] = [...(options.defaultPermissions?.publish ?? [])];
  const subscribe: string[] = [`${inboxPrefix}.>`, ...(options.defaultPermissions?.subscribe ?? [])];
  let allowResponses = false;
  const refs: MemberRoomStatus[] = [];
  for (const ref of spec.rooms ?? []) {
    const roomNamespace = ref.namespace ?? namespace;
    const status: MemberRoomStatus = { room: ref.room, namespace: roomNamespace, access: ref.access, granted: false };
    refs.push(status);
    const room = roomsByKey.get(`${roomNamespace}/${ref.room}`);
    const verdict = roomResults.get(`${roomNamespace}/${ref.room}`);
    if (!room || !verdict) {
      status.reason = 'RoomNotFound';
      continue;
    }
    if (!verdict.accepted || !verdict.subject) {
      status.reason = 'RoomRejected';
      continue;
    }
    if (roomNamespace !== namespace && !(room.spec?.allowedNamespaces ?? []).includes(namespace)) {
      status.reason = 'RoomNotAllowed';
      continue;
    }
    status.granted = true;
    status.reason = 'Granted';
    status.subject = verdict.subject;
    const { subject, stream } = verdict;
    if (PUBLISHES.has(ref.access)) {
      publish.push(subject);
      if (stream) publish.push(...produceSubjects(stream));
    }
    if (SUBSCRIBES.has(ref.access)) {
      subscribe.push(subject);
      if (stream) publish.push(...consumeSubjects(stream));
    }
    if (ref.access === 'Respond') allowResponses = true;
  }

  const unresolved = refs.filter((r) => !r.granted);
  const permissions: Permissions = {
    publish: { allow: canonical(publish), deny: canonical(spec.deny?.publish ?? []) },
    subscribe: { allow: canonical(subscribe), deny: canonical(spec.deny?.subscribe ?? []) },
    allowResponses,
  };
  return {
    accepted: true,
    reason: unresolved.length === 0 ? 'Accepted' : 'SomeRoomsUnresolved',
    message:
      unresolved.length === 0
        ? `in the NATS config with ${refs.length} room(s)`
        : `in the NATS config; not granted: ${unresolved.map(describeUnresolved).join('; ')}`,
    publicKey,
    keySource,
    inboxPrefix,
    rooms: refs,
    permissions,
  };
}

const notGranted = (ref: MemberRoomStatus): MemberRoomStatus => ({ ...ref, granted: false, reason: 'MemberRejected' });

function describeUnresolved(ref: MemberRoomStatus): string {
  const room = `room ${ref.namespace}/${ref.room}`;
  switch (ref.reason) {
    case 'RoomNotFound':
      return `${room} does not exist`;
    case 'RoomRejected':
      return `${room} is not accepted (see its status)`;
    case 'RoomNotAllowed':
      return `${room} does not list this namespace in spec.allowedNamespaces`;
    default:
      return `${room}: ${ref.reason}`;
  }
}

/** Registers the member's key and inbox; returns the rejection when an older member holds either. */
function claim(
  result: MemberResult,
  key: string,
  reserved: ReadonlySet<string>,
  keyOwners: Map<string, string>,
  inboxOwners: Map<string, string>,
): Verdict | undefined {
  const publicKey = result.publicKey!;
  const inbox = result.inboxPrefix!;
  if (reserved.has(publicKey)) return reject('ReservedKey', `nkey ${publicKey} is reserved for the operator's own use`);
  const keyOwner = keyOwners.get(publicKey);
  if (keyOwner) {
    return reject('DuplicateNkey', `nkey ${publicKey} is already used by the older Member ${keyOwner}; every Member needs its own key`);
  }
  const inboxOwner = inboxOwners.get(inbox);
  if (inboxOwner) {
    return reject('InboxPrefixConflict', `inbox prefix ${inbox} is already used by the older Member ${inboxOwner}; choose another spec.inboxPrefix`);
  }
  keyOwners.set(publicKey, key);
  inboxOwners.set(inbox, key);
  return undefined;
}

function timeOf(meta: ObjectMeta): number {
  const t = meta.creationTimestamp;
  if (t === undefined) return Number.POSITIVE_INFINITY;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

/** Members by creation time, then namespace/name: the order in which conflicts are settled. */
function oldestFirst(members: readonly Member[]): Member[] {
  const keyed = members.map((member) => ({ member, time: timeOf(member.metadata), key: keyOf(member.metadata) }));
  keyed.sort((a, b) => (a.time !== b.time ? (a.time < b.time ? -1 : 1) : a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map((k) => k.member);
}
