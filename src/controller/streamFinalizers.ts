// The stream finalizer of persisted Rooms. A live Room holds it exactly while it says deletionPolicy
// Delete; a Room being deleted that holds it is retired: its stream is deleted (if it is the Room's
// own), then the finalizer goes and the API server removes the Room. planStreamFinalizers() decides
// without I/O; StreamFinalizers carries it out.
import { API_VERSION, type Room } from '../api/types.js';
import { STREAM_FINALIZER } from '../api/metadata.js';
import { isStreamOf, streamNameOf } from '../auth/rooms.js';
import { CONTENT_TYPE, ignoreNotFound, type KubeClient } from '../kube/client.js';
import type { EventRecorder } from '../kube/events.js';
import { paths } from '../kube/paths.js';
import type { StreamKeeper } from '../jetstream/streamKeeper.js';
import type { Logger } from '../log.js';

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

export class StreamFinalizers {
  constructor(private readonly deps: { client: KubeClient; log: Logger; events: EventRecorder; streams?: StreamKeeper }) {}

  /** Adds or removes the finalizer where a Room's deletionPolicy says so. True when every change went through. */
  async apply(plan: FinalizerPlan): Promise<boolean> {
    // Without a stream keeper nothing would ever delete the stream and let the Room go: add none.
    const add = this.deps.streams ? plan.add : [];
    const done = await Promise.all([...add.map((room) => this.set(room, true)), ...plan.remove.map((room) => this.set(room, false))]);
    return done.every(Boolean);
  }

  /** Deletes each retiring Room's stream (its own only), then lets the Room go. True when all are done. */
  async retire(retiring: FinalizerPlan['retire'], urls: string[]): Promise<boolean> {
    const done = await Promise.all(
      retiring.map(async ({ room, stream }) => {
        const key = `${room.metadata.namespace}/${room.metadata.name}`;
        if (stream && this.deps.streams) {
          try {
            const result = await this.deps.streams.retire(room.metadata.namespace, stream, key, urls);
            if (result === 'not-owned') {
              void this.deps.events.record({ ...room, apiVersion: API_VERSION, kind: 'Room' }, 'Warning', 'StreamKept', `stream ${stream} is not this Room's own stream; it is kept`);
            }
          } catch (e) {
            this.deps.log.error('could not delete the stream of a deleted Room; retrying', { room: key, stream, error: String(e) });
            return false;
          }
        }
        return this.set(room, false);
      }),
    );
    return done.every(Boolean);
  }

  /**
   * A JSON patch of that Room (its uid tested: never another Room of the same name, and a Room that is
   * gone is not created again, as an apply would) adding or removing only the stream finalizer.
   */
  private async set(room: Room, present: boolean): Promise<boolean> {
    const { namespace, name, uid } = room.metadata;
    const finalizers = room.metadata.finalizers ?? [];
    const at = finalizers.indexOf(STREAM_FINALIZER);
    const uidTest = { op: 'test', path: '/metadata/uid', value: uid };
    const patch = present
      ? [uidTest, finalizers.length === 0 ? { op: 'add', path: '/metadata/finalizers', value: [STREAM_FINALIZER] } : { op: 'add', path: '/metadata/finalizers/-', value: STREAM_FINALIZER }]
      : [uidTest, { op: 'test', path: `/metadata/finalizers/${at}`, value: STREAM_FINALIZER }, { op: 'remove', path: `/metadata/finalizers/${at}` }];
    try {
      await ignoreNotFound(this.deps.client.request('PATCH', `${paths.rooms(namespace)}/${name}`, { contentType: CONTENT_TYPE.jsonPatch, body: patch }));
      return true;
    } catch (e) {
      // A test that failed (the list moved, or another Room by that name) is retried with a fresh cache.
      this.deps.log.warn('could not change the Room stream finalizer; retrying', { room: `${namespace}/${name}`, error: String(e) });
      return false;
    }
  }
}
