// One Member on its own: name, spec, key (its own or the operator's), inbox within its namespace, and
// the permissions each room reference grants for its access mode.
import type { AccessMode, Member, MemberRoomStatus } from '../api/types.js';
import { formatErrors, validateMemberSpec } from '../api/validate.js';
import * as defaults from '../api/defaults.js';
import { canonical } from './subjects.js';
import { consumerName, ownConsumerSubjects, ownPushConsumerSubjects, produceSubjects, pushDeliverSubject, readSubjects } from './jetstream.js';
import { JETSTREAM_NAME_MAX_LENGTH } from '../api/grammar.js';
import { isValidPublicUserKey } from './keys.js';
import { frozenPermissions, reject, type CompileOptions, type MemberResult, type RoomResult } from './model.js';
import { checkName, refusal, type RoomEntry, type RoomIndex } from './rooms.js';
import { flat } from '../strings.js';

const PUBLISHES: ReadonlySet<AccessMode> = new Set(['Publish', 'PublishSubscribe', 'Request']);
const SUBSCRIBES: ReadonlySet<AccessMode> = new Set(['Subscribe', 'PublishSubscribe', 'Respond']);
/** Of a persisted room: who gets its acks (publishers) and who reads its stream. */
const PRODUCES: ReadonlySet<AccessMode> = new Set(['Publish', 'PublishSubscribe']);
const READS: ReadonlySet<AccessMode> = new Set(['Subscribe', 'PublishSubscribe']);

/** Compiles one Member on its own; the rooms it is granted are also appended to `granted`. */
export function compileMember(
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
  for (const ref of spec.rooms ?? []) {
    for (const c of [...(ref.consumers ?? []), ...(ref.pushConsumers ?? [])]) {
      const full = consumerName(name, c);
      if (full.length > JETSTREAM_NAME_MAX_LENGTH) {
        return { ...reject('InvalidSpec', `consumer ${c} would be named ${full}, longer than the ${JETSTREAM_NAME_MAX_LENGTH} characters JetStream allows: shorten it`), rooms: [] };
      }
    }
  }

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
    const refused =
      refusal(entry, roomNamespace, namespace, ref.access) ??
      (conflicts.has(`${namespace} ${roomNamespace}/${ref.room}`) ? 'SubjectConflict' : undefined) ??
      // A stream lives in its room's account: a guest gets the room's subject, not its stream's API.
      ((ref.consumers || ref.pushConsumers) && (roomNamespace !== namespace || !entry?.verdict.stream) ? 'ConsumersNotOffered' : undefined);
    if (refused || !entry) {
      refs[r] = { room: ref.room, namespace: roomNamespace, access: ref.access, granted: false, reason: refused };
      unresolved++;
      continue;
    }
    const { subject } = entry.verdict as RoomResult & { subject: string };
    const stream = roomNamespace === namespace ? entry.verdict.stream : undefined;
    const consumers = stream ? ref.consumers?.map((c) => consumerName(name, c)) : undefined;
    const pushConsumers = !stream ? undefined : ref.pushConsumers?.map((c) => ({ name: consumerName(name, c), deliverSubject: pushDeliverSubject(inboxPrefix, consumerName(name, c)) }));
    refs[r] = {
      room: ref.room,
      namespace: roomNamespace,
      access: ref.access,
      granted: true,
      reason: 'Granted',
      subject,
      ...(stream && { stream }),
      ...(consumers && { consumers }),
      ...(pushConsumers && { pushConsumers }),
    };
    granted.push(entry);
    if (PUBLISHES.has(ref.access)) publish.push(subject);
    if (SUBSCRIBES.has(ref.access)) subscribe.push(subject);
    if (stream && PRODUCES.has(ref.access)) publish.push(...(entry.produce ??= produceSubjects(stream)));
    if (stream && READS.has(ref.access)) publish.push(...(entry.consume ??= readSubjects(stream)));
    for (const c of consumers ?? []) publish.push(...ownConsumerSubjects(stream!, c));
    for (const c of pushConsumers ?? []) publish.push(...ownPushConsumerSubjects(stream!, c.name));
    if (ref.access === 'Respond') allowResponses = true;
  }

  const permissions = frozenPermissions({
    publish: { allow: canonical(publish), deny: canonical(spec.deny?.publish ?? []) },
    subscribe: { allow: canonical(subscribe), deny: canonical(spec.deny?.subscribe ?? []) },
    allowResponses,
  });
  return {
    accepted: true,
    reason: unresolved === 0 ? 'Accepted' : 'SomeRoomsUnresolved',
    message:
      unresolved === 0
        ? acceptedMessage(refs.length)
        : `in the NATS config; not granted: ${refs.filter((r) => !r.granted).map(describeUnresolved).join('; ')}`,
    publicKey,
    keySource,
    inboxPrefix,
    rooms: refs,
    permissions,
  };
}

export const notGranted = (ref: MemberRoomStatus): MemberRoomStatus => ({ ...ref, granted: false, reason: 'MemberRejected' });

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
    case 'ConsumersNotOffered':
      return `${room} keeps no stream this Member's consumers can live on (consumers need a room of the Member's own namespace with spec.jetstream): remove them from this reference, or persist the room`;
    case 'SubjectConflict':
      return `${room}'s subject overlaps the subject of an older room of namespace ${ref.namespace} that this namespace's Members joined; join one of them, or give them subjects that do not overlap`;
    default:
      return `${room}: ${ref.reason}`;
  }
}

/** One string per room count, shared by every Member with that many rooms (one copy, not 10,000). */
const acceptedMessages: string[] = [];
function acceptedMessage(rooms: number): string {
  return (acceptedMessages[rooms] ??= flat(`in the NATS config with ${rooms} room(s)`));
}
