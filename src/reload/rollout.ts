// The rolling reload: one server at a time in pod-name order (or, after the first, a few at once:
// --rollout-parallelism), each confirmed live before the next.
// ensure() is a step function: it does what can be done now and returns, so the queue can requeue
// it (while kubelet has not delivered the file yet) and a newer generation simply replaces the target
// (no server is reloaded for a generation that is already out of date).
//
// Proof that a server enforces a generation is its generation marker (see render.ts): reload is
// all-or-nothing in nats-server, so the marker from the same file proves the permissions from it.
import type { OperatorConfig, ReloadStrategy } from '../config.js';
import { backoffMs, systemClock, type Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { CONTENT_TYPE, type KubeClient } from '../kube/client.js';
import { paths } from '../kube/paths.js';
import type { Pod } from '../kube/types.js';
import type { Metrics } from '../metrics.js';
import type { Rendered } from '../auth/render.js';
import type { NatsSystem, ServerConnection } from './natsSystem.js';
import { CONFIG_HASH_ANNOTATION, POKED_AT_ANNOTATION } from '../api/metadata.js';
import { FirstReloadWait } from './firstReloadWait.js';

/** Shortest pause between two reloads of a server still reading the old files. */
const MIN_RETRY_PAUSE_MS = 25;
/** How long one server is retried in place before the wait is handed back to the queue. */
const IN_PLACE_WAIT_MS = 1600;

export interface RolloutResult {
  state: 'Enforced' | 'RollingOut' | 'Degraded';
  message: string;
  /** Poll again after this long (a server still reloading, or a retry after a failure). */
  retryAfterMs?: number;
}

/** Makes every NATS server enforce a config generation. */
export interface Rollout {
  ensure(generation: Rendered, pods: Pod[]): Promise<RolloutResult>;
}

export interface ServerRolloutOptions {
  strategy: Exclude<ReloadStrategy, 'none'>;
  system: NatsSystem;
  client: KubeClient;
  config: OperatorConfig;
  log: Logger;
  metrics: Metrics;
  clock?: Clock;
}

export class ServerRollout implements Rollout {
  /** Per pod: the generation it is being moved to, since when, and how many polls. */
  private readonly waiting = new Map<string, { hash: string; since: number; polls: number }>();
  private failures = 0;
  private started?: { hash: string; at: number };
  private restartRequested?: string;
  /** Per pod, the generation it is known to enforce with every service import wired. */
  private readonly wired = new Map<string, string>();
  /** When pods were last annotated: give kubelet a moment before asking for a reload. */
  private pokedAt = 0;
  /** That moment, learnt from what the first reloads after the pokes found. */
  private readonly firstReload = new FirstReloadWait();

  private readonly clock: Clock;

  constructor(private readonly o: ServerRolloutOptions) {
    this.clock = o.clock ?? systemClock;
  }

  async ensure(generation: Rendered, all: Pod[]): Promise<RolloutResult> {
    const short = generation.hash.slice(0, 12);
    if (this.started?.hash !== generation.hash) this.started = { hash: generation.hash, at: this.clock.now() };
    const pods = all.filter((p) => !p.metadata.deletionTimestamp).sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    if (pods.length === 0) {
      return this.degraded(`no NATS server pods match ${this.o.config.natsSelector} in namespace ${this.o.config.natsNamespace}`);
    }
    // Poke every pod up front: while the first servers reload, kubelet delivers to the rest. The
    // moment kubelet needs is counted from when the pokes were sent.
    const sent = this.clock.now();
    const poked = await Promise.all(pods.map((pod) => this.poke(pod, generation.hash)));
    if (poked.some(Boolean)) this.pokedAt = sent;
    // The first server alone (the canary: a config it refuses stops the rollout there), then the rest
    // `rolloutParallelism` at a time. Within a batch the rollout still stops at the first server that
    // is down, in pod-name order: the ones before it move on, the ones after it wait.
    for (const batch of batches(pods, this.o.config.rolloutParallelism)) {
      const down = batch.findIndex((pod) => !clientUrl(pod) || !isReady(pod));
      const moving = down < 0 ? batch : batch.slice(0, down);
      const steps = await Promise.all(moving.map((pod) => this.advanceOrFail(pod, clientUrl(pod)!, generation)));
      const step = steps.find(Boolean);
      if (step) return step;
      if (down >= 0) {
        const name = batch[down]!.metadata.name;
        // A restart takes pods down on purpose; any other strategy stops at a server that is down.
        if (this.o.strategy === 'restart' && this.restartRequested === generation.hash) return this.wait(name, generation.hash, 'to come back with');
        return this.degraded(`server ${name} is not ready; the rollout of generation ${short} waits for it`);
      }
    }
    this.failures = 0;
    this.waiting.clear();
    if (this.started) {
      this.o.metrics.rolloutSeconds.observe((this.clock.now() - this.started.at) / 1000);
      this.started = undefined;
    }
    return { state: 'Enforced', message: `every server (${pods.length}) enforces generation ${short}` };
  }

  /** advance(), its failures told as the rollout's result. */
  private async advanceOrFail(pod: Pod, url: string, generation: Rendered): Promise<RolloutResult | undefined> {
    const name = pod.metadata.name;
    try {
      return await this.advance(pod, url, generation);
    } catch (e) {
      const message = (e as Error).message;
      if (/Authorization Violation/i.test(message)) {
        return this.degraded(
          `server ${name} (${url}) does not know the operator's system user: it runs a config the operator did not write. ` +
            'Check that it includes the auth Secret, then restart it once (kubectl delete pod) so that it starts from the Secret',
        );
      }
      return this.degraded(`server ${name} (${url}): ${message}`);
    }
  }

  /** Moves one server towards the generation; undefined when it enforces it. */
  private async advance(pod: Pod, url: string, generation: Rendered): Promise<RolloutResult | undefined> {
    const { system, strategy, metrics, log } = this.o;
    const name = pod.metadata.name;
    const short = generation.hash.slice(0, 12);
    const conn = await system.server(url);
    let now = await system.generation(conn);
    if (now === generation.hash) {
      // Already there, but not through this rollout (a sidecar's reload, or an operator restart since):
      // whether the service imports of accounts that were new then are wired is unknown, so reload once more.
      if (strategy !== 'restart' && generation.serviceImporters.length > 0 && this.wired.get(name) !== generation.hash) {
        const refused = await this.rewire(conn, name, generation, 'the generation was loaded outside this rollout');
        if (refused) return refused;
      }
      this.wired.set(name, generation.hash);
      this.waiting.delete(name);
      return undefined;
    }
    if (strategy === 'restart') await this.requestRestart(pod, generation.hash);
    // Accounts with service imports that this server does not have yet need a second reload.
    // A restarted server wires them at start; a reloaded one (by the operator or a sidecar) on the next reload.
    const newImporters = strategy !== 'restart' && generation.serviceImporters.length > 0 ? await this.missingAccounts(system, conn, generation.serviceImporters) : [];
    // A server reached within kubelet's moment after the pokes (the first one) waits for it, and what
    // its reloads find tells the next rollout how long that moment is.
    const firstWait = this.firstReload.ms;
    const learning = this.clock.now() - this.pokedAt < firstWait;
    if (learning) await this.clock.sleep(this.pokedAt + firstWait - this.clock.now());
    // Kubelet usually delivers within moments of the poke: try a few times before handing the wait
    // back to the queue (which would mean writing RollingOut statuses for a blink). Each try re-reads
    // the config, so the pause between tries follows what one costs: a small config is polled closely
    // (kubelet's delivery, not the poll, sets the time), a large one is not reparsed back to back.
    let halfDelivered = false;
    let reloads = 0;
    // The first reload that finds the old files is retried at once: kubelet most likely delivered while
    // the server read them. Later ones wait their pause, so a large config is reparsed back to back once at most.
    let retriedAtOnce = false;
    const waitingSince = this.clock.now();
    for (let pause = 0; ; pause *= 1.5) {
      let atOnce = false;
      if (strategy === 'reload') {
        reloads++;
        const reloadStart = this.clock.now();
        const refused = await system.reload(conn);
        pause ||= Math.max(MIN_RETRY_PAUSE_MS, 2 * (this.clock.now() - reloadStart));
        const after = refused ? now : await system.generation(conn);
        // "unchanged": the server re-read the file kubelet had not replaced yet (no effect on clients).
        const unchanged = !refused && after === now;
        metrics.reloads.inc({ server: name, result: refused ? 'refused' : unchanged ? 'unchanged' : 'applied' });
        // Only the first reload was made at the wait; a later one that found the old files still tells it was short.
        const found = unchanged ? 'old' : !refused ? 'new' : generation.shards.length > 0 ? 'half' : undefined;
        if (learning && found && (reloads === 1 || unchanged)) this.firstReload.observe(reloadStart - this.pokedAt, this.clock.now() - reloadStart, found);
        atOnce = unchanged && !retriedAtOnce;
        retriedAtOnce ||= atOnce;
        if (refused) {
          // A sharded config lives in several Secrets, and kubelet may deliver them across two syncs:
          // a half-delivered generation does not parse (see render.ts). Give it the server's time.
          if (generation.shards.length === 0) return this.degraded(`server ${name} refused the config of generation ${short}: ${refused}`);
          log.info('server refused a half-delivered sharded config; waiting', { server: name, generation: short, refusal: refused });
          halfDelivered = true;
        }
        now = after;
      } else {
        now = await system.generation(conn);
        pause ||= 100;
      }
      if (now === generation.hash && newImporters.length > 0) {
        reloads++;
        const refused = await this.rewire(conn, name, generation, `new accounts ${newImporters.join(', ')}`);
        if (refused) return refused;
      }
      if (now === generation.hash) {
        this.wired.set(name, generation.hash);
        log.info('server enforces generation', { server: name, generation: short, reloads, rolloutMs: this.clock.now() - (this.started?.at ?? this.clock.now()), ...(learning && { firstReloadAfterPokeMs: firstWait }) });
        this.waiting.delete(name);
        return undefined;
      }
      const next = atOnce ? MIN_RETRY_PAUSE_MS : pause;
      if (this.clock.now() - waitingSince + next > IN_PLACE_WAIT_MS) break;
      await this.clock.sleep(next);
    }
    // Still the old files: have kubelet sync the pod once more before handing the wait to the queue.
    if (strategy !== 'restart' && (await this.poke(pod, generation.hash, true))) this.pokedAt = this.clock.now();
    const what = strategy === 'restart' ? 'to restart with' : halfDelivered ? 'to receive every shard of' : 'to receive';
    return this.wait(name, generation.hash, what, now);
  }

  /** A second reload: nats-server wires the service imports of an account that was new in the first only now. */
  private async rewire(conn: ServerConnection, name: string, generation: Rendered, why: string): Promise<RolloutResult | undefined> {
    const refused = await this.o.system.reload(conn);
    this.o.metrics.reloads.inc({ server: name, result: refused ? 'refused' : 'rewired' });
    if (refused) return this.degraded(`server ${name} refused the second reload of generation ${generation.hash.slice(0, 12)} (it wires the service imports of new accounts): ${refused}`);
    this.o.log.info('server reloaded again to wire the service imports of new accounts', { server: name, generation: generation.hash.slice(0, 12), why });
    return undefined;
  }

  private async missingAccounts(system: NatsSystem, conn: ServerConnection, accounts: readonly string[]): Promise<string[]> {
    const present = new Set(await system.accounts(conn));
    return accounts.filter((a) => !present.has(a));
  }

  /** RollingOut while a server may still catch up; Degraded once it had its time. */
  private wait(name: string, hash: string, what: string, enforced?: string): RolloutResult {
    let wait = this.waiting.get(name);
    if (!wait || wait.hash !== hash) this.waiting.set(name, (wait = { hash, since: this.clock.now(), polls: 0 }));
    wait.polls++;
    const timeout = this.o.config.serverTimeoutMs;
    if (this.clock.now() - wait.since > timeout) {
      return this.degraded(
        `server ${name} did not load generation ${hash.slice(0, 12)} within ${Math.round(timeout / 1000)} s (it enforces ${enforced ? enforced.slice(0, 12) : 'no marked generation'}); ` +
          'is the Secret mounted without subPath, and does the server include it?',
      );
    }
    return { state: 'RollingOut', message: `waiting for server ${name} ${what} generation ${hash.slice(0, 12)}`, retryAfterMs: backoffMs(wait.polls, 25, 2000) };
  }

  /**
   * Annotates the pod, which makes kubelet refresh its Secret volume now; true if it did. `again`:
   * the pod already carries the hash, yet its server still reads the old files (kubelet's sync read
   * its Secret cache before the write reached it), so the pod is changed once more.
   */
  private async poke(pod: Pod, hash: string, again = false): Promise<boolean> {
    if (!this.o.config.pokePods || (!again && pod.metadata.annotations?.[CONFIG_HASH_ANNOTATION] === hash)) return false;
    await this.o.client.request('PATCH', `${paths.pods(pod.metadata.namespace!)}/${pod.metadata.name}`, {
      contentType: CONTENT_TYPE.mergePatch,
      body: { metadata: { annotations: { [CONFIG_HASH_ANNOTATION]: hash, [POKED_AT_ANNOTATION]: new Date(this.clock.now()).toISOString() } } },
    });
    return true;
  }

  /** Strategy restart: one template change on the owning StatefulSet; its controller rolls the pods. */
  private async requestRestart(pod: Pod, hash: string): Promise<void> {
    if (this.restartRequested === hash) return;
    const owner = (pod.metadata.ownerReferences as { kind?: string; name?: string }[] | undefined)?.find((o) => o.kind === 'StatefulSet');
    if (!owner?.name) throw new Error('strategy restart needs pods owned by a StatefulSet');
    await this.o.client.request('PATCH', `${paths.statefulSets(pod.metadata.namespace!)}/${owner.name}`, {
      contentType: CONTENT_TYPE.mergePatch,
      body: { spec: { template: { metadata: { annotations: { [CONFIG_HASH_ANNOTATION]: hash } } } } },
    });
    this.restartRequested = hash;
  }

  private degraded(message: string): RolloutResult {
    this.failures++;
    this.o.log.warn('rollout degraded', { message, failures: this.failures });
    return { state: 'Degraded', message, retryAfterMs: backoffMs(this.failures - 1, 1000, 60_000) };
  }
}

/** The first pod alone, then the rest in groups of `size`. */
function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = items.length > 0 ? [[items[0]!]] : [];
  for (let i = 1; i < items.length; i += Math.max(1, size)) out.push(items.slice(i, i + Math.max(1, size)));
  return out;
}

function isReady(pod: Pod): boolean {
  return pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** nats://<podIP>:<port named "nats" or "client">, the way the official chart names it. */
export function clientUrl(pod: Pod): string | undefined {
  const ip = pod.status?.podIP;
  if (!ip) return undefined;
  const ports = (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []);
  const port = ports.find((p) => p.name === 'nats' || p.name === 'client')?.containerPort ?? 4222;
  return `nats://${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}
