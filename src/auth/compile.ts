// compile(): Rooms and Members in, NATS users with their permissions and a verdict per object out.
// Pure and deterministic: no I/O, no clock, inputs never mutated. Rejected objects are left out of the
// model and never change anyone else's permissions; everything a user can set is checked here.
import type { AccessMode, Member, MemberRoomStatus, ObjectMeta, Room } from '../api/types.js';
import { formatErrors, validateMemberSpec, validateRoomSpec } from '../api/validate.js';
import * as defaults from '../api/defaults.js';
import { isDnsLabel, isDnsSubdomain, isSubject } from '../api/grammar.js';
import { canonical, covers, intersects, isLiteral, isWithinRoot } from './subjects.js';
import { consumeSubjects, produceSubjects } from './jetstream.js';
import { isValidPublicUserKey, LOCKED_USER_KEY } from './keys.js';
import { accountName, wireAccounts, type AccountModel, type GuestUse } from './accounts.js';
import type { RoomRefReason, VerdictReason } from '../api/conditions.js';

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
}

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
 * Default budgets: 16 shards of 1 MB hold about 16 MB of entries; a namespace may take a quarter of
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

const PUBLISHES: ReadonlySet<AccessMode> = new Set(['Publish', 'PublishSubscribe', 'Request']);
const SUBSCRIBES: ReadonlySet<AccessMode> = new Set(['Subscribe', 'PublishSubscribe', 'Respond']);

/** A room as member references see it. */
interface RoomEntry {
  room: Room;
  verdict: RoomResult;
  /** JetStream subjects of the room's stream, built once per room rather than once per reference. */
  produce?: string[];
  consume?: string[];
  /** The last member (by its position, oldest first) counted in verdict.memberCount. */
  countedFor: number;
}

/** Rooms by namespace, then name. */
type RoomIndex = Map<string, Map<string, RoomEntry>>;

export function compile(rooms: readonly Room[], members: readonly Member[], options: CompileOptions = {}): Compiled {
  checkOptions(options);
  const roomResults = new Map<string, RoomResult>();
  // Member references hold a namespace and a name: a two-level index finds their room without building
  // a `namespace/name` string per reference. References are validated (a DNS label and subdomain, no
  // `/`), so the only rooms they can reach are those whose key splits exactly there, as before.
  const roomIndex: RoomIndex = new Map();
  const roomBudgets = new BudgetTracker(options.budgets);
  for (const room of [...rooms].sort((a, b) => byAgeOf(a.metadata, b.metadata))) {
    const key = keyOf(room.metadata);
    let verdict = compileRoom(room, options);
    if (verdict.accepted) {
      const over = roomBudgets.admit(room.metadata.namespace, { rooms: 1 });
      if (over) verdict = { ...reject('QuotaExceeded', over), subject: verdict.subject, memberCount: 0 };
    }
    roomResults.set(key, verdict);
    const namespace = `${room.metadata.namespace}`;
    let byName = roomIndex.get(namespace);
    if (!byName) roomIndex.set(namespace, (byName = new Map()));
    byName.set(`${room.metadata.name}`, { room, verdict, countedFor: -1 });
  }

  rejectOverlappingOffers(roomIndex);

  // Each member on its own first, then what depends on the others: conflicts over keys and inboxes,
  // settled oldest first so that the older Member keeps its key or inbox. The second pass is the one
  // working with Maps as large as the member count; on its own, it keeps them in the cache.
  const keys: string[] = new Array(members.length);
  const order = oldestFirst(members, keys);
  const conflicts = importConflicts(order.map((m) => members[m]!), roomIndex);
  const granted: RoomEntry[] = [];
  const results = order.map((m, i) => {
    granted.length = 0;
    const result = compileMember(members[m]!, keys[m]!, options, roomIndex, conflicts, granted);
    // Counted here, where the rooms are at hand; a member that loses a conflict below is taken back out.
    // A room listed more than once counts its member once.
    for (const entry of granted) {
      if (entry.countedFor !== i) {
        entry.countedFor = i;
        entry.verdict.memberCount++;
      }
    }
    return result;
  });

  const memberResults = new Map<string, MemberResult>();
  const keyOwners = new Map<string, string>();
  const inboxOwners = new Map<string, string>();
  const reserved = new Set([LOCKED_USER_KEY, ...(options.reservedKeys ?? [])]);
  const memberBudgets = new BudgetTracker(options.budgets);
  const prefix = options.account ?? DEFAULT_ACCOUNT;
  // Accepted members, oldest first, with their namespace.
  const settled: Settled[] = [];
  for (let i = 0; i < order.length; i++) {
    const key = keys[order[i]!]!;
    const result = results[i]!;
    const namespace = members[order[i]!]!.metadata.namespace;
    if (result.accepted) {
      // A member left out holds neither its key nor its inbox, nor any of its namespace's budget.
      const conflict =
        claimConflict(result, reserved, keyOwners, inboxOwners) ??
        overBudget(memberBudgets.admit(namespace, { members: 1, bytes: userEntryBytes(result.publicKey!, result.permissions!) }));
      if (!conflict) {
        keyOwners.set(result.publicKey!, key);
        inboxOwners.set(result.inboxPrefix!, key);
      } else {
        const counted = new Set(result.rooms.filter((r) => r.granted).map((r) => roomIndex.get(r.namespace)!.get(r.room)!));
        for (const entry of counted) entry.verdict.memberCount--;
        Object.assign(result, conflict, { permissions: undefined, rooms: result.rooms.map(notGranted) });
      }
    }
    memberResults.set(key, result);
    if (result.accepted) settled.push({ key, namespace, result });
  }

  const users: UserEntry[] = [];
  const namespaces = new Set<string>();
  for (const { key, namespace, result } of settled) {
    users.push({ publicKey: result.publicKey!, member: key, account: accountName(prefix, namespace), permissions: result.permissions! });
    namespaces.add(namespace);
  }
  const model = { account: prefix, users: byPublicKey(users), accounts: wireAccounts(prefix, namespaces, guestUses(settled, roomIndex)) };
  return { model, rooms: roomResults, members: memberResults };
}

interface Settled {
  key: string;
  namespace: string;
  result: MemberResult;
}

const entryOf = (roomIndex: RoomIndex, ref: MemberRoomStatus) => roomIndex.get(ref.namespace)!.get(ref.room)!;

/** What a Room offers the members of other namespaces it allows (spec.guestAccess). */
const guestAccessOf = (room: Room): 'Subscribe' | 'Request' => room.spec?.guestAccess ?? 'Subscribe';

/** Every accepted member's use of a room of another namespace: what wireAccounts() exports and imports. */
function guestUses(settled: readonly Settled[], roomIndex: RoomIndex): GuestUse[] {
  const uses: GuestUse[] = [];
  for (const { namespace, result } of settled) {
    for (const ref of result.rooms) {
      if (!ref.granted || ref.namespace === namespace) continue;
      uses.push({ home: ref.namespace, subject: ref.subject!, guest: namespace, kind: guestAccessOf(entryOf(roomIndex, ref).room) === 'Request' ? 'service' : 'stream' });
    }
  }
  return uses;
}

/**
 * A room offering Request to other namespaces and one offering Subscribe must not overlap in subjects
 * (see accounts.ts): of two such rooms of one namespace, the younger is rejected.
 */
function rejectOverlappingOffers(roomIndex: RoomIndex): void {
  for (const byName of roomIndex.values()) {
    const offered = [...byName.values()].filter((e) => e.verdict.accepted && (e.room.spec?.allowedNamespaces ?? []).length > 0).sort(byAge);
    if (offered.length < 2) continue;
    const kept: RoomEntry[] = [];
    for (const entry of offered) {
      const clash = kept.find((k) => guestAccessOf(k.room) !== guestAccessOf(entry.room) && intersects(k.verdict.subject!, entry.verdict.subject!));
      if (!clash) {
        kept.push(entry);
        continue;
      }
      // In place: the verdict is also the room's entry in the results.
      Object.assign(
        entry.verdict,
        reject(
          'SubjectConflict',
          `subject ${entry.verdict.subject} overlaps the subject of the older room ${clash.room.metadata.namespace}/${clash.room.metadata.name}, which offers other ` +
            `namespaces ${guestAccessOf(clash.room)} where this one offers ${guestAccessOf(entry.room)}; give one of them a subject the other does not ` +
            'cover, or the same spec.guestAccess',
        ),
        { stream: undefined },
      );
    }
  }
}

/**
 * Rooms of another namespace that a namespace's members may not join because the room's subject
 * overlaps, without containing or being contained in it, the subject of an older room of the same
 * namespace its members joined: imported side by side, a message on the overlap would arrive twice.
 * Keys are `<member namespace> <room namespace>/<room name>`. Decided from every member's references,
 * so that a member's verdict does not depend on the order members are compiled in.
 */
function importConflicts(members: readonly Member[], roomIndex: RoomIndex): Set<string> {
  const joined = new Map<string, RoomEntry[]>();
  for (const member of members) {
    const namespace = member.metadata.namespace;
    for (const ref of member.spec?.rooms ?? []) {
      if (!ref || typeof ref !== 'object' || ref.namespace === undefined || ref.namespace === namespace) continue;
      const entry = roomIndex.get(ref.namespace)?.get(ref.room);
      if (!entry || refusal(entry, ref.namespace, namespace, ref.access)) continue;
      const pair = `${namespace} ${ref.namespace}`;
      const list = joined.get(pair);
      if (!list) joined.set(pair, [entry]);
      else if (!list.includes(entry)) list.push(entry);
    }
  }
  const conflicts = new Set<string>();
  for (const [pair, entries] of joined) {
    if (entries.length < 2) continue;
    const namespace = pair.slice(0, pair.indexOf(' '));
    const kept: string[] = [];
    for (const entry of entries.sort(byAge)) {
      const subject = entry.verdict.subject!;
      if (kept.some((k) => intersects(k, subject) && !covers(k, subject) && !covers(subject, k))) conflicts.add(`${namespace} ${keyOf(entry.room.metadata)}`);
      else kept.push(subject);
    }
  }
  return conflicts;
}

const byAge = (a: RoomEntry, b: RoomEntry) => byAgeOf(a.room.metadata, b.room.metadata);

/** Oldest first, then by namespace/name. */
function byAgeOf(a: ObjectMeta, b: ObjectMeta): number {
  const ta = timeOf(a);
  const tb = timeOf(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = keyOf(a);
  const kb = keyOf(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * About the bytes a member's entry takes in the config (within a few percent of what render()
 * writes; counted without rendering, which compile() cannot afford for every member).
 */
export function userEntryBytes(publicKey: string, p: Permissions): number {
  return 110 + publicKey.length + subjectBytes(p.publish.allow) + subjectBytes(p.publish.deny) + subjectBytes(p.subscribe.allow) + subjectBytes(p.subscribe.deny);
}

function subjectBytes(subjects: readonly string[]): number {
  let n = 0;
  for (const s of subjects) n += s.length + 4;
  return n;
}

/** Counts what each namespace has used of its budgets, in the order objects are admitted. */
class BudgetTracker {
  private readonly used = new Map<string, { members: number; rooms: number; bytes: number; full: Set<keyof NamespaceBudget> }>();
  constructor(private readonly budgets: Budgets | undefined) {}

  /**
   * Admits one object taking `amounts` of the namespace's budgets, if all of them fit; else the
   * refusal's message, and nothing is counted.
   */
  admit(namespace: string, amounts: NamespaceBudget): string | undefined {
    let used = this.used.get(namespace);
    if (!used) this.used.set(namespace, (used = { members: 0, rooms: 0, bytes: 0, full: new Set() }));
    const whats = Object.keys(amounts) as (keyof NamespaceBudget)[];
    const limitOf = (what: keyof NamespaceBudget) => this.budgets?.perNamespace?.[namespace]?.[what] ?? this.budgets?.default?.[what] ?? DEFAULT_BUDGET[what];
    // Once an object did not fit, no newer one does either: the newest wait, whatever their size.
    const over = whats.find((what) => used.full.has(what) || used[what] + amounts[what]! > limitOf(what));
    if (over === undefined) {
      for (const what of whats) used[what] += amounts[what]!;
      return undefined;
    }
    used.full.add(over);
    const unit = over === 'bytes' ? ' bytes of the NATS config' : over === 'members' ? ' accepted Members' : ' accepted Rooms';
    return (
      `namespace ${namespace} is over its budget of ${limitOf(over)}${unit}; the newest objects are left out until older ones are deleted ` +
      `or a cluster admin raises the budget (--namespace-budgets)`
    );
  }
}

function overBudget(message: string | undefined): Verdict | undefined {
  return message === undefined ? undefined : reject('QuotaExceeded', message);
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
  const allRoots: [string, string][] = [];
  for (const [ns, roots] of Object.entries(options.extraSubjectRoots ?? {})) {
    if (!isDnsLabel(ns)) bad('extraSubjectRoots namespace', ns);
    for (const root of roots) {
      if (!isSubject(root) || !isLiteral(root)) bad(`extraSubjectRoots[${ns}] (a literal subject)`, root);
      // rooms.<namespace> is every namespace's own; the others are NATS's and the operator's.
      if (/^(rooms|natsrooms|_INBOX[^.]*|\$[^.]*)(\.|$)/.test(root)) bad(`extraSubjectRoots[${ns}] (not below rooms, natsrooms, _INBOX or $)`, root);
      const other = allRoots.find(([n, r]) => n !== ns && (isWithinRoot(root, r) || isWithinRoot(r, root)));
      if (other) bad(`extraSubjectRoots[${ns}] (overlaps root ${other[1]} of namespace ${other[0]}; namespaces may not share subjects)`, root);
      allRoots.push([ns, root]);
    }
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

/** Compiles one Member on its own; the rooms it is granted are also appended to `granted`. */
function compileMember(
  member: Member,
  key: string,
  options: CompileOptions,
  roomIndex: RoomIndex,
  conflicts: ReadonlySet<string>,
  granted: RoomEntry[],
): MemberResult {
  const { namespace, name } = member.metadata;
  const invalid = checkName(member.metadata);
  if (invalid) return { ...invalid, rooms: [] };
  const errors = validateMemberSpec(member.spec);
  if (errors.length > 0) return { ...reject('InvalidSpec', formatErrors(errors)), rooms: [] };
  const spec = member.spec ?? {};

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
  let allowResponses = false;
  const subscribe: string[] = [`${inboxPrefix}.>`, ...(options.defaultPermissions?.subscribe ?? [])];
  let unresolved = 0;
  const roomRefs = spec.rooms ?? [];
  // Sized up front: this array outlives the run (it is the member's status), a grown one would carry slack.
  const refs: MemberRoomStatus[] = new Array(roomRefs.length);
  for (let r = 0; r < roomRefs.length; r++) {
    const ref = roomRefs[r]!;
    const roomNamespace = ref.namespace ?? namespace;
    const entry = roomIndex.get(roomNamespace)?.get(ref.room);
    const refused = refusal(entry, roomNamespace, namespace, ref.access) ?? (conflicts.has(`${namespace} ${roomNamespace}/${ref.room}`) ? 'SubjectConflict' : undefined);
    if (refused || !entry) {
      refs[r] = { room: ref.room, namespace: roomNamespace, access: ref.access, granted: false, reason: refused };
      unresolved++;
      continue;
    }
    const { subject, stream } = entry.verdict as RoomResult & { subject: string };
    refs[r] = { room: ref.room, namespace: roomNamespace, access: ref.access, granted: true, reason: 'Granted', subject };
    granted.push(entry);
    // A stream lives in its room's account: a guest gets the room's subject, not its stream's API.
    const ownStream = roomNamespace === namespace ? stream : undefined;
    if (PUBLISHES.has(ref.access)) {
      publish.push(subject);
      if (ownStream) publish.push(...(entry.produce ??= produceSubjects(ownStream)));
    }
    if (SUBSCRIBES.has(ref.access)) {
      subscribe.push(subject);
      if (ownStream) publish.push(...(entry.consume ??= consumeSubjects(ownStream)));
    }
    if (ref.access === 'Respond') allowResponses = true;
  }

  const permissions: Permissions = {
    publish: { allow: canonical(publish), deny: canonical(spec.deny?.publish ?? []) },
    subscribe: { allow: canonical(subscribe), deny: canonical(spec.deny?.subscribe ?? []) },
    allowResponses,
  };
  return {
    accepted: true,
    reason: unresolved === 0 ? 'Accepted' : 'SomeRoomsUnresolved',
    message:
      unresolved === 0
        ? `in the NATS config with ${refs.length} room(s)`
        : `in the NATS config; not granted: ${refs.filter((r) => !r.granted).map(describeUnresolved).join('; ')}`,
    publicKey,
    keySource,
    inboxPrefix,
    rooms: refs,
    permissions,
  };
}

/** Why a member of `namespace` is not granted the room it references, or undefined when it is. */
function refusal(entry: RoomEntry | undefined, roomNamespace: string, namespace: string, access: AccessMode): RoomRefReason | undefined {
  if (!entry) return 'RoomNotFound';
  if (!entry.verdict.accepted || !entry.verdict.subject) return 'RoomRejected';
  if (roomNamespace === namespace) return undefined;
  if (!(entry.room.spec?.allowedNamespaces ?? []).includes(namespace)) return 'RoomNotAllowed';
  // Across namespaces a room is its namespace's export: read (Subscribe) or called (Request).
  if (access !== guestAccessOf(entry.room)) return 'AccessNotOffered';
  return undefined;
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
    case 'AccessNotOffered':
      return (
        `${room} offers other namespaces one access, its spec.guestAccess (Subscribe unless it says Request), and not ${ref.access}: ` +
        "publishing to a room and answering its requests are for its own namespace's Members"
      );
    case 'SubjectConflict':
      return `${room}'s subject overlaps the subject of an older room of namespace ${ref.namespace} that this namespace's Members joined; join one of them, or give them subjects that do not overlap`;
    default:
      return `${room}: ${ref.reason}`;
  }
}

/** Registers the member's key and inbox; returns the rejection when an older member holds either. */
function claimConflict(result: MemberResult, reserved: ReadonlySet<string>, keyOwners: ReadonlyMap<string, string>, inboxOwners: ReadonlyMap<string, string>): Verdict | undefined {
  const publicKey = result.publicKey!;
  const inbox = result.inboxPrefix!;
  if (reserved.has(publicKey)) return reject('ReservedKey', `nkey ${publicKey} is reserved for the operator's own use (its system user or the locked user); give this Member a key of its own`);
  const keyOwner = keyOwners.get(publicKey);
  if (keyOwner) {
    return reject('DuplicateNkey', `nkey ${publicKey} is already used by the older Member ${keyOwner}; every Member needs its own key`);
  }
  const inboxOwner = inboxOwners.get(inbox);
  if (inboxOwner) {
    return reject('InboxPrefixConflict', `inbox prefix ${inbox} is already used by the older Member ${inboxOwner}; choose another spec.inboxPrefix`);
  }
  return undefined;
}

function timeOf(meta: ObjectMeta): number {
  const t = meta.creationTimestamp;
  if (t === undefined) return Number.POSITIVE_INFINITY;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

/**
 * Indices of `members` by creation time, then namespace/name: the order in which conflicts are settled.
 * Fills `keys` with each member's namespace/name. The sort reads flat arrays, not one object per member.
 */
function oldestFirst(members: readonly Member[], keys: string[]): number[] {
  const times = new Float64Array(members.length);
  for (let i = 0; i < members.length; i++) {
    times[i] = timeOf(members[i]!.metadata);
    keys[i] = keyOf(members[i]!.metadata);
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
function byPublicKey(users: readonly UserEntry[]): UserEntry[] {
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
