// What one object's verdict depends on others for: rooms whose guest offers overlap (the younger is
// rejected), guest imports that partly overlap (refused), and keys or inboxes an older Member holds.
// Always settled oldest first, so that the older object keeps what it has.
import type { Member } from '../api/types.js';
import { covers, intersects } from './subjects.js';
import { keyOf, reject, type MemberResult, type Verdict } from './model.js';
import { byAgeOf } from './ordering.js';
import { guestAccessOf, refusal, type RoomEntry, type RoomIndex } from './rooms.js';

const byAge = (a: RoomEntry, b: RoomEntry) => byAgeOf(a.room.metadata, b.room.metadata);

/**
 * A room offering Request to other namespaces and one offering Subscribe must not overlap in subjects
 * (see accounts.ts): of two such rooms of one namespace, the younger is rejected.
 */
export function rejectOverlappingOffers(roomIndex: RoomIndex): void {
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
export function importConflicts(members: readonly Member[], roomIndex: RoomIndex): Set<string> {
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

/** Registers the member's key and inbox; returns the rejection when an older member holds either. */
export function claimConflict(result: MemberResult, reserved: ReadonlySet<string>, keyOwners: ReadonlyMap<string, string>, inboxOwners: ReadonlyMap<string, string>): Verdict | undefined {
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
