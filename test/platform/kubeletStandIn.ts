// A stand-in for the two things kubelet does that matter to nats-rooms-operator, for the pods bound to
// one pretend node (spec.nodeName) in one namespace:
//
// What it stands in for
// - Secret volumes. For each container volumeMount of a `secret` volume, or of a `projected` volume's
//   `secret` sources (`items` key->path mappings honoured, `optional` honoured), it keeps a directory on
//   this machine in step with the Secret, with kubelet's AtomicWriter semantics
//   (kubernetes pkg/volume/util/atomic_writer.go): the files are written into a fresh timestamped dir
//   `..2026_11_22_10_00_00.123456789`, a symlink `..data_tmp` (kubelet's name) is pointed at it and
//   renamed over `..data` (one atomic switch for every key at once), every top-level key is a symlink
//   `<key> -> ..data/<key>`, keys gone from the Secret lose their symlinks, and the old timestamped dir is
//   removed. Nothing is written when the content is unchanged. A mountPath maps to
//   `<pod root dir>/<last path segment>`: `/etc/nats-auth` -> `<root>/nats-auth`, the layout of
//   test/support/natsServer.ts.
// - When updates arrive. The first mount happens before the container starts (mountPod). Later, a
//   Secret change reaches each pod after `delayMs` (+ up to `jitterMs`), like kubelet's periodic pod sync
//   (60-90 s in a real cluster; 0 for fast tests); an update of a pod's annotations makes that pod sync
//   at once, as kubelet syncs a pod whenever the pod object changes. A sync takes the Secrets as its
//   watch last saw them, like kubelet's watch-based Secret manager (its default): a pod annotated right
//   after a Secret write gets the previous content should the Secret's watch event come later than the
//   pod's. At most one sync waits behind the running one.
// - Pod status, as kubelet's status manager writes it through the status subresource: phase, podIP
//   127.0.0.1, the standard conditions and the container status, with Ready driven by the container's
//   readinessProbe (httpGet on the pod IP and the named port) every `probePeriodMs`. The process itself
//   is run by the caller, who reports it with containerRunning/containerExited.
//
// What it does not do
// - No container runtime: it never starts, restarts or signals a process (a crashed server stays down
//   and its pod NotReady until the caller starts it again; nothing sends SIGHUP to nats-server).
// - No scheduling, no node object, no eviction, no liveness/startup probes, no restart policy.
// - No subPath mounts (kubelet never updates those anyway), no configMap/downwardAPI/token projections,
//   no defaultMode: files are 0644. Volumes are not torn down when a pod is deleted.
// - It only watches its namespace.
import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod, type V1Secret } from '@kubernetes/client-node';
import { waitFor } from '../support/processes.js';
import { statusOf } from './kubeAccess.js';
import { atomicWrite, mountsOf, payloadOfSecrets, sha256, type Mount } from './standInVolumes.js';
import { StandInReflector, type EventType } from './standInWatch.js';


export const DEFAULT_NODE_NAME = 'kubelet-stand-in';

export interface KubeletStandInOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** The pods this stand-in serves are those with this spec.nodeName. */
  nodeName?: string;
  /** Delay between a Secret change and its delivery to each pod (default 60 s, like kubelet's sync period). */
  delayMs?: number;
  /** Adds a random 0..jitterMs to each pod's delay (real kubelets are not in phase). */
  jitterMs?: number;
  /** How often readiness probes run (default 1 s). */
  probePeriodMs?: number;
}

export interface PodStats {
  /** Whether the first mount is done. */
  mounted: boolean;
  /** Syncs after the first mount that changed files in the pod's volumes. */
  deliveries: number;
  /** Syncs after the first mount, changed or not. */
  syncs: number;
  /** When the last delivery was written (ms since epoch). */
  lastDeliveryAt?: number;
  /** sha256 (hex) of every delivered file, by key (path inside the volume). */
  hashes: Record<string, string>;
}

interface ContainerState {
  running: boolean;
  restartCount: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  everStarted: boolean;
}

interface PodRecord {
  name: string;
  rootDir: string;
  pod?: V1Pod;
  stats: PodStats;
  timer?: NodeJS.Timeout;
  chain: Promise<void>;
  /** A sync waiting for the one running (see sync()). */
  queuedSync?: Promise<void>;
  container?: ContainerState;
  probeReady: boolean;
  /** Bumped on every container start/exit, so a probe begun before one cannot overwrite its result. */
  epoch: number;
  startTime: string;
  /** Condition type -> [status, lastTransitionTime]. */
  transitions: Map<string, [string, string]>;
  lastWrittenStatus?: string;
  statusChain: Promise<void>;
}

export class KubeletStandIn {
  /** Mutable: tests and the sandbox may change it; timers already set keep their delay. */
  delayMs: number;
  /**
   * How late Secret watch events arrive (mutable, default 0): a pod synced meanwhile, even for an
   * update of the pod, gets the Secrets as they were, as from a kubelet whose watch lags behind.
   */
  watchLagMs = 0;
  jitterMs: number;
  readonly namespace: string;
  readonly nodeName: string;

  private readonly core: CoreV1Api;
  private readonly pods = new Map<string, PodRecord>();
  private readonly listeners = new Set<() => void>();
  private readonly secrets: StandInReflector<V1Secret>;
  private readonly podWatch: StandInReflector<V1Pod>;
  private probeTimer?: NodeJS.Timeout;
  private stopped = false;

  private constructor(private readonly opts: KubeletStandInOptions) {
    this.namespace = opts.namespace;
    this.nodeName = opts.nodeName ?? DEFAULT_NODE_NAME;
    this.delayMs = opts.delayMs ?? 60_000;
    this.jitterMs = opts.jitterMs ?? 0;
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    const ns = this.namespace;
    this.secrets = new StandInReflector<V1Secret>(
      opts.kubeConfig,
      `/api/v1/namespaces/${ns}/secrets`,
      {},
      async () => await this.core.listNamespacedSecret({ namespace: ns }),
      (type, secret, old) => this.onSecret(type, secret, old),
      () => this.watchLagMs,
    );
    const fieldSelector = `spec.nodeName=${this.nodeName}`;
    this.podWatch = new StandInReflector<V1Pod>(
      opts.kubeConfig,
      `/api/v1/namespaces/${ns}/pods`,
      { fieldSelector },
      async () => await this.core.listNamespacedPod({ namespace: ns, fieldSelector }),
      (type, pod, old) => this.onPod(type, pod, old),
    );
  }

  /** Starts watching; resolves once both watches have listed. */
  static async start(opts: KubeletStandInOptions): Promise<KubeletStandIn> {
    const standIn = new KubeletStandIn(opts);
    await Promise.all([standIn.secrets.start(), standIn.podWatch.start()]);
    standIn.probeTimer = setInterval(() => standIn.probeAll(), opts.probePeriodMs ?? 1000);
    standIn.probeTimer.unref();
    return standIn;
  }

  /** Declares that pod `name` runs here with its volumes under `rootDir` (see the header). */
  addPod(name: string, rootDir: string): void {
    if (this.pods.has(name)) throw new Error(`pod ${name} is already on this node`);
    this.pods.set(name, {
      name,
      rootDir,
      stats: { mounted: false, deliveries: 0, syncs: 0, hashes: {} },
      chain: Promise.resolve(),
      probeReady: false,
      epoch: 0,
      startTime: new Date().toISOString(),
      transitions: new Map(),
      statusChain: Promise.resolve(),
    });
  }

  /** The first mount: reads the pod and its Secrets (waiting for non-optional ones to exist) and fills its volumes. */
  async mountPod(name: string, timeoutMs = 30_000): Promise<void> {
    const record = this.record(name);
    record.pod = await this.core.readNamespacedPod({ name, namespace: this.namespace });
    await this.serialize(record, async () => {
      const mounts = mountsOf(record.pod!, record.rootDir);
      for (const mount of mounts) {
        const data = await waitFor(`the Secrets of pod ${name} (${mount.sources.map((s) => s.name).join(', ')})`, () => this.payloadOf(mount), timeoutMs, 100);
        this.write(record, mount, data);
      }
      record.stats.mounted = true;
    });
    this.notify();
  }

  /** Reports that the pod's container (re)started; resolves once the pod status saying so is written. */
  async containerRunning(name: string): Promise<void> {
    const record = this.record(name);
    const previous = record.container;
    record.container = {
      running: true,
      everStarted: true,
      restartCount: previous?.everStarted ? previous.restartCount + 1 : 0,
      startedAt: new Date().toISOString(),
    };
    const epoch = ++record.epoch;
    const ready = await this.probe(record);
    if (record.epoch === epoch) record.probeReady = ready;
    await this.writeStatus(record, true);
  }

  /** Whether the pod's container is reported running. */
  isRunning(name: string): boolean {
    return this.record(name).container?.running ?? false;
  }

  /** Reports that the pod's container exited; resolves once the pod status (NotReady) is written. */
  async containerExited(name: string, exitCode = 0): Promise<void> {
    const record = this.record(name);
    const c = record.container ?? { running: false, everStarted: false, restartCount: 0 };
    record.container = { ...c, running: false, exitCode, finishedAt: new Date().toISOString() };
    record.epoch++;
    record.probeReady = false;
    await this.writeStatus(record, true);
  }

  stats(name: string): PodStats {
    const s = this.record(name).stats;
    return { ...s, hashes: { ...s.hashes } };
  }

  deliveries(name: string): number {
    return this.record(name).stats.deliveries;
  }

  /** sha256 (hex) of a key's file as it is on disk now, in any of the pod's volumes. */
  contentHash(name: string, key = 'auth.conf'): string | undefined {
    const record = this.record(name);
    for (const mount of record.pod ? mountsOf(record.pod, record.rootDir) : []) {
      const file = join(mount.hostDir, key);
      if (existsSync(file)) return sha256(readFileSync(file));
    }
    return undefined;
  }

  /** Resolves once the pod's `key` (default auth.conf) has been delivered with content hash `hash`. */
  waitForContent(name: string, hash: string, opts: { key?: string; timeoutMs?: number } = {}): Promise<void> {
    const key = opts.key ?? 'auth.conf';
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const record = this.record(name);
    return new Promise((resolve, reject) => {
      const check = () => {
        if (record.stats.hashes[key] !== hash) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for pod ${name} to get ${key} with sha256 ${hash} (has ${record.stats.hashes[key]}; stats ${JSON.stringify({ ...record.stats, hashes: undefined })})`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.probeTimer);
    for (const r of this.pods.values()) clearTimeout(r.timer);
    await Promise.all([this.secrets.stop(), this.podWatch.stop()]);
    await Promise.all([...this.pods.values()].flatMap((r) => [r.chain, r.statusChain]));
  }

  // --- volumes ---------------------------------------------------------------------------------

  private onSecret(type: EventType, secret: V1Secret, old: V1Secret | undefined): void {
    if (type === 'MODIFIED' && JSON.stringify(secret.data ?? {}) === JSON.stringify(old?.data ?? {})) return;
    const name = secret.metadata?.name;
    for (const record of this.pods.values()) {
      if (!record.stats.mounted || !record.pod) continue;
      if (!mountsOf(record.pod, record.rootDir).some((m) => m.sources.some((s) => s.name === name))) continue;
      if (record.timer) continue; // the pending sync will read the latest content
      const delay = this.delayMs + (this.jitterMs > 0 ? randomInt(this.jitterMs + 1) : 0);
      record.timer = setTimeout(() => {
        record.timer = undefined;
        void this.sync(record);
      }, delay);
    }
  }

  private onPod(type: EventType, pod: V1Pod, old: V1Pod | undefined): void {
    const record = this.pods.get(pod.metadata?.name ?? '');
    if (!record || type === 'DELETED') return;
    record.pod = pod;
    const annotationsChanged = type === 'MODIFIED' && JSON.stringify(pod.metadata?.annotations ?? {}) !== JSON.stringify(old?.metadata?.annotations ?? {});
    if (annotationsChanged && record.stats.mounted) void this.sync(record);
  }

  private sync(record: PodRecord): Promise<void> {
    clearTimeout(record.timer);
    record.timer = undefined;
    // Like kubelet's pod workers, at most one sync waits behind the running one: it has not read
    // anything yet, so it covers every trigger that comes while it waits.
    if (record.queuedSync) return record.queuedSync;
    const queued = this.serialize(record, async () => {
      record.queuedSync = undefined;
      if (this.stopped || !record.pod) return;
      let changed = false;
      for (const mount of mountsOf(record.pod, record.rootDir)) {
        const data = this.payloadFromWatch(mount);
        if (data && this.write(record, mount, data)) changed = true;
      }
      record.stats.syncs++;
      if (changed) {
        record.stats.deliveries++;
        record.stats.lastDeliveryAt = Date.now();
      }
      this.notify();
    });
    record.queuedSync = queued;
    return queued;
  }

  /** The files of a mount from the Secrets as the watch last saw them. */
  private payloadFromWatch(mount: Mount): Map<string, Buffer> | undefined {
    return payloadOfSecrets(mount, mount.sources.map((s) => this.secrets.get(s.name)));
  }

  /** The files of a mount, read from the API server (the first mount); undefined when a required Secret is missing. */
  private async payloadOf(mount: Mount): Promise<Map<string, Buffer> | undefined> {
    const secrets = await Promise.all(
      mount.sources.map(async (source): Promise<V1Secret | undefined> => {
        try {
          return await this.core.readNamespacedSecret({ name: source.name, namespace: this.namespace });
        } catch (e) {
          if (statusOf(e) === 404) return undefined;
          throw e;
        }
      }),
    );
    return payloadOfSecrets(mount, secrets);
  }

  /** kubelet's AtomicWriter.Write: returns whether anything changed. */
  private write(record: PodRecord, mount: Mount, payload: Map<string, Buffer>): boolean {
    const changed = atomicWrite(mount.hostDir, payload);
    for (const [path, content] of payload) record.stats.hashes[path] = sha256(content);
    return changed;
  }

  private serialize(record: PodRecord, work: () => Promise<void>): Promise<void> {
    const next = record.chain.then(work);
    record.chain = next.catch(() => {});
    return next;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  private record(name: string): PodRecord {
    const record = this.pods.get(name);
    if (!record) throw new Error(`pod ${name} is not on this node (addPod first)`);
    return record;
  }

  // --- status ----------------------------------------------------------------------------------

  private probeAll(): void {
    for (const record of this.pods.values()) {
      if (!record.container) continue;
      void (async () => {
        const epoch = record.epoch;
        const ready = record.container?.running ? await this.probe(record) : false;
        if (record.epoch !== epoch) return; // the container started or exited meanwhile
        record.probeReady = ready;
        await this.writeStatus(record, false).catch(() => {});
      })();
    }
  }

  /** The readinessProbe's httpGet against 127.0.0.1 (no probe: ready when running). */
  private async probe(record: PodRecord): Promise<boolean> {
    const container = record.pod?.spec?.containers?.[0];
    const get = container?.readinessProbe?.httpGet;
    if (!get) return record.container?.running ?? false;
    const port = typeof get.port === 'number' ? get.port : Number.isFinite(Number(get.port)) ? Number(get.port) : container?.ports?.find((p) => p.name === get.port)?.containerPort;
    if (!port) return false;
    return new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: get.path ?? '/', timeout: 1000, agent: false }, (res) => {
        res.resume();
        resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }

  /** Writes the pod status if it changed; with `mustWrite`, retries until it is written (or the stand-in stops). */
  private writeStatus(record: PodRecord, mustWrite: boolean): Promise<void> {
    const next = record.statusChain.then(async () => {
      for (let attempt = 0; ; attempt++) {
        if (this.stopped) return;
        const status = this.statusOf(record);
        const key = JSON.stringify(status, (k, v) => (k === 'lastTransitionTime' ? undefined : v));
        if (key === record.lastWrittenStatus) return;
        try {
          await this.core.patchNamespacedPodStatus(
            { name: record.name, namespace: this.namespace, body: { status } },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
          );
          record.lastWrittenStatus = key;
          return;
        } catch (e) {
          if (!mustWrite || statusOf(e) === 404) throw e;
          await sleep(Math.min(100 * 2 ** attempt, 1000));
        }
      }
    });
    record.statusChain = next.catch(() => {});
    return next;
  }

  private statusOf(record: PodRecord): Record<string, unknown> {
    const c = record.container;
    const running = c?.running ?? false;
    const ready = running && record.probeReady;
    const now = new Date().toISOString();
    const condition = (type: string, ok: boolean) => {
      const status = ok ? 'True' : 'False';
      const previous = record.transitions.get(type);
      if (!previous || previous[0] !== status) record.transitions.set(type, [status, now]);
      return { type, status, lastTransitionTime: record.transitions.get(type)![1] };
    };
    const containerName = record.pod?.spec?.containers?.[0]?.name ?? 'nats';
    const image = record.pod?.spec?.containers?.[0]?.image ?? '';
    const state = running
      ? { running: { startedAt: c!.startedAt } }
      : c?.finishedAt
        ? { terminated: { exitCode: c.exitCode ?? 0, reason: c.exitCode ? 'Error' : 'Completed', startedAt: c.startedAt, finishedAt: c.finishedAt } }
        : { waiting: { reason: 'ContainerCreating' } };
    return {
      phase: c?.everStarted ? 'Running' : 'Pending',
      hostIP: '127.0.0.1',
      hostIPs: [{ ip: '127.0.0.1' }],
      podIP: '127.0.0.1',
      podIPs: [{ ip: '127.0.0.1' }],
      startTime: record.startTime,
      qosClass: 'BestEffort',
      conditions: [
        condition('PodReadyToStartContainers', true),
        condition('Initialized', true),
        condition('Ready', ready),
        condition('ContainersReady', ready),
        condition('PodScheduled', true),
      ],
      containerStatuses: [
        {
          name: containerName,
          image,
          imageID: '',
          containerID: c?.everStarted ? `stand-in://${record.name}-${c.restartCount}` : undefined,
          ready,
          started: running,
          restartCount: c?.restartCount ?? 0,
          state,
        },
      ],
    };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
