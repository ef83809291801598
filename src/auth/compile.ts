// compile(): Rooms and Members in, NATS users with their permissions and a verdict per object out.
// Pure and deterministic: no I/O, no clock, inputs never mutated. Rejected objects are left out of the
// model and never change anyone else's permissions; everything a user can set is checked here.
// The parts: model.ts (types), rooms.ts, members.ts, conflicts.ts, budgets.ts, ordering.ts; this file
// puts them in order. memberCache.ts lets a compile reuse the last one's per-member results.
import type { Member, Room } from '../api/types.js';
import { isDnsLabel, isSubject } from '../api/grammar.js';
import { isLiteral, isWithinRoot } from './subjects.js';
import { keyWithoutSeed, LOCKED_USER_KEY } from './keys.js';
import { accountName, wireAccounts, type AccountJetStream, type GuestUse } from './accounts.js';
import { BudgetTracker, overBudget, userEntryBytes } from './budgets.js';
import { claimConflict, importConflicts, rejectOverlappingOffers } from './conflicts.js';
import { compileMember, notGranted } from './members.js';
import { DEFAULT_ACCOUNT, DEFAULT_JETSTREAM_LIMITS, keyOf, reject, type CompileOptions, type Compiled, type MemberResult, type RoomResult, type UserEntry } from './model.js';
import { byPublicKey, oldestFirst } from './ordering.js';
import { compileRoom, entryOf, guestAccessOf, isStreamOf, type RoomEntry, type RoomIndex } from './rooms.js';

export function compile(rooms: readonly Room[], members: readonly Member[], options: CompileOptions = {}): Compiled {
  checkOptions(options);
  const roomResults = new Map<string, RoomResult>();
  // Member references hold a namespace and a name: a two-level index finds their room without building
  // a `namespace/name` string per reference. References are validated (a DNS label and subdomain, no
  // `/`), so the only rooms they can reach are those whose key splits exactly there, as before.
  const roomIndex: RoomIndex = new Map();
  const roomBudgets = new BudgetTracker(options.budgets);
  // Per namespace, its accepted rooms' streams (one stream, one room: the older keeps it).
  const streams = new Map<string, Map<string, string>>();
  const byAge = oldestFirst(rooms, new Array(rooms.length)).map((r) => rooms[r]!);
  for (const room of byAge) {
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
  for (const room of byAge) {
    const entry = roomIndex.get(room.metadata.namespace)!.get(room.metadata.name)!;
    const { verdict } = entry;
    if (!verdict.accepted || !verdict.stream) continue;
    let own = streams.get(room.metadata.namespace);
    if (!own) streams.set(room.metadata.namespace, (own = new Map()));
    const holder = own.get(verdict.stream);
    if (!holder) own.set(verdict.stream, keyOf(room.metadata));
    // In place: the verdict is also the room's entry in the results.
    else Object.assign(verdict, reject('StreamConflict', `stream ${verdict.stream} is already the stream of the older room ${holder}; name another in spec.jetstream.stream`), { stream: undefined });
  }

  // Each member on its own first, then what depends on the others: conflicts over keys and inboxes,
  // settled oldest first so that the older Member keeps its key or inbox. The second pass is the one
  // working with Maps as large as the member count; on its own, it keeps them in the cache.
  const keys: string[] = new Array(members.length);
  const order = oldestFirst(members, keys, options.cache?.identify);
  const conflicts = importConflicts(order.map((m) => members[m]!), roomIndex);
  const granted: RoomEntry[] = [];
  const cache = options.cache;
  cache?.begin(options);
  const results = order.map((m, i) => {
    granted.length = 0;
    const result = (cache ?? MEMBER_COMPILER).compile(members[m]!, keys[m]!, options, roomIndex, conflicts, granted);
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
  cache?.sweep();

  const memberResults = new Map<string, MemberResult>();
  const keyOwners = new Map<string, string>();
  const inboxOwners = new Map<string, string>();
  for (const [namespace, retiring] of options.retiringStreams ?? []) {
    let own = streams.get(namespace);
    if (!own) streams.set(namespace, (own = new Map()));
    for (const stream of retiring) if (isStreamOf(namespace, stream) && !own.has(stream)) own.set(stream, 'retiring');
  }
  const jetstream = accountsJetStream(streams, options);
  const reserved = new Set([LOCKED_USER_KEY, ...(options.reservedKeys ?? []), ...[...jetstream.values()].map((j) => j.adminKey)]);
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
        // A copy: the result may be the cache's, reused by the next compile.
        results[i] = { ...result, ...conflict, permissions: undefined, rooms: result.rooms.map(notGranted) };
      }
    }
    const final = results[i]!;
    memberResults.set(key, final);
    if (final.accepted) settled.push({ key, namespace, result: final });
  }

  const users: UserEntry[] = [];
  const namespaces = new Set<string>();
  for (const { key, namespace, result } of settled) {
    users.push({ publicKey: result.publicKey!, member: key, account: accountName(prefix, namespace), permissions: result.permissions! });
    namespaces.add(namespace);
  }
  const model = { account: prefix, users: byPublicKey(users), accounts: wireAccounts(prefix, namespaces, guestUses(settled, roomIndex), jetstream) };
  return { model, rooms: roomResults, members: memberResults };
}

/** JetStream in each account with a persisted room: its limits, streams and the operator's user. */
function accountsJetStream(streams: ReadonlyMap<string, ReadonlyMap<string, string>>, options: CompileOptions): Map<string, AccountJetStream> {
  const out = new Map<string, AccountJetStream>();
  for (const [namespace, own] of streams) {
    const limits = { ...DEFAULT_JETSTREAM_LIMITS, ...options.jetstreamLimits?.default, ...options.jetstreamLimits?.perNamespace?.[namespace] };
    const adminKey = options.streamAdminKey?.(namespace) ?? keyWithoutSeed(`stream admin of ${namespace}`);
    out.set(namespace, { limits, streams: [...own.keys()].sort(), adminKey });
  }
  return out;
}

interface Settled {
  key: string;
  namespace: string;
  result: MemberResult;
}

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

/** Without a cache: every member compiled afresh. */
const MEMBER_COMPILER = { compile: compileMember };

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
