// Propagation and burst benchmarks on the test platform: a private control plane, three real
// nats-servers, the kubelet stand-in (delay 0, so the figures are the operator's, not kubelet's),
// and the built operator as a process of its own, with its default tuning.
import { spawnSync } from 'node:child_process';
import { connect, nkeyAuthenticator, type NatsConnection } from 'nats';
import { keyWithoutSeed } from '../src/auth/keys.js';
import { GENERATION_MARKER_PREFIX } from '../src/auth/render.js';
import { fileURLToPath } from 'node:url';
import { forEachLimited } from '../src/controller/credentials.js';
import { paths } from '../src/kube/paths.js';
import type { Member } from '../src/api/types.js';
import { startControlPlane, type ControlPlane } from '../test/platform/controlPlane.js';
import { AUTH_SHARDS, startNatsCluster, type NatsCluster } from '../test/platform/natsPods.js';
import { TestKube } from '../test/support/kube.js';
import { member, room } from '../test/support/objects.js';
import { metric, samples } from '../test/support/metrics.js';
import { cpuSeconds, operatorCost, peakRssMb } from './processCost.js';
import { memoryAtPeak } from './memoryAtPeak.js';
import { imageNodeFlags } from '../test/support/image.js';
import { FatalWaitError, freePorts, startProcess, waitFor } from '../test/support/processes.js';
import { report, stats } from './report.js';
import { CONFIG_HASH_ANNOTATION, SYSTEM_SEED_KEY } from '../src/api/metadata.js';

const NS = 'bench';
/** How long the operator is watched with nothing changing, for its idle CPU (BENCH_IDLE_MS; default 60 s). */
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 60_000);
const NATS = 'nats';
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The operator as a process of its own, built (`npm run build`, then `node <the image's flags>
 * dist/main.js run`) as the image runs it, default tuning: its memory and CPU are the product's, not a TypeScript loader's (tsx
 * alone idles at about 0.5% of a core here).
 */
interface OperatorProcess {
  healthPort: number;
  pid: number;
  stop(): Promise<void>;
}

/** BENCH_LOGS=1 shows the operator's logs on stderr. */
async function startOperatorProcess(cp: ControlPlane, namespaces: string[], extraArgs: string[]): Promise<OperatorProcess> {
  const [healthPort] = await freePorts(1);
  const args = [`--nats-namespace=${NATS}`, `--watch-namespaces=${namespaces.join(',')}`, `--health-addr=127.0.0.1:${healthPort}`, '--leader-election=false', ...extraArgs];
  buildOnce();
  // BENCH_OPERATOR_NODE_ARGS: node flags for the operator alone (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
  const nodeArgs = (process.env.BENCH_OPERATOR_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const started = startProcess(process.execPath, [...imageNodeFlags(), ...nodeArgs, 'dist/main.js', 'run', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, KUBECONFIG: cp.kubeconfigPath },
  });
  if (process.env.BENCH_LOGS) started.child.stdout!.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  await waitFor('the operator to be ready', async () => {
    if (started.child.exitCode !== null) throw new FatalWaitError(`the operator exited: ${started.output()}`);
    return (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined))?.ok ? true : undefined;
  }, 60_000, 100);
  return { healthPort: healthPort!, pid: started.child.pid!, stop: () => started.stop() };
}

let built = false;
function buildOnce(): void {
  if (built) return;
  const r = spawnSync('npm', ['run', '-s', 'build'], { cwd: REPO_ROOT, stdio: ['ignore', process.stderr, process.stderr] });
  if (r.status !== 0) throw new Error('npm run build failed');
  built = true;
}

export interface Rig {
  cp: ControlPlane;
  nats: NatsCluster;
  kube: TestKube;
  operator: OperatorProcess;
  /** One system-account connection per server, to read the generation each one enforces. */
  servers: { nc: NatsConnection; id: string }[];
  stop(): Promise<void>;
}

export interface RigOptions {
  /** Namespaces of the Members, each with rooms r0 and r1 (default: one, `bench`). */
  namespaces?: string[];
  /** More operator flags (BENCH_OPERATOR_ARGS adds its own, space-separated). */
  operatorArgs?: string[];
}

export async function rig(o: RigOptions = {}): Promise<Rig> {
  const namespaces = o.namespaces ?? [NS];
  const cp = await startControlPlane();
  const kube = new TestKube(cp.kubeConfig);
  for (const ns of namespaces) await kube.ensureNamespace(ns);
  await kube.ensureNamespace(NATS);
  // The operator first, as in a cluster: the NATS pods start from the Secret it writes.
  const operatorArgs = [...(o.operatorArgs ?? []), ...(process.env.BENCH_OPERATOR_ARGS ?? '').split(' ').filter(Boolean)];
  const operator = await startOperatorProcess(cp, namespaces, operatorArgs);
  await waitFor('the auth Secret', async () => ((await kube.secret(NATS, 'nats-rooms-auth')) ? true : undefined));
  const nats = await startNatsCluster(cp, { namespace: NATS, replicas: 3, kubeletDelayMs: 0 });
  for (const ns of namespaces) {
    await kube.apply(room(ns, 'r0'));
    await kube.apply(room(ns, 'r1'));
  }
  const system = await kube.secret(NATS, 'nats-rooms-operator-system');
  const seed = Buffer.from(system!.data![SYSTEM_SEED_KEY]!, 'base64').toString();
  // The system user exists on the servers once the operator's first generation is enforced.
  const servers = await waitFor('the system user on every server', async () =>
    Promise.all(nats.urls.map(async (url) => {
      const nc = await connect({ servers: url, authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)), reconnect: false });
      return { nc, id: nc.info!.server_id };
    })), 60_000, 200);
  return {
    cp,
    nats,
    kube,
    operator,
    servers,
    stop: async () => {
      for (const s of servers) await s.nc.close();
      await operator.stop();
      await nats.stop();
      await cp.stop();
    },
  };
}

async function generationOf(server: { nc: NatsConnection; id: string }): Promise<string | undefined> {
  const msg = await server.nc.request(`$SYS.REQ.SERVER.${server.id}.ACCOUNTZ`, JSON.stringify({ account: '$SYS' }), { timeout: 5000 });
  const body = JSON.parse(new TextDecoder().decode(msg.data)) as { data?: { account_detail?: { mappings?: Record<string, unknown> } } };
  return Object.keys(body.data?.account_detail?.mappings ?? {}).find((k) => k.startsWith(GENERATION_MARKER_PREFIX))?.slice(GENERATION_MARKER_PREFIX.length);
}

/** Until every server carries a new generation marker and it is the Secret's (what it saw last, if not). */
async function untilEnforced(r: Rig, before: string | undefined, timeoutMs: number): Promise<void> {
  let last = {};
  try {
    await waitFor('every server to enforce the change', async () => {
      const gens = await Promise.all(r.servers.map(generationOf));
      last = { before, servers: gens };
      if (gens[0] === before || gens.some((g) => g !== gens[0])) return undefined;
      // Every server moved to one new generation: it must be the Secret's (read only now, to keep the
      // polling off the API server the operator is writing to).
      const hash = (await r.kube.secret(NATS, 'nats-rooms-auth'))?.metadata.annotations?.[CONFIG_HASH_ANNOTATION];
      last = { before, secret: hash, servers: gens };
      return hash === gens[0] ? true : undefined;
    }, timeoutMs, 10);
  } catch (e) {
    throw new Error(`${(e as Error).message}; last seen: ${JSON.stringify(last)}`);
  }
}

const members = (count: number, offset = 0, namespace = NS): Member[] =>
  Array.from({ length: count }, (_, i) => member(namespace, `m${offset + i}`, { nkey: keyWithoutSeed(`${namespace} ${offset + i}`), rooms: [{ room: 'r0', access: 'PublishSubscribe' }] }));

export async function benchPropagation(): Promise<void> {
  const r = await rig();
  try {
    await forEachLimited(members(100), 16, async (m) => void (await r.kube.apply(m)));
    await untilAllReady(r.kube, [NS], 100, 60_000);
    const enforced: number[] = [];
    const ready: number[] = [];
    const inR1 = new Set<number>();
    for (let i = 0; i < 60; i++) {
      // Each change flips one member in or out of room r1: every change is a new config.
      const n = (i * 7) % 100;
      const target = `m${n}`;
      if (inR1.has(n)) inR1.delete(n);
      else inR1.add(n);
      const rooms = [{ room: 'r0', access: 'PublishSubscribe' as const }, ...(inR1.has(n) ? [{ room: 'r1', access: 'Subscribe' as const }] : [])];
      const before = await generationOf(r.servers[0]!);
      const start = performance.now();
      const applied = await r.kube.apply(member(NS, target, { nkey: keyWithoutSeed(`bench ${n}`), rooms }));
      // Enforced: every server carries a new generation marker and it is the Secret's.
      await untilEnforced(r, before, 30_000);
      enforced.push(performance.now() - start);
      await r.kube.waitCondition('members', NS, target, 'Ready', 'True');
      ready.push(performance.now() - start);
      void applied;
    }
    report({
      bench: 'propagation',
      members: 100,
      servers: 3,
      changes: enforced.length,
      kubeletDelayMs: 0,
      enforcedOnAllServers: stats(enforced),
      memberReady: stats(ready),
      ...(await operatorCost(r.operator.pid, IDLE_MS)),
    });
  } finally {
    await r.stop();
  }
}

/**
 * Propagation at 10,000 members (a config over several shard Secrets), next to the raw reload time
 * of the same config on the same servers: the time a $SYS RELOAD request takes when the file is
 * already in place (nats-server re-reads and re-parses it), per server.
 */
export async function benchPropagation10k(): Promise<void> {
  await benchLargeWorld('propagation-10k', [NS], 10_000);
}

/**
 * 50,000 Members in 5 namespaces (10,000 each, the default namespace budget), applied with the
 * operator running; the time to all Ready, what it cost the API server, etcd and the operator, then
 * the 20 changes of propagation-10k.
 */
export async function benchScale(): Promise<void> {
  await benchLargeWorld('scale', Array.from({ length: 5 }, (_, i) => `bench-${i}`), 10_000);
}

/** BENCH_PARALLELISM=N runs the large benchmarks with --rollout-parallelism=N. */
const PARALLELISM = process.env.BENCH_PARALLELISM ? [`--rollout-parallelism=${process.env.BENCH_PARALLELISM}`] : [];

async function benchLargeWorld(name: string, namespaces: string[], perNamespace: number): Promise<void> {
  const r = await rig({ namespaces, operatorArgs: PARALLELISM });
  try {
    const count = namespaces.length * perNamespace;
    const memory = memoryAtPeak(r.operator);
    const start = performance.now();
    // Applied with the operator running, as a user would: it coalesces the stream into a few generations.
    // The namespaces interleaved, so every account grows at once.
    const all = Array.from({ length: perNamespace }, (_, i) => namespaces.map((ns) => members(1, i, ns)[0]!)).flat();
    await forEachLimited(all, 32, async (m) => void (await r.kube.apply(m)));
    const appliedMs = performance.now() - start;
    await untilAllReady(r.kube, namespaces, count, 60 * 60_000);
    const allReadyMs = performance.now() - start;
    const pids = r.cp.pids();
    const controlPlane = { apiserverPeakRssMb: peakRssMb(pids.apiserver!), etcdPeakRssMb: peakRssMb(pids.etcd!) };

    const setupGenerations = await metric(r.operator, 'nats_rooms_config_generations_total');
    const setupStatusWrites = await metric(r.operator, 'nats_rooms_status_writes_total', 'kind="Member"');
    const setupCpuSeconds = +cpuSeconds(r.operator.pid).toFixed(1);
    const setupPeakRssMb = peakRssMb(r.operator.pid);

    const resultsBefore = await reloadsBy(r.operator, 'result');
    const enforced: number[] = [];
    /** Per change, the sum over the servers of one raw reload each, measured just before it. */
    const rawSums: number[] = [];
    const rawTimes: number[][] = r.servers.map(() => []);
    /** From the apply to the kubelet stand-in's last delivery to the first server's pod. */
    const delivered: number[] = [];
    for (let i = 0; i < 20; i++) {
      await quiet(r.operator);
      // The raw reload of the same config on the same servers: the RELOAD request alone, the file in place.
      let rawSum = 0;
      for (const [s, server] of r.servers.entries()) {
        const t = performance.now();
        await server.nc.request(`$SYS.REQ.SERVER.${server.id}.RELOAD`, '', { timeout: 60_000 });
        rawTimes[s]!.push(performance.now() - t);
        rawSum += performance.now() - t;
      }
      rawSums.push(rawSum);
      // A different member each time gains room r1: every change is a new config.
      const n = (i * 997) % perNamespace;
      const ns = namespaces[i % namespaces.length]!;
      const rooms = [{ room: 'r0', access: 'PublishSubscribe' as const }, { room: 'r1', access: 'Subscribe' as const }];
      const before = await generationOf(r.servers[0]!);
      const t = performance.now();
      const wallClock = Date.now();
      await r.kube.apply(member(ns, `m${n}`, { nkey: keyWithoutSeed(`${ns} ${n}`), rooms }));
      if (process.env.BENCH_LOGS) process.stderr.write(`${JSON.stringify({ bench: 'applied', member: `${ns}/m${n}`, sentAt: new Date(wallClock).toISOString(), applyMs: Date.now() - wallClock })}\n`);
      await untilEnforced(r, before, 120_000);
      enforced.push(performance.now() - t);
      if (process.env.BENCH_LOGS) process.stderr.write(`${JSON.stringify({ bench: 'enforced', member: `${ns}/m${n}`, at: new Date().toISOString() })}\n`);
      delivered.push((r.nats.standIn.stats(r.nats.podNames[0]!).lastDeliveryAt ?? NaN) - wallClock);
    }
    const resultsAfter = await reloadsBy(r.operator, 'result');
    // Not read during the idle window that follows, which would count the readings' own cost.
    const operatorMemoryAtPeak = await memory.stop();
    const shards = (await Promise.all(Array.from({ length: AUTH_SHARDS }, (_, i) => r.kube.secret(NATS, `nats-rooms-auth-${i + 1}`)))).filter(Boolean).length;
    const p = stats(enforced);
    const raw = stats(rawSums);
    const perChange = enforced.map((e, i) => e / rawSums[i]!);
    report({
      bench: name,
      members: count,
      namespaces: namespaces.length,
      servers: 3,
      rolloutParallelism: Number(process.env.BENCH_PARALLELISM ?? 1),
      shardSecrets: shards,
      applyMs: Math.round(appliedMs),
      allReadyMs: Math.round(allReadyMs),
      setupConfigGenerations: setupGenerations,
      setupMemberStatusWrites: setupStatusWrites,
      setupOperatorCpuSeconds: setupCpuSeconds,
      setupOperatorPeakRssMb: setupPeakRssMb,
      ...controlPlane,
      rawReloadMsPerServer: rawTimes.map((t) => stats(t)),
      rawReloadSumMs: raw,
      changes: enforced.length,
      enforcedOnAllServers: p,
      medianOverRawSum: +(p.medianMs / raw.medianMs).toFixed(2),
      perChangeOverRawSum: stats(perChange),
      medianRatio: stats(perChange).medianMs,
      changesOverGoal: enforced.filter((e, i) => e > 1.5 * rawSums[i]!).length,
      firstPodDeliveredMs: stats(delivered),
      // The operator's reload requests during the changes: "unchanged" and "refused" ones are waste.
      operatorReloads: Object.fromEntries(Object.entries(resultsAfter).map(([k, v]) => [k, v - (resultsBefore[k] ?? 0)])),
      goal: 'every change <= 1.5 x the sum of raw reloads, median <= 1.3 x',
      ...(await operatorCost(r.operator.pid, IDLE_MS, 2)),
      operatorMemoryAtPeak,
    });
  } finally {
    await r.stop();
  }
}

export async function benchBurst(): Promise<void> {
  const r = await rig();
  try {
    const generationsBefore = await metric(r.operator, 'nats_rooms_config_generations_total');
    const reloadsBefore = await reloadsBy(r.operator, 'server', { result: 'applied' });
    const askedBefore = total(await reloadsBy(r.operator, 'result'));
    const start = performance.now();
    const burst = members(1000);
    await forEachLimited(burst, 32, async (m) => void (await r.kube.apply(m)));
    const appliedMs = performance.now() - start;
    await untilAllReady(r.kube, [NS], 1000, 120_000);
    const allReadyMs = performance.now() - start;
    const reloads = await reloadsBy(r.operator, 'server', { result: 'applied' });
    report({
      bench: 'burst',
      members: 1000,
      servers: 3,
      applyMs: Math.round(appliedMs),
      allReadyMs: Math.round(allReadyMs),
      configGenerations: (await metric(r.operator, 'nats_rooms_config_generations_total')) - generationsBefore,
      reloadRequests: total(await reloadsBy(r.operator, 'result')) - askedBefore,
      appliedReloadsPerServer: Object.fromEntries(Object.entries(reloads).map(([s, n]) => [s, n - (reloadsBefore[s] ?? 0)])),
      memberStatusWrites: await metric(r.operator, 'nats_rooms_status_writes_total', 'kind="Member"'),
      ...(await operatorCost(r.operator.pid, IDLE_MS)),
    });
  } finally {
    await r.stop();
  }
}

/** The operator's RELOAD requests so far, summed by one label (and only those matching `where`). */
async function reloadsBy(op: OperatorProcess, label: 'server' | 'result', where: Record<string, string> = {}): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const { labels, value } of await samples(op, 'nats_rooms_server_reloads_total')) {
    if (Object.entries(where).some(([k, v]) => labels[k] !== v)) continue;
    out[labels[label]!] = (out[labels[label]!] ?? 0) + value;
  }
  return out;
}

const total = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/**
 * Until `count` Members are Ready for their current generation: one list, then a watch (polling a list
 * of thousands would load the API server the operator is writing statuses to). Across namespaces, the
 * cluster-wide collection, filtered.
 */
async function untilAllReady(kube: TestKube, namespaces: string[], count: number, timeoutMs: number): Promise<void> {
  const isReady = (m: Member) => m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === m.metadata.generation) ?? false;
  const path = namespaces.length === 1 ? paths.members(namespaces[0]) : paths.members(undefined);
  const wanted = new Set(namespaces);
  const ready = new Map<string, boolean>();
  const note = (m: Member, deleted = false) => {
    if (!wanted.has(m.metadata.namespace!)) return;
    const key = `${m.metadata.namespace}/${m.metadata.name}`;
    if (deleted) ready.delete(key);
    else ready.set(key, isReady(m));
  };
  let readyCount = 0;
  const done = () => ready.size >= count && readyCount === ready.size;
  const deadline = performance.now() + timeoutMs;
  // A list, then a watch from it; again if the server ends the watch (its request timeout) first.
  while (!done() && performance.now() < deadline) {
    ready.clear();
    let resourceVersion = '';
    let cont: string | undefined;
    do {
      const page = await kube.client.get<{ items: Member[]; metadata: { resourceVersion: string; continue?: string } }>(path, { limit: 5000, continue: cont });
      for (const m of page.items) note(m);
      resourceVersion = page.metadata.resourceVersion;
      cont = page.metadata.continue || undefined;
    } while (cont);
    readyCount = [...ready.values()].filter(Boolean).length;
    if (done()) return;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), deadline - performance.now());
    try {
      await kube.client.watch(path, { resourceVersion }, (type, object) => {
        const m = object as unknown as Member;
        const key = `${m.metadata.namespace}/${m.metadata.name}`;
        if (type === 'BOOKMARK' || !wanted.has(m.metadata.namespace!)) return;
        if (ready.get(key)) readyCount--;
        note(m, type === 'DELETED');
        if (ready.get(key)) readyCount++;
        if (done()) abort.abort();
      }, abort.signal);
    } finally {
      clearTimeout(timer);
    }
  }
  if (!done()) throw new Error(`timed out after ${timeoutMs} ms: ${readyCount} of ${count} members Ready`);
}

/** Until the operator has written every status it wanted to (its work for the last change is done). */
async function quiet(op: OperatorProcess): Promise<void> {
  await waitFor('the operator to finish its status writes', async () => ((await metric(op, 'nats_rooms_status_writes_pending')) === 0 ? true : undefined), 60_000, 20);
  await new Promise((r) => setTimeout(r, 200));
}
