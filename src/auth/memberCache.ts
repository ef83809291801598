// Per Member, its last compileMember() result and everything it was computed from, so that a compile
// after one change redoes that member instead of all of them. compile() gives the same answer with or
// without it (a property test holds them together); the cache only skips work.
//
// A result is reused only while every input compileMember() reads is the same: the Member itself (the
// same object, or the same uid at the same generation: the API server raises a custom resource's
// generation on every change outside metadata and status, and compileMember() reads of metadata only the
// immutable namespace and name), its generated key and credentials problem, and per room reference the
// room (by the same rule), the room's verdict (accepted, subject, stream) and the import conflict. The
// default permissions are the cache's own: other ones empty it.
import type { Member, ObjectMeta, Room } from '../api/types.js';
import { compileMember } from './members.js';
import { objectKey, type CompileOptions, type MemberResult } from './model.js';
import { timeOf, type Identity } from './ordering.js';
import type { RoomEntry, RoomIndex } from './rooms.js';

interface RoomInput {
  room: Room | undefined;
  accepted: boolean | undefined;
  subject: string | undefined;
  stream: string | undefined;
  conflict: boolean;
}

interface Cached {
  member: Member;
  generatedKey: string | undefined;
  problem: string | undefined;
  rooms: RoomInput[];
  result: MemberResult;
  /** The compile that last used it (see sweep()). */
  seen: number;
}

export class MemberCache {
  private readonly entries = new Map<string, Cached>();
  private defaults: CompileOptions['defaultPermissions'];
  private pass = 0;
  /** Results reused and computed by the last compile, for benchmarks and tests. */
  reused = 0;
  computed = 0;

  /** Called once per compile, before the first member. */
  begin(options: CompileOptions): void {
    if (options.defaultPermissions !== this.defaults) {
      this.entries.clear();
      this.defaults = options.defaultPermissions;
    }
    this.pass++;
    this.reused = this.computed = 0;
  }

  /** compileMember()'s answer for this member, reused when none of its inputs changed. */
  compile(member: Member, key: string, options: CompileOptions, roomIndex: RoomIndex, conflicts: ReadonlySet<string>, granted: RoomEntry[]): MemberResult {
    const generatedKey = options.generatedKeys?.get(key);
    const problem = options.credentialProblems?.get(key);
    const last = this.entries.get(key);
    if (last && sameObject(last.member, member) && last.generatedKey === generatedKey && last.problem === problem && this.sameRooms(last, member, roomIndex, conflicts)) {
      last.seen = this.pass;
      last.member = member;
      this.reused++;
      // What compileMember() would have appended: the entry of each room it granted.
      for (let r = 0; r < last.result.rooms.length; r++) if (last.result.rooms[r]!.granted) granted.push(this.scratch[r]!);
      return last.result;
    }
    const result = compileMember(member, key, options, roomIndex, conflicts, granted);
    const rooms = referencesOf(member).map((ref) => {
      const entry = lookUp(ref, member, roomIndex);
      return { room: entry?.room, accepted: entry?.verdict.accepted, subject: entry?.verdict.subject, stream: entry?.verdict.stream, conflict: conflictOf(ref, member, conflicts) };
    });
    this.entries.set(key, { member, generatedKey, problem, rooms, result, seen: this.pass });
    this.computed++;
    return result;
  }

  /** The room entries sameRooms() looked up, by reference: reused while a member is, never kept. */
  private readonly scratch: (RoomEntry | undefined)[] = [];

  /** Do the member's references find what they found when its result was computed? */
  private sameRooms(last: Cached, member: Member, roomIndex: RoomIndex, conflicts: ReadonlySet<string>): boolean {
    const refs = referencesOf(member);
    if (refs.length !== last.rooms.length) return false;
    for (let r = 0; r < refs.length; r++) {
      const was = last.rooms[r]!;
      const entry = lookUp(refs[r], member, roomIndex);
      this.scratch[r] = entry;
      const sameRoom = was.room === entry?.room || (was.room !== undefined && entry !== undefined && sameObject(was.room, entry.room));
      if (!sameRoom || was.accepted !== entry?.verdict.accepted || was.subject !== entry?.verdict.subject || was.stream !== entry?.verdict.stream) return false;
      if (was.conflict !== conflictOf(refs[r], member, conflicts)) return false;
    }
    return true;
  }

  /** Per Member object, its key and creation time (see oldestFirst()). */
  private readonly identities = new WeakMap<Member, Identity>();

  readonly identify = (member: Member): Identity => {
    let known = this.identities.get(member);
    if (!known) this.identities.set(member, (known = { key: objectKey(member), time: timeOf(member.metadata) }));
    return known;
  };

  /** Called after the last member: forgets members the compile did not see (deleted ones). */
  sweep(): void {
    if (this.entries.size === this.reused + this.computed) return;
    for (const [key, entry] of this.entries) if (entry.seen !== this.pass) this.entries.delete(key);
  }
}

/** Same inputs: the same object, or the same object at the same generation (see the top of the file). */
function sameObject(a: { metadata: ObjectMeta }, b: { metadata: ObjectMeta }): boolean {
  if (a === b) return true;
  const x = a.metadata;
  const y = b.metadata;
  return x.uid !== undefined && x.uid === y.uid && x.generation !== undefined && x.generation === y.generation && x.namespace === y.namespace && x.name === y.name;
}

const referencesOf = (member: Member): readonly unknown[] => (Array.isArray(member.spec?.rooms) ? member.spec.rooms : []);

/** A reference's room namespace and name, as compileMember() reads them (it reads only valid specs, so this covers more). */
const roomNamespaceOf = (ref: { namespace?: unknown }, member: Member) => (typeof ref.namespace === 'string' ? ref.namespace : member.metadata.namespace);
const isReference = (ref: unknown): ref is { namespace?: unknown; room: string } => ref !== null && typeof ref === 'object' && typeof (ref as { room?: unknown }).room === 'string';

function lookUp(ref: unknown, member: Member, roomIndex: RoomIndex): RoomEntry | undefined {
  return isReference(ref) ? roomIndex.get(roomNamespaceOf(ref, member))?.get(ref.room) : undefined;
}

function conflictOf(ref: unknown, member: Member, conflicts: ReadonlySet<string>): boolean {
  return conflicts.size > 0 && isReference(ref) && conflicts.has(`${member.metadata.namespace} ${roomNamespaceOf(ref, member)}/${ref.room}`);
}
