// Which persisted Rooms hold the stream finalizer and which being deleted take their stream with them,
// decided without I/O. A live Room holds it exactly while it says deletionPolicy Delete; a Room being
// deleted that holds it is retired: its stream is deleted (if it is the Room's own), then the
// finalizer goes and the API server removes the Room.
import type { Room } from '../api/types.js';
import { STREAM_FINALIZER } from '../api/metadata.js';
import { isStreamOf, streamNameOf } from '../auth/rooms.js';

export interface FinalizerPlan {
  add: Room[];
  remove: Room[];
  /** Rooms being deleted with their stream; `stream` undefined when the Room names no valid one. */
  retire: { room: Room; stream: string | undefined }[];
}

const holds = (room: Room) => (room.metadata.finalizers ?? []).includes(STREAM_FINALIZER);

export function planStreamFinalizers(rooms: readonly Room[]): FinalizerPlan {
  const plan: FinalizerPlan = { add: [], remove: [], retire: [] };
  for (const room of rooms) {
    if (room.metadata.deletionTimestamp) {
      if (!holds(room)) continue;
      const stream = streamNameOf(room);
      plan.retire.push({ room, stream: room.spec?.jetstream && isStreamOf(room.metadata.namespace, stream) ? stream : undefined });
      continue;
    }
    const wants = room.spec?.jetstream?.deletionPolicy === 'Delete';
    if (wants && !holds(room)) plan.add.push(room);
    if (!wants && holds(room)) plan.remove.push(room);
  }
  return plan;
}

/** Per namespace, the streams of retiring Rooms (what the operator's stream user may still delete). */
export function retiringStreams(plan: FinalizerPlan): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const { room, stream } of plan.retire) {
    if (!stream) continue;
    const list = out.get(room.metadata.namespace) ?? [];
    out.set(room.metadata.namespace, [...list, stream]);
  }
  return out;
}
