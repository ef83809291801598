// A kubelet whose Secret watch lags: the pod poke makes it sync at once, but from a cache that does not
// have the new Secret yet, so the server re-reads the old files. The operator pokes the pod again and
// the rollout converges long before kubelet's periodic sync (60 s here) would have delivered.
import { beforeAll, expect, inject, it } from 'vitest';
import { POKED_AT_ANNOTATION } from '../../src/api/metadata.js';
import { attachControlPlane } from '../platform/controlPlane.js';
import { TestKube } from '../support/kube.js';
import { member, newUserKey, room } from '../support/objects.js';
import { metric, useOperatorAndNats } from '../support/operator.js';

const cp = attachControlPlane(inject('controlPlane'));
const kube = new TestKube(cp.kubeConfig);
const NS = 'latewatch-a';
const NATS = 'latewatch-nats';
const LAG_MS = 2500;
const suite = useOperatorAndNats({ kubeConfig: cp.kubeConfig, natsNamespace: NATS, natsRelease: 'latewatch', watchNamespaces: [NS], kubeletDelayMs: 60_000 });

beforeAll(async () => {
  await kube.apply(room(NS, 'r'));
  await kube.waitCondition('rooms', NS, 'r', 'Ready', 'True', 30_000);
});

it('pokes a pod again when kubelet synced it from a stale cache, and converges without the periodic sync', async () => {
  suite.nats.standIn.watchLagMs = LAG_MS;
  const erin = newUserKey();
  const started = Date.now();
  await kube.apply(member(NS, 'erin', { nkey: erin.publicKey, rooms: [{ room: 'r', access: 'Subscribe' }] }));
  await kube.waitCondition('members', NS, 'erin', 'Ready', 'True', 30_000);
  const elapsed = Date.now() - started;
  suite.nats.standIn.watchLagMs = 0;
  // Not before the watch caught up, and far sooner than kubelet's 60 s sync.
  expect(elapsed).toBeGreaterThanOrEqual(LAG_MS);
  expect(elapsed).toBeLessThan(20_000);
  // The first server re-read its old files at least once: the first poke came too early.
  expect(await metric(suite.operator, 'nats_rooms_server_reloads_total', 'server="latewatch-0",result="unchanged"')).toBeGreaterThan(0);
  for (const a of await suite.podAnnotations()) expect(a?.[POKED_AT_ANNOTATION]).toBeDefined();
  for (const c of await suite.connectEverywhere(erin.seed, `_INBOX_${NS}_erin`)) {
    c.subscribe('rooms.latewatch-a.r');
    await c.nc.flush();
    expect(c.events.permissionErrors).toEqual([]);
  }
});
