// Propagation and burst benchmarks on the test platform: a private control plane, three real
// nats-servers, the kubelet stand-in (delay 0, so the figures are the operator's, not kubelet's),
// and the operator in-process with its default tuning.
import { connect, nkeyAuthenticator, type NatsConnection } from 'nats';
import { keyWithoutSeed } from '../src/auth/keys.js';
import { GENERATION_MARKER_PREFIX } from '../src/auth/render.js';
import { loadConfig } from '../src/config.js';
import { createLogger, silentLogger } from '../src/log.js';
import { startOperator, type RunningOperator } from '../src/operator.js';
import { forEachLimited } from '../src/controller/credentials.js';
import type { Member } from '../src/api/types.js';
import { startControlPlane, type ControlPlane } from '../test/platform/controlPlane.js';
import { AUTH_SHARDS, startNatsCluster, type NatsCluster } from '../test/platform/natsPods.js';
import { TestKube } from '../test/support/kube.js';
import { member, room } from '../test/support/objects.js';
import { waitFor } from '../test/support/processes.js';
import { report, stats } from './report.js';

const NS = 'bench';
/** BENCH_LOGS=1 shows the operator's logs on stderr. */
const benchLogger = () => (process.env.BENCH_LOGS ? createLogger('info', {}, (l) => process.stderr.write(l)) : silentLogger);
const NATS = 'nats';

interface Rig {
  cp: ControlPlane;
  nats: NatsCluster;
  kube: TestKube;
  operator: RunningOperator;
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
  const config = loadConfig([`--nats-namespace=${NATS}`, `--watch-namespaces=${NS}`, '--health-addr=127.0.0.1:0', '--leader-election=false'], {});
  const operator = await startOperator(config, cp.kubeConfig, benchLogger());
  await waitFor('the auth Secret', async () => ((await kube.secret(NATS, 'nats-rooms-auth')) ? true : undefined));
  const nats = await startNatsCluster(cp, { namespace: NATS, replicas: 3, kubeletDelayMs: 0 });
  await kube.apply(room(NS, 'r0'));
  await kube.apply(room(NS, 'r1'));
  const system = await kube.secret(NATS, 'nats-rooms-operator-system');
  const seed = Buffer.from(system!.data!['nkey.seed']!, 'base64').toString();
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
      const hash = (await r.kube.secret(NATS, 'nats-rooms-auth'))?.metadata.annotations?.['natsrooms.io/config-hash'];
      last = { before, secret: hash, servers: gens };
      return hash === gens[0] ? true : undefined;
    }, timeoutMs, 5);
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
    await waitFor('100 members Ready', async () => ((await r.kube.list<Member>('members', [NS])).every((m) => m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? true : undefined), 60_000, 100);
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
    report({ bench: 'propagation', members: 100, servers: 3, changes: enforced.length, kubeletDelayMs: 0, enforcedOnAllServers: stats(enforced), memberReady: stats(ready) });
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
    await waitFor(`${count} members Ready`, async () => {
      const list = await r.kube.list<Member>('members', [NS]);
      return list.length === count && list.every((m) => m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? true : undefined;
    }, 600_000, 2000);
    const setupMs = performance.now() - start;

    // Raw reloads of the same config on the same servers, before and after the changes.
    const rawTimes: number[][] = r.servers.map(() => []);
    const measureRawReloads = async () => {
      for (const [s, server] of r.servers.entries()) {
        for (let i = 0; i < 5; i++) {
          const t = performance.now();
          await server.nc.request(`$SYS.REQ.SERVER.${server.id}.RELOAD`, '', { timeout: 30_000 });
          rawTimes[s]!.push(performance.now() - t);
        }
      }
    };
    await measureRawReloads();

    const resultsBefore = await reloadResults(r.operator);
    const enforced: number[] = [];
    /** From the apply to the kubelet stand-in's last delivery to the first server's pod. */
    const delivered: number[] = [];
    for (let i = 0; i < 20; i++) {
      // A different member each time gains room r1: every change is a new config.
      const n = (i * 997) % count;
      const rooms = [{ room: 'r0', access: 'PublishSubscribe' as const }, { room: 'r1', access: 'Subscribe' as const }];
      const before = await generationOf(r.servers[0]!);
      const t = performance.now();
      const wallClock = Date.now();
      await r.kube.apply(member(NS, `m${n}`, { nkey: keyWithoutSeed(`bench ${n}`), rooms }));
      await untilEnforced(r, before, 60_000);
      enforced.push(performance.now() - t);
      delivered.push((r.nats.standIn.stats(r.nats.podNames[0]!).lastDeliveryAt ?? NaN) - wallClock);
    }
    const resultsAfter = await reloadResults(r.operator);
    await measureRawReloads();
    const rawReloads = rawTimes.map((t) => stats(t).medianMs);
    const rawSum = rawReloads.reduce((a, b) => a + b, 0);
    const shards = (await Promise.all(Array.from({ length: AUTH_SHARDS }, (_, i) => r.kube.secret(NATS, `nats-rooms-auth-${i + 1}`)))).filter(Boolean).length;
    const p = stats(enforced);
    report({
      bench: 'propagation-10k',
      members: count,
      servers: 3,
      shardSecrets: shards,
      setupMs: Math.round(setupMs),
      rawReloadMsPerServer: rawTimes.map((t) => stats(t)),
      rawReloadMedianSumMs: +rawSum.toFixed(1),
      changes: enforced.length,
      enforcedOnAllServers: p,
      medianOverRawSum: +(p.medianMs / rawSum).toFixed(2),
      p99OverRawSum: +(p.p99Ms / rawSum).toFixed(2),
      firstPodDeliveredMs: stats(delivered),
      // The operator's reload requests during the changes: "unchanged" and "refused" ones are waste.
      operatorReloads: Object.fromEntries(Object.entries(resultsAfter).map(([k, v]) => [k, v - (resultsBefore[k] ?? 0)])),
      goal: 'propagation <= 1.5 x the sum of raw reloads',
    });
  } finally {
    await r.stop();
  }
}

export async function benchBurst(): Promise<void> {
  const r = await rig();
  try {
    const generationsBefore = await counter(r.operator, 'nats_rooms_config_generations_total');
    const reloadsBefore = await reloadsPerServer(r.operator);
    const askedBefore = await allReloadRequests(r.operator, 0);
    const start = performance.now();
    const burst = members(1000);
    await forEachLimited(burst, 32, async (m) => void (await r.kube.apply(m)));
    const appliedMs = performance.now() - start;
    await waitFor('1,000 members Ready', async () => {
      const list = await r.kube.list<Member>('members', [NS]);
      return list.length === 1000 && list.every((m) => m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === m.metadata.generation)) ? true : undefined;
    }, 120_000, 200);
    const allReadyMs = performance.now() - start;
    const reloads = await reloadsPerServer(r.operator);
    report({
      bench: 'burst',
      members: 1000,
      servers: 3,
      applyMs: Math.round(appliedMs),
      allReadyMs: Math.round(allReadyMs),
      configGenerations: (await counter(r.operator, 'nats_rooms_config_generations_total')) - generationsBefore,
      reloadRequests: await allReloadRequests(r.operator, askedBefore),
      appliedReloadsPerServer: Object.fromEntries(Object.entries(reloads).map(([s, n]) => [s, n - (reloadsBefore[s] ?? 0)])),
    });
  } finally {
    await r.stop();
  }
}

async function metricsText(op: RunningOperator): Promise<string> {
  return (await fetch(`http://127.0.0.1:${op.healthPort}/metrics`)).text();
}

async function counter(op: RunningOperator, name: string): Promise<number> {
  const line = (await metricsText(op)).split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Every RELOAD request, applied or not (the file may not have been delivered yet). */
async function allReloadRequests(op: RunningOperator, before: number): Promise<number> {
  let total = 0;
  for (const line of (await metricsText(op)).split('\n')) if (line.startsWith('nats_rooms_server_reloads_total{')) total += Number(line.split(' ').pop());
  return total - before;
}

/** RELOAD requests the operator made, by result, over all servers. */
async function reloadResults(op: RunningOperator): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await metricsText(op)).split('\n')) {
    const m = /^nats_rooms_server_reloads_total\{server="[^"]+",result="([^"]+)"\} (\d+)/.exec(line);
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  return out;
}

async function reloadsPerServer(op: RunningOperator): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await metricsText(op)).split('\n')) {
    const m = /^nats_rooms_server_reloads_total\{server="([^"]+)",result="applied"\} (\d+)/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}
