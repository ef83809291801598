// Without the pod poke, the rollout waits for kubelet's own periodic delivery (here 3 s instead of
// kubelet's ~60 s) and still converges: slower, never wrong.
import { beforeAll, expect, inject, it } from 'vitest';
import { attachControlPlane } from '../platform/controlPlane.js';
import { TestKube } from '../support/kube.js';
import { member, newUserKey, room } from '../support/objects.js';
import { useOperatorAndNats } from '../support/operator.js';
import { CONFIG_HASH_ANNOTATION } from '../../src/api/metadata.js';

const cp = attachControlPlane(inject('controlPlane'));
const kube = new TestKube(cp.kubeConfig);
const NS = 'nopoke-a';
const NATS = 'nopoke-nats';
const DELAY_MS = 3000;
const suite = useOperatorAndNats({ kubeConfig: cp.kubeConfig, natsNamespace: NATS, natsRelease: 'nopoke', watchNamespaces: [NS], args: ['--poke-pods=false'], kubeletDelayMs: DELAY_MS });

beforeAll(async () => {
  await kube.apply(room(NS, 'r'));
});

it('converges on every server after kubelet delivers, without pokes', async () => {
  const dave = newUserKey();
  const started = Date.now();
  await kube.apply(member(NS, 'dave', { nkey: dave.publicKey, rooms: [{ room: 'r', access: 'Subscribe' }] }));
  await kube.waitCondition('members', NS, 'dave', 'Ready', 'True', 60_000);
  const elapsed = Date.now() - started;
  expect(elapsed).toBeGreaterThanOrEqual(DELAY_MS - 200);
  for (const c of await suite.connectEverywhere(dave.seed, `_INBOX_${NS}_dave`)) {
    c.subscribe('rooms.nopoke-a.r');
    await c.nc.flush();
    expect(c.events.permissionErrors).toEqual([]);
  }
  const annotations = await suite.podAnnotations();
  expect(annotations.map((a) => a?.[CONFIG_HASH_ANNOTATION])).toEqual([undefined, undefined, undefined]);
});
