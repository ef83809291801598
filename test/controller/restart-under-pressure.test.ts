// A config too large for its Secrets, and then an operator restart: the new operator knows the last
// generation only from the Secrets, reads it back, and still applies a revocation at once (without
// that, every change would wait until someone removed the object that made the config too large).
import { expect, inject, it } from 'vitest';
import { attachControlPlane } from '../platform/controlPlane.js';
import { TestKube } from '../support/kube.js';
import { member, newUserKey, room } from '../support/objects.js';
import { metric, startTestOperator, useOperatorAndNats } from '../support/operator.js';
import { waitFor } from '../support/processes.js';

const cp = attachControlPlane(inject('controlPlane'));
const kube = new TestKube(cp.kubeConfig);
const NS = 'rup-a';
const NATS = 'rup-nats';
const args = ['--auth-shards=0', '--max-secret-bytes=16000'];
const suite = useOperatorAndNats({ kubeConfig: cp.kubeConfig, natsNamespace: NATS, natsRelease: 'rup', watchNamespaces: [NS], args, kubeletDelayMs: 60_000 });
const longDeny = (tag: string) => Array.from({ length: 64 }, (_, i) => `rooms.${NS}.${tag}${i}.${'x'.repeat(230)}`);

it('a revocation after an operator restart is enforced while the config is too large', { timeout: 120_000 }, async () => {
  const [x, y] = [newUserKey(), newUserKey()];
  await kube.apply(room(NS, 'a'));
  await kube.apply(room(NS, 'b'));
  await kube.apply(member(NS, 'x', { nkey: x.publicKey, rooms: [{ room: 'a', access: 'PublishSubscribe' }, { room: 'b', access: 'PublishSubscribe' }] }));
  await kube.waitCondition('members', NS, 'x', 'Ready', 'True');
  // y alone makes the config too large: its addition waits.
  await kube.apply(member(NS, 'y', { nkey: y.publicKey, rooms: [{ room: 'a', access: 'PublishSubscribe' }], deny: { publish: longDeny('p'), subscribe: longDeny('s') } }));
  await waitFor('the rollout to be degraded', async () => ((await metric(suite.operator, 'nats_rooms_rollout_degraded')) === 1 ? true : undefined), 20_000);

  await suite.operator.stop();
  suite.operator = await startTestOperator({ kubeConfig: cp.kubeConfig, natsNamespace: NATS, natsRelease: 'rup', watchNamespaces: [NS], clientUrls: suite.nats.urls, args });
  await waitFor('a first reconcile', async () => ((await metric(suite.operator, 'nats_rooms_reconciles_total', 'result="ok"')) >= 1 ? true : undefined), 20_000);

  const conns = await suite.connectEverywhere(x.seed, `_INBOX_${NS}_x`);
  for (const c of conns) c.subscribe(`rooms.${NS}.b`);
  await Promise.all(conns.map((c) => c.nc.flush()));
  const started = Date.now();
  await kube.apply(member(NS, 'x', { nkey: x.publicKey, rooms: [{ room: 'a', access: 'PublishSubscribe' }] }));
  await waitFor('x to lose room b on every server', () => (conns.every((c) => c.hasPermissionError('subscription', `rooms.${NS}.b`)) ? true : undefined), 20_000);
  console.log(`restart under pressure: revocation enforced on all servers in ${Date.now() - started} ms`);
  const text = (await kube.secretText(NATS, 'nats-rooms-auth'))!;
  expect(text).not.toContain(`"rooms.${NS}.b"`);
  expect(text).not.toContain(y.publicKey);
  expect(await metric(suite.operator, 'nats_rooms_rollout_degraded')).toBe(1);
});
