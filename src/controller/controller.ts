// Wiring of the controller: reflectors feed one coalescing queue with one key (the NATS cluster), and
// the queue runs the reconciler, only on the leader. Standby replicas keep their caches warm.
import type { Member, Room } from '../api/types.js';
import type { OperatorConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Pod, Secret } from '../kube/types.js';
import { CREDENTIALS_SELECTOR } from '../api/metadata.js';
import { EventRecorder } from '../kube/events.js';
import { type KubeClient } from '../kube/client.js';
import { paths } from '../kube/paths.js';
import type { KubeObject } from '../kube/types.js';
import type { Metrics } from '../metrics.js';
import { Reconciler, type Caches } from './reconciler.js';
import type { Rollout } from '../reload/rollout.js';
import type { StreamKeeper } from '../jetstream/streamKeeper.js';
import { Reflector } from '../kube/reflector.js';
import { StatusWriter } from './statusWriter.js';
import { WorkQueue } from './workQueue.js';
import { FIELD_MANAGER } from '../api/metadata.js';

/** Status-only updates (mostly the operator's own writes) change nothing a reconcile reads as input. */
const specChanged = (a: KubeObject, b: KubeObject) =>
  a.metadata.generation !== b.metadata.generation || a.metadata.deletionTimestamp !== b.metadata.deletionTimestamp;

/** Pod changes a rollout depends on (not, say, the operator's own poke annotation). */
const podChanged = (a: KubeObject, b: KubeObject) => {
  const view = (p: KubeObject) => {
    const { status } = p as { status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] } };
    return JSON.stringify([p.metadata.deletionTimestamp, status?.phase, status?.podIP, status?.conditions?.find((c) => c.type === 'Ready')?.status]);
  };
  return view(a) !== view(b);
};

/** Status writes in flight at once (see StatusWriter). */
const STATUS_WRITE_CONCURRENCY = 32;

/** The queue holds one key: every change affects the single config of the NATS cluster. */
export const CLUSTER_KEY = 'nats-cluster';

export interface ControllerDeps {
  client: KubeClient;
  config: OperatorConfig;
  log: Logger;
  metrics: Metrics;
  rollout?: Rollout;
  /** The operator's own NATS user: rendered into the system account, reserved from Members. */
  systemUserKey?: string;
  /** Secret salt of the shard hash (see RenderOptions.shardSalt). */
  shardSalt?: string;
  /** Keeps persisted rooms' streams, through the operator's stream user of each namespace (its key: streamAdminKey). */
  streams?: StreamKeeper;
  streamAdminKey?: (namespace: string) => string;
  /** Whether the lease is still ours right now (leadership lapses at the renew deadline). */
  holdsLease?: () => boolean;
  /** Reflector tuning, for tests of stalls and relists. */
  reflectorTuning?: { watchTimeoutSeconds?: number; stallTimeoutMs?: number; relistIntervalMs?: number };
}

export class Controller {
  readonly queue: WorkQueue;
  readonly reconciler: Reconciler;
  readonly statusWriter: StatusWriter;
  readonly caches: Caches;
  /** Every reflector, for what they share: starting, stopping, being synced. */
  private readonly all: () => Pick<Reflector<KubeObject>, 'start' | 'stop' | 'synced' | 'whenSynced' | 'failures'>[];
  private readonly rooms: Reflector<Room>[];
  private readonly members: Reflector<Member>[];
  private readonly credentials: Reflector<Secret>[];
  private readonly authSecret: Reflector<Secret>;
  private readonly pods: Reflector<Pod>;
  private leading = false;
  private inputVersion = 0;
  private resyncTimer?: NodeJS.Timeout;

  constructor(private readonly deps: ControllerDeps) {
    const { client, config, log, metrics } = deps;
    const enqueue = () => {
      if (this.leading) this.queue.add(CLUSTER_KEY);
    };
    // Inputs of the config: their changes invalidate the reconciler's last compile.
    const inputChanged = () => {
      this.inputVersion++;
      enqueue();
    };
    const reflector = <T extends KubeObject>(
      name: string,
      path: string,
      selectors: { labelSelector?: string; fieldSelector?: string } = {},
      isRelevantUpdate?: (a: T, b: T) => boolean,
      onChange = enqueue,
    ) =>
      new Reflector<T>(client, {
        name,
        path,
        ...selectors,
        ...(isRelevantUpdate && { isRelevantUpdate }),
        onChange,
        log,
        onError: () => metrics.watchErrors.inc({ resource: name }),
        ...deps.reflectorTuning,
      });
    const namespaces: (string | undefined)[] = config.watchNamespaces.length > 0 ? config.watchNamespaces : [undefined];
    this.rooms = namespaces.map((ns) => reflector<Room>('rooms', paths.rooms(ns), {}, specChanged, inputChanged));
    this.members = namespaces.map((ns) => reflector<Member>('members', paths.members(ns), {}, specChanged, inputChanged));
    this.credentials = namespaces.map((ns) => reflector<Secret>('credentials', paths.secrets(ns), { labelSelector: CREDENTIALS_SELECTOR }, undefined, inputChanged));
    // The operator's own writes of the Secret come back as events: only someone else's change matters.
    this.authSecret = reflector<Secret>('auth-secret', paths.secrets(config.natsNamespace), { fieldSelector: `metadata.name=${config.authSecretName}` }, (_, now) => !this.reconciler.secrets.isOwnWrite(now));
    this.pods = reflector<Pod>('nats-pods', paths.pods(config.natsNamespace), { labelSelector: config.natsSelector }, podChanged);

    const all = () => [...this.rooms, ...this.members, ...this.credentials, this.authSecret, this.pods];
    this.all = all;
    const caches: Caches = {
      synced: () => all().every((r) => r.synced),
      inputVersion: () => this.inputVersion,
      rooms: () => this.rooms.flatMap((r) => r.list()),
      members: () => this.members.flatMap((r) => r.list()),
      credentials: () => this.credentials.flatMap((r) => r.list()),
      authSecret: () => this.authSecret.get(config.natsNamespace, config.authSecretName),
      pods: () => this.pods.list(),
    };
    this.caches = caches;
    this.statusWriter = new StatusWriter({ client, log, metrics, fieldManager: FIELD_MANAGER, concurrency: STATUS_WRITE_CONCURRENCY });
    this.reconciler = new Reconciler({
      statusWriter: this.statusWriter,
      client,
      caches,
      config,
      log,
      metrics,
      events: new EventRecorder(client, log),
      ...(deps.rollout && { rollout: deps.rollout }),
      ...(deps.systemUserKey && { systemUserKey: deps.systemUserKey }),
      ...(deps.shardSalt && { shardSalt: deps.shardSalt }),
      ...(deps.streams && { streams: deps.streams }),
      ...(deps.streamAdminKey && { streamAdminKey: deps.streamAdminKey }),
    });
    this.queue = new WorkQueue(
      async () => {
        if (!this.leading || !(deps.holdsLease?.() ?? true)) return;
        const end = metrics.reconcileSeconds.startTimer();
        try {
          const result = await this.reconciler.reconcile();
          metrics.reconciles.inc({ result: 'ok' });
          return result;
        } catch (e) {
          metrics.reconciles.inc({ result: 'error' });
          throw e;
        } finally {
          end();
        }
      },
      {
        debounceMs: config.debounceMs,
        maxDelayMs: config.maxDelayMs,
        onError: (_key, error, retryInMs) => log.error('reconcile failed; retrying', { error, retryInMs }),
      },
    );
  }

  /** Starts the caches (every replica). */
  start(): void {
    for (const r of this.all()) r.start();
    this.resyncTimer = setInterval(() => {
      if (this.leading) this.queue.add(CLUSTER_KEY);
    }, this.deps.config.resyncIntervalMs);
    this.resyncTimer.unref();
  }

  /** Begins reconciling (the leader only). */
  startLeading(): void {
    this.leading = true;
    this.deps.metrics.leader.set(1);
    this.queue.add(CLUSTER_KEY);
  }

  stopLeading(): void {
    this.leading = false;
    this.statusWriter.clear();
    // Writes dropped here must be decided again by the next leader term, not remembered as done.
    this.reconciler.forgetStatuses();
    this.deps.metrics.leader.set(0);
  }

  get synced(): boolean {
    return this.caches.synced();
  }

  /** Every watch is failing: the process is unhealthy and should be restarted. */
  get watchesFailing(): boolean {
    return this.all().every((r) => r.failures >= 10);
  }

  async whenSynced(): Promise<void> {
    await Promise.all(this.all().map((r) => r.whenSynced()));
  }

  async stop(): Promise<void> {
    this.stopLeading();
    clearInterval(this.resyncTimer);
    await this.queue.stop();
    await Promise.all(this.all().map((r) => r.stop()));
  }
}
