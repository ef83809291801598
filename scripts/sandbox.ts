// `npm run sandbox`: the operator on the test platform, for a newcomer to watch permissions change
// live. A real kube-apiserver, etcd and kube-controller-manager (namespaces really delete, default
// ServiceAccounts appear, the garbage collector removes a deleted Member's credentials Secret), three
// real nats-servers with their Pods, the kubelet stand-in, the operator's main job in this process,
// and examples/ applied. Runs until Ctrl-C, then cleans up.
import { copyFileSync, mkdirSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startOperator } from '../src/operator.js';
import type { Member } from '../src/api/types.js';
import { startControlPlane } from '../test/platform/controlPlane.js';
import { startNatsCluster } from '../test/platform/natsPods.js';
import { cacheDir } from '../test/support/binaries.js';
import { clusterConfigs } from '../test/support/natsServer.js';
import { TestKube } from '../test/support/kube.js';
import { waitFor } from '../test/support/processes.js';

const root = join(import.meta.dirname, '..');
const state = join(root, '.sandbox');
const step = (what: string) => process.stderr.write(`[sandbox] ${what}\n`);

rmSync(state, { recursive: true, force: true });
mkdirSync(state, { recursive: true });

step('starting etcd, kube-apiserver and kube-controller-manager ...');
const cp = await startControlPlane({ controllerManager: true });
const kube = new TestKube(cp.kubeConfig);
await kube.ensureNamespace('nats');

// The servers' ports are chosen first: the operator writes them into the members' credentials.
// JetStream on, clustered: examples/persisted-chat keeps an R3 stream.
const natsConfigs = await clusterConfigs(join(state, 'nats'), 3, { jetstream: true });
const urls = natsConfigs.map((c) => `nats://127.0.0.1:${c.clientPort}`);

step('starting the operator (logs: .sandbox/operator.log) ...');
const logFile = createWriteStream(join(state, 'operator.log'));
const operator = await startOperator(
  loadConfig(['--nats-namespace=nats', '--health-addr=127.0.0.1:0', '--leader-election=false', `--client-url=${urls.join(',')}`], {}),
  cp.kubeConfig,
  createLogger('info', {}, (line) => logFile.write(line)),
);
await waitFor('the operator to write the auth Secret', async () => ((await kube.secret('nats', 'nats-rooms-auth')) ? true : undefined));

step('starting 3 nats-servers and their Pods (kubelet stand-in: Secret changes reach a pod after 60 s, or at once when the operator pokes it) ...');
const nats = await startNatsCluster(cp, { namespace: 'nats', replicas: 3, configs: natsConfigs, baseDir: join(state, 'nats') });

step('applying examples/ ...');
const applied = await cp.kubectl(['apply', '-R', '-f', join(root, 'examples')]);
if (applied.code !== 0) throw new Error(`kubectl apply failed: ${applied.stderr}`);

step('waiting for every example Member to be Ready ...');
await waitFor(
  'the example Members to be Ready',
  async () => {
    const members = await kube.list<Member>('members', ['demo', 'chat', 'chat-guests', 'history']);
    return members.length > 0 && members.every((m) => m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? true : undefined;
  },
  120_000,
  250,
);

const kubeconfig = join(state, 'kubeconfig');
copyFileSync(cp.kubeconfigPath, kubeconfig);
const bin = join(cacheDir(), 'bin', 'current');
writeFileSync(
  join(state, 'env'),
  `export KUBECONFIG=${kubeconfig}\nexport PATH=${bin}:$PATH\n`,
);

process.stdout.write(`
The sandbox is up: a real kube-apiserver, 3 nats-servers, and the operator, with examples/ applied.
A real kube-controller-manager runs too (pid ${cp.pids().controllerManager}): deleted namespaces go away, owned Secrets are garbage-collected.

  Talk to it:         source .sandbox/env        (sets KUBECONFIG, and PATH for the pinned kubectl and nats CLI)
                      kubectl get rooms,members -A
                      kubectl describe member -n demo joe
  NATS servers:       ${urls.join('  ')}
  Credentials:        every Member without spec.nkey has a Secret <member>-nats-credentials in its namespace
                      (keys nkey.seed, nkey.pub, inbox-prefix, nats-url)
  Operator:           logs in .sandbox/operator.log, metrics at http://127.0.0.1:${operator.healthPort}/metrics

Try the private-inbox story (greeter answers; pam cannot read joe's replies):

  npm run story

or by hand with the nats CLI:

  kubectl -n demo get secret joe-nats-credentials -o jsonpath='{.data.nkey\\.seed}' | base64 -d > .sandbox/joe.nk
  nats --server ${urls[0]} --nkey .sandbox/joe.nk --inbox-prefix _INBOX_demo_joe sub '_INBOX.>'   # refused

Then change something and watch it go live on a connection that stays open:

  npm run story -- --live                         # pam asks every second; leave it running
  kubectl -n demo patch member pam --type=json -p '[{"op":"remove","path":"/spec/rooms/0"}]'
                                                  # (another terminal) pam's live connection is refused

A persisted room (examples/persisted-chat): dana writes, erin reads history through her own consumer:

  for m in dana erin; do kubectl -n history get secret $m-nats-credentials -o jsonpath='{.data.nkey\\.seed}' | base64 -d > .sandbox/$m.nk; done
  nats --server ${urls[0]} --nkey .sandbox/dana.nk --inbox-prefix _INBOX_history_dana pub --jetstream rooms.history.log 'hello {{Count}}' --count 3
  nats --server ${urls[1]} --nkey .sandbox/erin.nk --inbox-prefix _INBOX_history_erin consumer next history_log erin__reader --count 3
  nats --server ${urls[2]} --nkey .sandbox/erin.nk --inbox-prefix _INBOX_history_erin stream get history_log 1
  kubectl -n history get room log -o jsonpath='{.status.streamState}'

Press Ctrl-C to stop and clean up.
`);

await new Promise<void>((resolve) => {
  process.once('SIGINT', () => resolve());
  process.once('SIGTERM', () => resolve());
});
step('stopping ...');
await operator.stop();
await nats.stop();
await cp.stop();
logFile.end();
rmSync(state, { recursive: true, force: true });
process.exit(0);
