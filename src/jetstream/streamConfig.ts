// A persisted room's stream as JetStream should hold it, decided without I/O: the config the Room
// asks for (with defaults), whether a stream found in the account is the room's own, and whether it
// can be brought to the wanted config by an update or only by deleting it (which the operator never
// does on its own: the messages would be lost).
import type { JetStreamSpec, Room } from '../api/types.js';

/** Stream metadata that marks a stream as the operator's for one Room. */
export const ROOM_METADATA_KEY = 'natsrooms.io/room';

/** The fields of nats-server's StreamConfig the operator sets (JSON names, as the API takes them). */
export interface WantedStream {
  name: string;
  subjects: string[];
  storage: 'file' | 'memory';
  num_replicas: number;
  retention: 'limits' | 'interest' | 'workqueue';
  /** Nanoseconds; 0 is no limit. */
  max_age: number;
  /** -1 is no limit. */
  max_bytes: number;
  max_msgs: number;
  discard: 'old' | 'new';
  allow_direct: boolean;
  metadata: Record<string, string>;
}

const UNIT_NS: Record<string, number> = { ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** `1h30m` as nanoseconds (the schema allows only such durations). */
export function durationNs(duration: string): number {
  let total = 0;
  for (const [, n, unit] of duration.matchAll(/([0-9]+)(ms|s|m|h)/g)) total += Number(n) * UNIT_NS[unit!]!;
  return total;
}

export function wantedStream(room: Room, stream: string, subject: string): WantedStream {
  const js: JetStreamSpec = room.spec?.jetstream ?? {};
  return {
    name: stream,
    subjects: [subject],
    storage: js.storage === 'Memory' ? 'memory' : 'file',
    num_replicas: js.replicas ?? 1,
    retention: js.retention === 'Interest' ? 'interest' : js.retention === 'WorkQueue' ? 'workqueue' : 'limits',
    max_age: js.maxAge ? durationNs(js.maxAge) : 0,
    max_bytes: js.maxBytes ?? -1,
    max_msgs: js.maxMessages ?? -1,
    discard: js.discard === 'New' ? 'new' : 'old',
    // Direct get serves readers' history without a consumer (and from any replica).
    allow_direct: true,
    metadata: { [ROOM_METADATA_KEY]: `${room.metadata.namespace}/${room.metadata.name}` },
  };
}

export type StreamAction =
  | { kind: 'create' }
  | { kind: 'none' }
  | { kind: 'update' }
  | { kind: 'refuse'; reason: 'NameTaken' | 'ChangeNotAllowed'; message: string };

/** What the stream found in the account (undefined: none) needs to become `wanted`. */
export function streamAction(existing: Partial<WantedStream> | undefined, wanted: WantedStream): StreamAction {
  if (!existing) return { kind: 'create' };
  const owner = existing.metadata?.[ROOM_METADATA_KEY];
  if (owner !== wanted.metadata[ROOM_METADATA_KEY]) {
    return {
      kind: 'refuse',
      reason: 'NameTaken',
      message: `a stream named ${wanted.name} exists and is ${owner ? `the stream of room ${owner}` : 'not kept by the operator'}; name another in spec.jetstream.stream`,
    };
  }
  // JetStream cannot change these on a stream that holds messages; deleting it would lose them.
  for (const field of ['storage', 'retention'] as const) {
    if (existing[field] !== undefined && existing[field] !== wanted[field]) {
      return {
        kind: 'refuse',
        reason: 'ChangeNotAllowed',
        message: `the stream's ${field} is ${existing[field]} and cannot become ${wanted[field]} (JetStream does not change it on an existing stream); set it back, or delete the stream to recreate it (its messages are lost)`,
      };
    }
  }
  const same =
    sameList(existing.subjects ?? [], wanted.subjects) &&
    existing.num_replicas === wanted.num_replicas &&
    (existing.max_age ?? 0) === wanted.max_age &&
    (existing.max_bytes ?? -1) === wanted.max_bytes &&
    (existing.max_msgs ?? -1) === wanted.max_msgs &&
    existing.discard === wanted.discard &&
    existing.allow_direct === wanted.allow_direct;
  return same ? { kind: 'none' } : { kind: 'update' };
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((s, i) => s === b[i]);
