// `npm run bench -- node-propagation`: propagation on the real node (test/e2e/node/): a real
// kubelet delivering the auth Secret to the chart's bundled 3-server NATS StatefulSet, the operator
// as the chart's Deployment of the image built from the Dockerfile. 100 members, 50 changes back to back
// and 50 with 1.5 s of quiet between them (kubelet's cadence, see SPACED_PAUSE_MS); each
// change is timed from the apply until every server enforces the new generation (read
// independently from each server over the system account, by pod IP) and until the Member is Ready.
//
// It starts the node with `test/e2e/node/run.sh` (E2E_UNTIL=install: through the helm install, the
// node kept running) and stops it at the end. Needs what `npm run e2e` needs.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { connect, nkeyAuthenticator, type NatsConnection } from 'nats';
import { keyWithoutSeed } from '../src/auth/keys.js';
import { GENERATION_MARKER_PREFIX } from '../src/auth/render.js';
import { forEachLimited } from '../src/controller/credentials.js';
import { paths } from '../src/kube/paths.js';
import type { Member } from '../src/api/types.js';
import { TestKube } from '../test/support/kube.js';
import { member, room } from '../test/support/objects.js';
import { waitFor } from '../test/support/processes.js';
import { report, stats } from './report.js';
import { CONFIG_HASH_ANNOTATION, SYSTEM_SEED_KEY } from '../src/api/metadata.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const STATE = process.env.NRO_NODE_STATE ?? '/tmp/nro-node';
const NATS_NS = 'nats-rooms-operator';
const NS = 'bench-node';
const MEMBERS = 100;
const CHANGES = 50;
/** Quiet between the spaced changes: more than kubelet's cadence of about one volume refresh a second per pod. */
const SPACED_PAUSE_MS = 1500;
const SELECTOR = 'app.kubernetes.io/name=nats,app.kubernetes.io/instance=nats-rooms-operator,app.kubernetes.io/component=nats';

interface Server {
  nc: NatsConnection;
  id: string;
  pod: string;
}

function sh(args: string[], env: Record<string, string> = {}): void {
  const r = spawnSync('bash', args, { cwd: REPO_ROOT, stdio: ['ignore', process.stderr, process.stderr], env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`bash ${args.join(' ')} exited ${r.status}`);
}

async function generationOf(server: Server): Promise<string | undefined> {
  const msg = await server.nc.request(`$SYS.REQ.SERVER.${server.id}.ACCOUNTZ`, JSON.stringify({ account: '$SYS' }), { timeout: 5000 });
  const body = JSON.parse(new TextDecoder().decode(msg.data)) as { data?: { account_detail?: { mappings?: Record<string, unknown> } } };
  return Object.keys(body.data?.account_detail?.mappings ?? {}).find((k) => k.startsWith(GENERATION_MARKER_PREFIX))?.slice(GENERATION_MARKER_PREFIX.length);
}

export async function benchNodePropagation(): Promise<void> {
  const bin = spawnSync('bash', ['test/platform/install-binaries.sh', '--print-dir'], { cwd: REPO_ROOT, encoding: 'utf8' }).stdout.trim();
  // The node, the images and the chart: the e2e's own bring-up, stopped after the helm install.
  sh(['test/e2e/node/run.sh'], { E2E_KEEP: '1', E2E_UNTIL: 'install' });
  const servers: Server[] = [];
  try {
    if (!existsSync(`${STATE}/admin.kubeconfig`)) throw new Error(`no node running (${STATE}/admin.kubeconfig is missing): the e2e skipped or failed`);
    const kc = new KubeConfig();
    kc.loadFromFile(`${STATE}/admin.kubeconfig`);
    const kube = new TestKube(kc);
    await kube.ensureNamespace(NS);
    await kube.apply(room(NS, 'r0'));
    await kube.apply(room(NS, 'r1'));
    const members: Member[] = Array.from({ length: MEMBERS }, (_, i) =>
      member(NS, `m${i}`, { nkey: keyWithoutSeed(`bench ${i}`), rooms: [{ room: 'r0', access: 'PublishSubscribe' }] }));
    await forEachLimited(members, 16, async (m) => void (await kube.apply(m)));
    await waitFor('every Member Ready', async () => {
      const list = await kube.list<Member>('members', [NS]);
      const ready = list.filter((m) => m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      return ready.length === MEMBERS ? true : undefined;
    }, 180_000, 250);

    // Each server on its own, by pod IP, as the operator's system user.
    const system = await kube.secret(NATS_NS, 'nats-rooms-operator-system');
    const seed = new TextEncoder().encode(Buffer.from(system!.data![SYSTEM_SEED_KEY]!, 'base64').toString());
    const pods = await kube.client.get<{ items: { metadata: { name: string }; status: { podIP?: string } }[] }>(paths.pods(NATS_NS), { labelSelector: SELECTOR });
    for (const p of pods.items) {
      const nc = await connect({ servers: `nats://${p.status.podIP}:4222`, authenticator: nkeyAuthenticator(seed), reconnect: false });
      servers.push({ nc, id: nc.info!.server_id, pod: p.metadata.name });
    }
    if (servers.length !== 3) throw new Error(`expected 3 NATS pods, found ${servers.length}`);

    const timeline: string[] = [];
    const inR1 = new Set<number>();
    /** `count` changes, each waited for to be enforced and Ready, with `pauseMs` of quiet before the next. */
    const series = async (label: string, count: number, pauseMs: number) => {
      const enforced: number[] = [];
      const ready: number[] = [];
      for (let i = 0; i < count; i++) {
        if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
        // Each change flips one member in or out of room r1: every change is a new config.
        const n = (i * 7) % MEMBERS;
        if (inR1.has(n)) inR1.delete(n);
        else inR1.add(n);
        const rooms = [{ room: 'r0', access: 'PublishSubscribe' as const }, ...(inR1.has(n) ? [{ room: 'r1', access: 'Subscribe' as const }] : [])];
        const before = await generationOf(servers[0]!);
        const start = performance.now();
        const startedAt = Date.now();
        const applied = await kube.apply(member(NS, `m${n}`, { nkey: keyWithoutSeed(`bench ${n}`), rooms }));
        let last = {};
        await waitFor('every server to enforce the change', async () => {
          const gens = await Promise.all(servers.map(generationOf));
          last = { before, servers: gens };
          if (gens[0] === before || gens.some((g) => g !== gens[0])) return undefined;
          const hash = (await kube.secret(NATS_NS, 'nats-rooms-auth'))?.metadata.annotations?.[CONFIG_HASH_ANNOTATION];
          last = { before, secret: hash, servers: gens };
          return hash === gens[0] ? true : undefined;
        }, 60_000, 10).catch((e: Error) => { throw new Error(`${e.message}; last seen: ${JSON.stringify(last)}`); });
        enforced.push(performance.now() - start);
        timeline.push(`${label} change ${i}: m${n} applied at ${new Date(startedAt).toISOString()}, enforced on all after ${Math.round(enforced.at(-1)!)} ms`);
        const generation = applied.metadata.generation;
        await waitFor('the Member Ready on its generation', async () => {
          const m = await kube.member(NS, `m${n}`);
          const c = m?.status?.conditions?.find((x) => x.type === 'Ready');
          return c?.status === 'True' && (m?.status?.observedGeneration ?? 0) >= (generation ?? 0) ? true : undefined;
        }, 60_000, 10);
        ready.push(performance.now() - start);
      }
      return { enforcedOnAllServers: stats(enforced), memberReady: stats(ready) };
    };
    // Back to back: the next change as soon as the last one is Ready (about one a second). Then with
    // quiet between changes: kubelet refreshes a pod's Secret volume about once a second at most
    // (README), so changes that follow each other closer than that also measure kubelet's cadence.
    const backToBack = await series('back-to-back', CHANGES, 0);
    const spaced = await series('spaced', CHANGES, SPACED_PAUSE_MS);
    if (process.env.BENCH_LOGS) {
      // The operators' own account of each change (phasesMs per reconcile), beside the benchmark's clock.
      for (const line of timeline) process.stderr.write(`[bench] ${line}\n`);
      const kubectl = `${bin}/kubectl`;
      const env = { ...process.env, KUBECONFIG: `${STATE}/admin.kubeconfig` };
      const names = spawnSync(kubectl, ['-n', NATS_NS, 'get', 'pods', '-l', 'app.kubernetes.io/component=operator', '-o', 'name'], { encoding: 'utf8', env }).stdout.split('\n').filter(Boolean);
      for (const name of names) process.stderr.write(spawnSync(kubectl, ['-n', NATS_NS, 'logs', name], { encoding: 'utf8', env }).stdout);
    }
    report({ bench: 'node-propagation', members: MEMBERS, servers: servers.length, changes: CHANGES, kubelet: 'real', ...backToBack, spaced: { pauseMs: SPACED_PAUSE_MS, ...spaced } });
  } finally {
    for (const s of servers) await s.nc.close().catch(() => undefined);
    sh(['test/e2e/node/cluster.sh', 'down', bin]);
  }
}
