// Rooms on their own: a verdict per Room (name, spec, subject within the namespace's roots, stream
// name within the namespace), the index member references look rooms up in, and why a reference is
// not granted.
import type { AccessMode, MemberRoomStatus, ObjectMeta, Room } from '../api/types.js';
import { formatErrors, validateRoomSpec } from '../api/validate.js';
import * as defaults from '../api/defaults.js';
import { isDnsLabel, isDnsSubdomain, isSubject, JETSTREAM_NAME_MAX_LENGTH, STREAM_NAME_PATTERN } from '../api/grammar.js';
import { isWithinRoot } from './subjects.js';
import { reject, type CompileOptions, type RoomRefReason, type RoomResult, type Verdict } from './model.js';

/** A room as member references see it. */
export interface RoomEntry {
  room: Room;
  verdict: RoomResult;
  /** JetStream subjects of the room's stream, built once per room rather than once per reference. */
  produce?: string[];
  consume?: string[];
  /** The last member (by its position, oldest first) counted in verdict.memberCount. */
  countedFor: number;
}

/** Rooms by namespace, then name. */
export type RoomIndex = Map<string, Map<string, RoomEntry>>;

export const entryOf = (roomIndex: RoomIndex, ref: MemberRoomStatus) => roomIndex.get(ref.namespace)!.get(ref.room)!;

/** What a Room offers the members of other namespaces it allows (spec.guestAccess). */
export const guestAccessOf = (room: Room): 'Subscribe' | 'Request' => room.spec?.guestAccess ?? 'Subscribe';

/** The subject roots of a namespace: `rooms.<namespace>` plus what the cluster admin added. */
export function subjectRootsOf(namespace: string, options: CompileOptions): string[] {
  return [defaults.defaultSubjectRoot(namespace), ...(options.extraSubjectRoots?.[namespace] ?? [])];
}

export function checkName(meta: ObjectMeta): Verdict | undefined {
  if (!isDnsLabel(meta.namespace)) return reject('InvalidName', `namespace ${JSON.stringify(meta.namespace)} is not a valid namespace name`);
  if (!isDnsSubdomain(meta.name)) return reject('InvalidName', `name ${JSON.stringify(meta.name)} is not a valid object name`);
  return undefined;
}

/** The stream a persisted Room names (or its default); check it with isStreamOf() before use. */
export const streamNameOf = (room: Room): string => room.spec?.jetstream?.stream ?? defaults.defaultStreamName(room.metadata.namespace, room.metadata.name);

/** Is `stream` a stream name of namespace `namespace` (one safe token, `<namespace>_` and more)? */
export function isStreamOf(namespace: string, stream: string): boolean {
  const prefix = defaults.streamNamespacePart(namespace);
  return stream.length > prefix.length && stream.length <= JETSTREAM_NAME_MAX_LENGTH && stream.startsWith(prefix) && STREAM_NAME.test(stream);
}

const STREAM_NAME = new RegExp(STREAM_NAME_PATTERN);

export function compileRoom(room: Room, options: CompileOptions): RoomResult {
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
    stream = streamNameOf(room);
    if (stream.length > JETSTREAM_NAME_MAX_LENGTH) {
      return { ...reject('InvalidSpec', `the default stream name ${stream} is longer than JetStream allows (${JETSTREAM_NAME_MAX_LENGTH}): set spec.jetstream.stream`), subject, memberCount: 0 };
    }
    if (!isStreamOf(namespace, stream)) {
      return {
        ...reject('StreamOutsideNamespace', `stream ${stream} must be named ${defaults.streamNamespacePart(namespace)}<something>, so that rooms can only grant streams of their own namespace`),
        subject,
        memberCount: 0,
      };
    }
  }
  return { accepted: true, reason: 'Accepted', message: `grants ${subject}`, subject, stream, memberCount: 0 };
}

/** Why a member of `namespace` is not granted the room it references, or undefined when it is. */
export function refusal(entry: RoomEntry | undefined, roomNamespace: string, namespace: string, access: AccessMode): RoomRefReason | undefined {
  if (!entry) return 'RoomNotFound';
  if (!entry.verdict.accepted || !entry.verdict.subject) return 'RoomRejected';
  if (roomNamespace === namespace) return undefined;
  if (!(entry.room.spec?.allowedNamespaces ?? []).includes(namespace)) return 'RoomNotAllowed';
  // Across namespaces a room is its namespace's export: read (Subscribe) or called (Request).
  if (access !== guestAccessOf(entry.room)) return 'AccessNotOffered';
  return undefined;
}
