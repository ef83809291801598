// Without the pod poke, the rollout waits for kubelet's own periodic delivery (here 3 s instead of
// kubelet's ~60 s) and still converges: slower, never wrong.
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { RunningOperator } from '../../src/operator.js';
import { attachControlPlane } from '../platform/controlPlane.js';
import type { NatsCluster } from '../platform/natsPods.js';
import { Client } from '../support/natsClient.js';
import { TestKube } from '../support/kube.js';
import { member, newUserKey, room } from '../support/objects.js';
import { startOperatorThenNats } from '../support/operator.js';

const cp = attachControlPlane(inject('controlPlane'));
const kube = new TestKube(cp.kubeConfig);
const NS = 'nopoke-a';
const NATS = 'nopoke-nats';
const DELAY_MS = 3000;
let nats: NatsCluster;
let operator: RunningOperator;
const clients: Client[] = [];

beforeAll(async () => {
  ({ operator, nats } = await startOperatorThenNats({ kubeConfig: cp.kubeConfig, natsNamespace: NATS, natsRelease: 'nopoke', watchNamespaces: [NS], args: ['--poke-pods=false'], kubeletDelayMs: DELAY_MS }));
  await kube.apply(room(NS, 'r'));
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await operator?.stop();
  await nats?.stop();
});

it('converges on every server after kubelet delivers, without pokes', async () => {
  const dave = newUserKey();
  const started = Date.now();
  await kube.apply(member(NS, 'dave', { nkey: dave.publicKey, rooms: [{ room: 'r', access: 'Subscribe' }] }));
  await kube.waitCondition('members', NS, 'dave', 'Ready', 'True', 60_000);
  const elapsed = Date.now() - started;
  expect(elapsed).toBeGreaterThanOrEqual(DELAY_MS - 200);
  for (const url of nats.urls) {
    const c = await Client.connect(url, dave.seed, `_INBOX_${NS}_dave`, { reconnect: false });
    clients.push(c);
    c.subscribe('rooms.nopoke-a.r');
    await c.nc.flush();
    expect(c.events.permissionErrors).toEqual([]);
  }
  const pods = await Promise.all(nats.podNames.map((name) => kube.client.get<{ metadata: { annotations?: Record<string, string> } }>(`/api/v1/namespaces/${NATS}/pods/${name}`)));
  expect(pods.map((p) => p.metadata.annotations?.['natsrooms.io/config-hash'])).toEqual([undefined, undefined, undefined]);
});
