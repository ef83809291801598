// One reconcile of the NATS cluster: read the caches as they are, compile, write the Secret when the
// config changed, roll it out, then report on every Room and Member. Level-triggered and idempotent:
// it never looks at which event woke it, and running it twice in a row changes nothing the second time.
import { compile } from '../auth/compile.js';
import type { AuthModel, Compiled, CompileOptions } from '../auth/model.js';
import { withoutAdditions } from '../auth/pressure.js';
import { render, RenderCache, type Rendered } from '../auth/render.js';
import { MemberCache } from '../auth/memberCache.js';
import { API_VERSION, type Member, type Room } from '../api/types.js';
import type { OperatorConfig } from '../config.js';
import type { Logger } from '../log.js';
import { applyCredentials, planCredentials, type CredentialsOutcome } from './credentials.js';
import type { EventRecorder } from '../kube/events.js';
import type { KubeClient } from '../kube/client.js';
import type { Pod, Secret } from '../kube/types.js';
import { clientUrl, type Rollout, type RolloutResult } from '../reload/rollout.js';
import type { StreamKeeper, StreamOutcome } from '../jetstream/streamKeeper.js';
import type { Metrics } from '../metrics.js';
import { fingerprints, renderedBytes, sizeProblem, untoldRejections, wantedStatuses, StatusMemo } from './plan.js';
import { ConfigSecrets } from './configSecrets.js';
import { planStreamFinalizers, retiringStreams, StreamFinalizers } from './streamFinalizers.js';
import type { StatusWriter } from './statusWriter.js';
import type { RunResult } from './workQueue.js';

export interface Caches {
  synced(): boolean;
  /** Grows whenever an input of the config changes (a Room's or Member's spec, a credentials Secret). */
  inputVersion(): number;
  rooms(): Room[];
  members(): Member[];
  credentials(): Secret[];
  authSecret(): Secret | undefined;
  pods(): Pod[];
}

interface Prepared {
  compiled: Compiled;
  rendered: Rendered;
  credentials: CredentialsOutcome;
  /** Per member, what its entry in the config amounts to (see fingerprints()). */
  fingerprints: Map<string, string>;
}

export interface ReconcilerDeps {
  client: KubeClient;
  caches: Caches;
  config: OperatorConfig;
  log: Logger;
  metrics: Metrics;
  events: EventRecorder;
  /** Writes the statuses a reconcile wants, in the background (the controller owns it). */
  statusWriter: StatusWriter;
  /** Absent: the config is written but nobody confirms it is enforced (Ready stays Unknown). */
  rollout?: Rollout;
  /** The operator's own NATS user: rendered into the system account, reserved from Members. */
  systemUserKey?: string;
  /** Keeps persisted rooms' streams (absent: nobody does; their StreamReady stays False). */
  streams?: StreamKeeper;
  /** The public key of the operator's stream user in a namespace's account. */
  streamAdminKey?: (namespace: string) => string;
  /** Secret salt of the shard hash (see RenderOptions.shardSalt). */
  shardSalt?: string;
  now?: () => Date;
}

export class Reconciler {
  /** Per member, the permissions fingerprint of the last generation every server confirmed. */
  private enforced = new Map<string, string>();
  /** The model of the last generation written (unknown after a start). */
  private lastModel?: AuthModel;
  /** Per rejected object, the reason its last Warning Event gave. */
  private readonly rejectionReported = new Map<string, string>();
  /** Per persisted room, its stream as last kept, and the config hash it was kept under. */
  private streams?: { hash: string; outcomes: Map<string, StreamOutcome> };
  /** What the last reconciles found of each object's status (see StatusMemo in plan.ts). */
  private readonly statusMemo = new StatusMemo();
  /** The last prepare(), with the input version it was made from. */
  private prepared?: { inputs: number; result: Prepared };
  private readonly compileOptions: CompileOptions;
  /** What the last compile and render found per member and per shard: a change redoes only its own. */
  private readonly memberCache = new MemberCache();
  private readonly renderCache = new RenderCache();
  readonly secrets: ConfigSecrets;
  private readonly finalizers: StreamFinalizers;

  constructor(private readonly deps: ReconcilerDeps) {
    const { config } = deps;
    this.finalizers = new StreamFinalizers(deps);
    this.secrets = new ConfigSecrets({ client: deps.client, config, log: deps.log, metrics: deps.metrics, authSecret: () => deps.caches.authSecret() });
    this.compileOptions = {
      account: config.account,
      extraSubjectRoots: config.extraSubjectRoots,
      budgets: config.budgets,
      defaultPermissions: { publish: config.defaultPublish, subscribe: config.defaultSubscribe },
      reservedKeys: deps.systemUserKey ? [deps.systemUserKey] : [],
      ...(deps.streamAdminKey && { streamAdminKey: deps.streamAdminKey }),
      jetstreamLimits: config.jetstreamLimits,
      cache: this.memberCache,
    };
  }

  async reconcile(): Promise<RunResult> {
    const { caches, log, metrics } = this.deps;
    if (!caches.synced()) {
      log.debug('caches not synced yet; not rendering');
      return { requeueAfterMs: 500 };
    }
    const started = performance.now();
    const allRooms = caches.rooms();
    const rooms = allRooms.filter(live);
    const members = caches.members().filter(live);
    const finalizers = planStreamFinalizers(allRooms);

    const ready = await this.prepare(rooms, members, retiringStreams(finalizers));
    const { compiled, credentials, fingerprints: wanted } = ready;
    let rendered = ready.rendered;
    const prepared = performance.now();
    let bytes = renderedBytes(rendered);
    let outcome: RolloutResult | undefined;
    let requeueAfterMs: number | undefined;
    let written = prepared;
    let tooLarge = sizeProblem(rendered, this.deps.config);
    // Too large even with every namespace within its budget: apply the removals anyway, hold the additions.
    let inForce = compiled.model;
    let pressure: { message: string; held: Set<string> } | undefined;
    if (tooLarge) this.lastModel ??= await this.secrets.readLastModel();
    if (tooLarge && this.lastModel) {
      const narrowed = withoutAdditions(compiled.model, this.lastModel);
      const smaller = this.render(narrowed.model);
      if (!sizeProblem(smaller, this.deps.config)) {
        pressure = {
          message: `${tooLarge} (${bytes} bytes in all): removals and narrowing are in force, and ${narrowed.held.size} Member(s) wait with their additions`,
          held: narrowed.held,
        };
        log.error('config too large; removals applied, additions held', { bytes, held: narrowed.held.size });
        [rendered, inForce, tooLarge] = [smaller, narrowed.model, undefined];
        bytes = renderedBytes(rendered);
      }
    }
    metrics.configBytes.set(bytes);
    if (tooLarge) {
      outcome = { state: 'Degraded', message: `${tooLarge} (${bytes} bytes in all); the previous config stays in force` };
      log.error('config too large; not written', { bytes, shards: rendered.shards.length });
    } else {
      await this.secrets.write(rendered);
      this.lastModel = inForce;
      written = performance.now();
      if (this.deps.rollout) {
        outcome = await this.deps.rollout.ensure(rendered, caches.pods());
        requeueAfterMs = outcome.retryAfterMs;
        if (outcome.state === 'Enforced') this.enforced = pressure ? fingerprints(inForce) : wanted;
      }
    }
    // What members that are not enforced are told; every degraded path raises the metric and an Event.
    if (pressure && outcome?.state !== 'Degraded') outcome = { state: 'Degraded', message: pressure.message, ...(outcome?.retryAfterMs !== undefined && { retryAfterMs: outcome.retryAfterMs }) };
    metrics.degraded.set(outcome?.state === 'Degraded' ? 1 : 0);
    if (outcome?.state === 'Degraded') {
      const secret = caches.authSecret();
      const reason = tooLarge || pressure ? 'ConfigTooLarge' : 'RolloutDegraded';
      if (secret) void this.deps.events.record({ ...secret, apiVersion: 'v1', kind: 'Secret' }, 'Warning', reason, outcome.message);
    }

    // Streams follow the config: kept once every server enforces it (the stream users' permissions with it).
    if (!(await this.finalizers.apply(finalizers))) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, 5000);
    if (this.deps.streams && (outcome?.state === 'Enforced' || !this.deps.rollout) && !tooLarge) {
      const urls = caches.pods().flatMap((p) => clientUrl(p) ?? []);
      const retiring = new Set(finalizers.retire.map((r) => r.room.metadata.namespace));
      this.streams = { hash: rendered.hash, outcomes: await this.deps.streams.ensure(rooms, compiled, urls, retiring) };
      // Look again later: the streams' state moves with every message, and a stream can drift or vanish.
      if (this.streams.outcomes.size > 0) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, this.deps.config.streamResyncMs);
      // Members no longer reach a retiring Room's stream on any server: it can go, then the Room.
      if (!(await this.finalizers.retire(finalizers.retire, urls))) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, 5000);
    }
    const streams = this.streams?.hash === rendered.hash ? this.streams.outcomes : undefined;
    const rolledOut = performance.now();
    const now = (this.deps.now?.() ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
    for (const w of wantedStatuses({ rooms, members, compiled, current: wanted, enforced: this.enforced, outcome, now, memo: this.statusMemo, ...(streams && { streams }) })) {
      if (w.unchanged) continue;
      const { namespace, name } = w.object.metadata;
      this.deps.statusWriter.set(`${w.plural}/${namespace}/${name}`, w.status && { plural: w.plural, namespace, name, status: w.status, dropped: Object.keys(w.object.status ?? {}) });
    }
    for (const r of untoldRejections(rooms, members, compiled, this.rejectionReported)) {
      void this.deps.events.record({ ...r.object, apiVersion: API_VERSION, kind: r.kind }, 'Warning', r.reason, r.message);
    }
    this.recordVerdictMetrics(compiled);
    log.info('reconciled', {
      configHash: rendered.hash.slice(0, 12),
      members: compiled.model.users.length,
      rejected: [...compiled.members.values()].filter((m) => !m.accepted).length,
      credentialsChanged: credentials.changed,
      rollout: outcome?.state ?? 'none',
      ms: Math.round(performance.now() - started),
      // Where the time went: credentials, compile and render; Secret writes; rollout; statuses.
      phasesMs: [prepared - started, written - prepared, rolledOut - written, performance.now() - rolledOut].map(Math.round),
    });
    // New credentials Secrets come back through the watch; look again soon in case that is slow.
    if (credentials.problems.size > 0) requeueAfterMs = Math.min(requeueAfterMs ?? Infinity, 30_000);
    return requeueAfterMs === undefined ? {} : { requeueAfterMs };
  }

  /**
   * Credentials, compile and render; reused while no input changed since (a reconcile that only polls
   * a rollout in progress does not compile 10,000 members again).
   */
  private async prepare(rooms: Room[], members: Member[], retiring: Map<string, string[]>): Promise<Prepared> {
    const { caches, config, metrics } = this.deps;
    const inputs = caches.inputVersion();
    const last = this.prepared?.inputs === inputs ? this.prepared.result : undefined;
    if (last) return { ...last, credentials: { ...last.credentials, changed: 0 } };
    const plan = planCredentials(members, caches.credentials(), config.clientUrl);
    const credentials = await applyCredentials(this.deps.client, plan, config.clientUrl);
    const compileStart = performance.now();
    const compiled = compile(rooms, members, { ...this.compileOptions, generatedKeys: credentials.keys, credentialProblems: credentials.problems, retiringStreams: retiring });
    const rendered = this.render(compiled.model);
    metrics.compileSeconds.observe((performance.now() - compileStart) / 1000);
    // Credentials that could not be written are retried by the next reconcile, so nothing is kept.
    const result = { compiled, rendered, credentials, fingerprints: fingerprints(compiled.model) };
    this.prepared = credentials.problems.size === 0 ? { inputs, result } : undefined;
    return result;
  }

  /** After status writes were dropped (leadership lost): every status is computed again next time. */
  forgetStatuses(): void {
    this.statusMemo.clear();
  }

  private render(model: AuthModel): Rendered {
    const { config } = this.deps;
    return render(model, {
      ...(this.deps.systemUserKey && { systemUserKey: this.deps.systemUserKey }),
      maxFileBytes: config.maxSecretBytes,
      shardCount: config.authShards,
      ...(this.deps.shardSalt && { shardSalt: this.deps.shardSalt }),
      cache: this.renderCache,
    });
  }

  private recordVerdictMetrics(compiled: Compiled): void {
    const { metrics } = this.deps;
    metrics.rejected.reset();
    const count = (kind: string, results: Iterable<{ accepted: boolean; reason: string }>, gauge: typeof metrics.members) => {
      let accepted = 0;
      let rejected = 0;
      for (const r of results) {
        if (r.accepted) accepted++;
        else {
          rejected++;
          metrics.rejected.inc({ kind, reason: r.reason });
        }
      }
      gauge.set({ verdict: 'accepted' }, accepted);
      gauge.set({ verdict: 'rejected' }, rejected);
    };
    count('Member', compiled.members.values(), metrics.members);
    count('Room', compiled.rooms.values(), metrics.rooms);
  }
}

const live = (o: { metadata: { deletionTimestamp?: string } }) => !o.metadata.deletionTimestamp;
