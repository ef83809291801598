// Keeps each persisted room's stream and its members' consumers, through the operator's stream user in
// the room's namespace account (see adminUser.ts; its permissions name only that namespace's streams).
// Run after a generation is enforced, so the user and the members' permissions are in force everywhere.
import { connect, nkeyAuthenticator, type JetStreamManager, type NatsConnection } from 'nats';
import type { Room, StreamState } from '../api/types.js';
import type { StreamReason } from '../api/conditions.js';
import { keyOf, type Compiled } from '../auth/model.js';
import { STREAM_ADMIN_INBOX } from '../auth/jetstream.js';
import type { Logger } from '../log.js';
import { streamAdminOf } from './adminUser.js';
import { ROOM_METADATA_KEY, streamAction, wantedStream, type WantedStream } from './streamConfig.js';

export interface StreamOutcome {
  ready: boolean;
  reason: StreamReason;
  message: string;
  state?: StreamState;
}

interface Admin {
  nc: NatsConnection;
  jsm: JetStreamManager;
}

export class StreamKeeper {
  private readonly admins = new Map<string, Promise<Admin>>();

  constructor(
    private readonly systemSeed: string,
    private readonly log: Logger,
    private readonly timeoutMs = 5000,
  ) {}

  /**
   * Per persisted room (`namespace/name`), how its stream stands once this pass is done. `retiring`:
   * namespaces whose stream user is still needed for Rooms being deleted.
   */
  async ensure(rooms: readonly Room[], compiled: Compiled, urls: readonly string[], retiring: ReadonlySet<string> = new Set()): Promise<Map<string, StreamOutcome>> {
    const out = new Map<string, StreamOutcome>();
    const consumers = consumersByStream(compiled);
    const namespaces = new Set<string>();
    await Promise.all(
      rooms.map(async (room) => {
        const verdict = compiled.rooms.get(keyOf(room.metadata));
        if (!verdict?.accepted || !verdict.stream || !verdict.subject) return;
        const { namespace } = room.metadata;
        namespaces.add(namespace);
        const wanted = wantedStream(room, verdict.stream, verdict.subject);
        const deletion = room.spec?.jetstream?.deletionPolicy === 'Delete' ? 'it is deleted with the Room (deletionPolicy Delete)' : 'it is kept when the Room is deleted (deletionPolicy Retain)';
        out.set(keyOf(room.metadata), await this.keep(namespace, wanted, consumers.get(`${namespace} ${verdict.stream}`) ?? new Map(), urls, deletion));
      }),
    );
    // Accounts without persisted rooms any more: their stream user is gone from the config.
    for (const namespace of [...this.admins.keys()]) if (!namespaces.has(namespace) && !retiring.has(namespace)) void this.drop(namespace);
    return out;
  }

  private async keep(namespace: string, wanted: WantedStream, consumers: ReadonlyMap<string, string | undefined>, urls: readonly string[], deletion: string): Promise<StreamOutcome> {
    let jsm: JetStreamManager;
    try {
      jsm = (await this.admin(namespace, urls)).jsm;
    } catch (e) {
      void this.drop(namespace);
      return { ready: false, reason: 'JetStreamUnavailable', message: `cannot reach JetStream in namespace ${namespace}'s account: ${messageOf(e)}` };
    }
    try {
      const existing = await jsm.streams.info(wanted.name).then(
        (info) => info.config as unknown as Partial<WantedStream>,
        (e) => (isNotFound(e) ? undefined : Promise.reject(e)),
      );
      const action = streamAction(existing, wanted);
      if (action.kind === 'refuse') return { ready: false, reason: action.reason, message: action.message };
      if (action.kind === 'create') await jsm.streams.add(wanted as never);
      if (action.kind === 'update') await jsm.streams.update(wanted.name, wanted as never);
      if (action.kind !== 'none') this.log.info(`stream ${action.kind}d`, { namespace, stream: wanted.name });

      // Per consumer on the stream, where it delivers (undefined: a pull consumer).
      const present = new Map<string, string | undefined>();
      for await (const c of jsm.consumers.list(wanted.name)) present.set(c.name, c.config.deliver_subject || undefined);
      // Every consumer on the stream is the operator's (members cannot create any): those no Member lists
      // go, and one that changed between pull and push (or its inbox) is made again.
      for (const [name, deliver] of present) {
        if (!consumers.has(name) || consumers.get(name) !== deliver) {
          await jsm.consumers.delete(wanted.name, name);
          present.delete(name);
        }
      }
      for (const [name, deliver] of consumers) {
        if (present.has(name)) continue;
        await jsm.consumers.add(wanted.name, {
          durable_name: name,
          ack_policy: 'explicit' as never,
          deliver_policy: 'all' as never,
          // Push: into the member's own inbox, with flow control so a slow member is not flooded.
          ...(deliver && { deliver_subject: deliver, flow_control: true, idle_heartbeat: PUSH_HEARTBEAT_NS }),
        });
      }

      const { state } = await jsm.streams.info(wanted.name);
      return {
        ready: true,
        reason: 'StreamReady',
        message: `stream ${wanted.name} captures ${wanted.subjects[0]} with ${consumers.size} member consumer(s); ${deletion}`,
        state: { messages: state.messages, bytes: state.bytes, firstSequence: state.first_seq, lastSequence: state.last_seq, consumers: state.consumer_count },
      };
    } catch (e) {
      const message = messageOf(e);
      if (/subjects overlap/i.test(message)) {
        return { ready: false, reason: 'SubjectsOverlap', message: `another stream of namespace ${namespace} captures subjects that overlap ${wanted.subjects[0]}: ${message}` };
      }
      return { ready: false, reason: 'StreamError', message: `JetStream refused stream ${wanted.name}: ${message}` };
    }
  }

  /**
   * Deletes a retiring Room's stream, if it is that Room's own (a stream another Room named, or one the
   * operator does not keep, stays). Resolves with what happened; rejects when JetStream could not answer.
   */
  async retire(namespace: string, stream: string, roomKey: string, urls: readonly string[]): Promise<'deleted' | 'absent' | 'not-owned'> {
    const { jsm } = await this.admin(namespace, urls);
    const info = await jsm.streams.info(stream).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
    if (!info) return 'absent';
    if (info.config.metadata?.[ROOM_METADATA_KEY] !== roomKey) return 'not-owned';
    await jsm.streams.delete(stream);
    this.log.info('stream deleted with its Room', { namespace, stream, room: roomKey });
    return 'deleted';
  }

  private admin(namespace: string, urls: readonly string[]): Promise<Admin> {
    let admin = this.admins.get(namespace);
    if (!admin) {
      const { seed } = streamAdminOf(this.systemSeed, namespace);
      admin = connect({
        servers: [...urls],
        authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
        inboxPrefix: STREAM_ADMIN_INBOX,
        timeout: this.timeoutMs,
        ignoreClusterUpdates: true,
        name: `nats-rooms-operator streams ${namespace}`,
      }).then(async (nc) => ({ nc, jsm: await nc.jetstreamManager({ checkAPI: false, timeout: this.timeoutMs }) }));
      this.admins.set(namespace, admin);
    }
    return admin.then(async (a) => {
      if (!a.nc.isClosed()) return a;
      this.admins.delete(namespace);
      return this.admin(namespace, urls);
    });
  }

  private async drop(namespace: string): Promise<void> {
    const admin = this.admins.get(namespace);
    this.admins.delete(namespace);
    await admin?.then((a) => a.nc.close()).catch(() => undefined);
  }

  async close(): Promise<void> {
    await Promise.all([...this.admins.keys()].map((ns) => this.drop(ns)));
  }
}

/** Heartbeats of push consumers: a member's client notices a stalled delivery within a few of these. */
const PUSH_HEARTBEAT_NS = 5e9;

/** Per `namespace stream`, the consumers its members list, with the inbox subject of push consumers. */
function consumersByStream(compiled: Compiled): Map<string, Map<string, string | undefined>> {
  const out = new Map<string, Map<string, string | undefined>>();
  for (const [key, result] of compiled.members) {
    if (!result.accepted) continue;
    const namespace = key.slice(0, key.indexOf('/'));
    for (const ref of result.rooms) {
      if (!ref.granted || !ref.stream || (!ref.consumers && !ref.pushConsumers)) continue;
      let map = out.get(`${namespace} ${ref.stream}`);
      if (!map) out.set(`${namespace} ${ref.stream}`, (map = new Map()));
      for (const c of ref.consumers ?? []) map.set(c, undefined);
      for (const c of ref.pushConsumers ?? []) map.set(c.name, c.deliverSubject);
    }
  }
  return out;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
const isNotFound = (e: unknown) => /stream not found/i.test(messageOf(e)) || (e as { api_error?: { err_code?: number } })?.api_error?.err_code === 10059;
