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
import { operatorCost } from './processCost.js';
import { FatalWaitError, freePorts, startProcess, waitFor } from '../test/support/processes.js';
import { report, stats } from './report.js';
import { CONFIG_HASH_ANNOTATION, SYSTEM_SEED_KEY } from '../src/api/metadata.js';

const NS = 'bench';
/** How long the operator is watched with nothing changing, for its idle CPU (BENCH_IDLE_MS; default 60 s). */
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 60_000);
const NATS = 'nats';
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The operator as a process of its own, built (`npm run build`, then `node dist/main.js run`) as the
 * image runs it, default tuning: its memory and CPU are the product's, not a TypeScript loader's (tsx
 * alone idles at about 0.5% of a core here).
 */
interface OperatorProcess {
  healthPort: number;
  pid: number;
  stop(): Promise<void>;
}

/** BENCH_LOGS=1 shows the operator's logs on stderr. */
async function startOperatorProcess(cp: ControlPlane): Promise<OperatorProcess> {
  const [healthPort] = await freePorts(1);
  const args = [`--nats-namespace=${NATS}`, `--watch-namespaces=${NS}`, `--health-addr=127.0.0.1:${healthPort}`, '--leader-election=false'];
  buildOnce();
  // BENCH_OPERATOR_NODE_ARGS: node flags for the operator alone (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
  const nodeArgs = (process.env.BENCH_OPERATOR_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const started = startProcess(process.execPath, [...nodeArgs, 'dist/main.js', 'run', ...args], {
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

interface Rig {
  cp: ControlPlane;
  nats: NatsCluster;
  kube: TestKube;
  operator: OperatorProcess;
  /** One system-account connection per server, to read the generation each one enforces. */
  servers: { nc: NatsConnection; id: string }[];
  stop(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const cp = await startControlPlane();
  const kube = new TestKube(cp.kubeConfig);
  await kube.ensureNamespace(NS);
  await kube.ensureNamespace(NATS);
  // The operator first, as in a cluster: the NATS pods start from the Secret it writes.
  const operator = await startOperatorProcess(cp);
  await waitFor('the auth Secret', async () => ((await kube.secret(NATS, 'nats-rooms-auth')) ? true : undefined));
  const nats = await startNatsCluster(cp, { namespace: NATS, replicas: 3, kubeletDelayMs: 0 });
  await kube.apply(room(NS, 'r0'));
  await kube.apply(room(NS, 'r1'));
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

const members = (count: number, offset = 0): Member[] =>
  Array.from({ length: count }, (_, i) => member(NS, `m${offset + i}`, { nkey: keyWithoutSeed(`bench ${offset + i}`), rooms: [{ room: 'r0', access: 'PublishSubscribe' }] }));

export async function benchPropagation(): Promise<void> {
  const r = await rig();
  try {
    await forEachLimited(members(100), 16, async (m) => void (await r.kube.apply(m)));
    await untilAllReady(r.kube, 100, 60_000);
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
  const r = await rig();
  try {
    const count = 10_000;
    const start = performance.now();
    // Applied with the operator running, as a user would: it coalesces the stream into a few generations.
    await forEachLimited(members(count), 32, async (m) => void (await r.kube.apply(m)));
    await untilAllReady(r.kube, count, 600_000);
    const setupMs = performance.now() - start;

    const setupGenerations = await metric(r.operator, 'nats_rooms_config_generations_total');
    const setupStatusWrites = await metric(r.operator, 'nats_rooms_status_writes_total', 'kind="Member"');

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
        await server.nc.request(`$SYS.REQ.SERVER.${server.id}.RELOAD`, '', { timeout: 30_000 });
        rawTimes[s]!.push(performance.now() - t);
        rawSum += performance.now() - t;
      }
      rawSums.push(rawSum);
      // A different member each time gains room r1: every change is a new config.
      const n = (i * 997) % count;
      const rooms = [{ room: 'r0', access: 'PublishSubscribe' as const }, { room: 'r1', access: 'Subscribe' as const }];
      const before = await generationOf(r.servers[0]!);
      const t = performance.now();
      const wallClock = Date.now();
      await r.kube.apply(member(NS, `m${n}`, { nkey: keyWithoutSeed(`bench ${n}`), rooms }));
      if (process.env.BENCH_LOGS) process.stderr.write(`${JSON.stringify({ bench: 'applied', member: `m${n}`, sentAt: new Date(wallClock).toISOString(), applyMs: Date.now() - wallClock })}\n`);
      await untilEnforced(r, before, 60_000);
      enforced.push(performance.now() - t);
      if (process.env.BENCH_LOGS) process.stderr.write(`${JSON.stringify({ bench: 'enforced', member: `m${n}`, at: new Date().toISOString() })}\n`);
      delivered.push((r.nats.standIn.stats(r.nats.podNames[0]!).lastDeliveryAt ?? NaN) - wallClock);
    }
    const resultsAfter = await reloadsBy(r.operator, 'result');
    const shards = (await Promise.all(Array.from({ length: AUTH_SHARDS }, (_, i) => r.kube.secret(NATS, `nats-rooms-auth-${i + 1}`)))).filter(Boolean).length;
    const p = stats(enforced);
    const raw = stats(rawSums);
    report({
      bench: 'propagation-10k',
      members: count,
      servers: 3,
      shardSecrets: shards,
      setupMs: Math.round(setupMs),
      setupConfigGenerations: setupGenerations,
      setupMemberStatusWrites: setupStatusWrites,
      rawReloadMsPerServer: rawTimes.map((t) => stats(t)),
      rawReloadSumMs: raw,
      changes: enforced.length,
      enforcedOnAllServers: p,
      medianOverRawSum: +(p.medianMs / raw.medianMs).toFixed(2),
      perChangeOverRawSum: stats(enforced.map((e, i) => e / rawSums[i]!)),
      changesOverGoal: enforced.filter((e, i) => e > 1.5 * rawSums[i]!).length,
      firstPodDeliveredMs: stats(delivered),
      // The operator's reload requests during the changes: "unchanged" and "refused" ones are waste.
      operatorReloads: Object.fromEntries(Object.entries(resultsAfter).map(([k, v]) => [k, v - (resultsBefore[k] ?? 0)])),
      goal: 'propagation <= 1.5 x the sum of raw reloads',
      ...(await operatorCost(r.operator.pid, IDLE_MS)),
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
    await untilAllReady(r.kube, 1000, 120_000);
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
 * of thousands would load the API server the operator is writing statuses to).
 */
async function untilAllReady(kube: TestKube, count: number, timeoutMs: number): Promise<void> {
  const isReady = (m: Member) => m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === m.metadata.generation) ?? false;
  const list = await kube.client.get<{ items: Member[]; metadata: { resourceVersion: string } }>(paths.members(NS));
  const ready = new Map(list.items.map((m) => [m.metadata.name, isReady(m)]));
  const done = () => ready.size >= count && [...ready.values()].every(Boolean);
  if (done()) return;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    await kube.client.watch(paths.members(NS), { resourceVersion: list.metadata.resourceVersion }, (type, object) => {
      const m = object as unknown as Member;
      if (type === 'DELETED') ready.delete(m.metadata.name);
      else if (type !== 'BOOKMARK') ready.set(m.metadata.name, isReady(m));
      if (done()) abort.abort();
    }, abort.signal);
  } finally {
    clearTimeout(timer);
  }
  if (!done()) throw new Error(`timed out after ${timeoutMs} ms: ${[...ready.values()].filter(Boolean).length} of ${count} members Ready`);
}

/** Until the operator has written every status it wanted to (its work for the last change is done). */
async function quiet(op: OperatorProcess): Promise<void> {
  await waitFor('the operator to finish its status writes', async () => ((await metric(op, 'nats_rooms_status_writes_pending')) === 0 ? true : undefined), 60_000, 20);
  await new Promise((r) => setTimeout(r, 200));
}
