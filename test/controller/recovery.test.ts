// Failures the controller must ride out, on a private control plane (these tests restart it):
// an API server restart, watches that go silent, and two replicas competing for the lease.
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningOperator } from '../../src/operator.js';
import { startControlPlane, type ControlPlane } from '../platform/controlPlane.js';
import { TestKube } from '../support/kube.js';
import { member, newUserKey, room } from '../support/objects.js';
import { metric, startTestOperator } from '../support/operator.js';
import { waitFor } from '../support/processes.js';
import { TcpProxy } from '../support/tcpProxy.js';

const NS = 'rcv-a';
const NATS = 'rcv-nats';
let cp: ControlPlane;
let kube: TestKube;
const operators: RunningOperator[] = [];

const secretHas = (text: string) =>
  waitFor(`the auth Secret to contain ${text}`, async () => ((await kube.secretText(NATS, 'nats-rooms-auth'))?.includes(text) ? true : undefined), 30_000);

/** The operator's view of the cluster goes through `server` (a proxy) when given. */
function kubeConfigVia(server?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(cp.kubeConfig.exportConfig());
  if (server) kc.clusters[0] = { ...kc.clusters[0]!, server };
  return kc;
}

async function operator(args: string[], kubeConfig = cp.kubeConfig, identity = 'op', reflectorTuning?: { stallTimeoutMs: number; watchTimeoutSeconds: number }) {
  const op = await startTestOperator({ kubeConfig, natsNamespace: NATS, natsRelease: 'none', watchNamespaces: [NS], identity, args: ['--reload-strategy=none', ...args], ...(reflectorTuning && { hooks: { reflectorTuning } }) });
  operators.push(op);
  return op;
}

beforeAll(async () => {
  cp = await startControlPlane();
  kube = new TestKube(cp.kubeConfig);
  for (const ns of [NS, NATS]) await kube.ensureNamespace(ns);
  await kube.apply(room(NS, 'r'));
});

afterAll(async () => {
  for (const op of operators) await op.crash().catch(() => {});
  await cp?.stop();
});

describe('recovery', () => {
  it('follows the cluster again after the API server restarts', async () => {
    const op = await operator(['--leader-election=false']);
    await kube.apply(member(NS, 'before', { nkey: newUserKey().publicKey, rooms: [{ room: 'r', access: 'Subscribe' }] }));
    await secretHas('# rcv-a/before');
    await cp.restartApiserver();
    await kube.apply(member(NS, 'after', { nkey: newUserKey().publicKey, rooms: [{ room: 'r', access: 'Subscribe' }] }));
    await secretHas('# rcv-a/after');
    await op.stop();
  });

  it('restarts watches that went silent (watchdog), without waiting for the periodic relist', async () => {
    const url = new URL(cp.server);
    const proxy = await TcpProxy.start(url.hostname, Number(url.port));
    try {
      const op = await operator(['--leader-election=false'], kubeConfigVia(`https://127.0.0.1:${proxy.port}`), 'op', { stallTimeoutMs: 1500, watchTimeoutSeconds: 300 });
      await op.controller.whenSynced();
      await kube.apply(member(NS, 'seen', { nkey: newUserKey().publicKey }));
      await secretHas('# rcv-a/seen');
      // Only the watches are open now (a request in flight would hang too, until its own timeout).
      await op.controller.queue.idle();
      expect(proxy.silenceOpenConnections()).toBeGreaterThan(0);
      await kube.apply(member(NS, 'while-silent', { nkey: newUserKey().publicKey }));
      const started = Date.now();
      await secretHas('# rcv-a/while-silent');
      // Through the watchdog (1.5 s), not the 5-minute relist.
      expect(Date.now() - started).toBeLessThan(20_000);
      await op.stop();
    } finally {
      await proxy.stop();
    }
  });

  it('two replicas: one leader at a time, a standby takes over when the leader dies', async () => {
    // Short, with the margin client-go keeps: a standby waits a whole lease (3 s) after the last renewal
    // it saw, a leader that cannot renew gives up after 1 s, and both look every 200 ms.
    const fast = ['--lease-duration-seconds=3', '--renew-deadline-ms=1000', '--retry-period-ms=200'];
    const a = await operator(fast, cp.kubeConfig, 'replica-a');
    const b = await operator(fast, cp.kubeConfig, 'replica-b');
    let both = 0;
    const sampler = setInterval(() => {
      if (a.isLeader() && b.isLeader()) both++;
    }, 20);
    try {
      const leader = await waitFor('a leader', () => (a.isLeader() ? a : b.isLeader() ? b : undefined), 10_000);
      const standby = leader === a ? b : a;
      await kube.apply(member(NS, 'led', { nkey: newUserKey().publicKey }));
      await secretHas('# rcv-a/led');
      expect(await metric(standby, 'nats_rooms_reconciles_total', 'result="ok"')).toBe(0);

      await leader.crash(); // no release: the standby must wait the lease out
      await waitFor('the standby to take over', () => (standby.isLeader() ? true : undefined), 10_000);
      await kube.apply(member(NS, 'after-failover', { nkey: newUserKey().publicKey }));
      await secretHas('# rcv-a/after-failover');
      expect(await metric(standby, 'nats_rooms_reconciles_total', 'result="ok"')).toBeGreaterThan(0);
    } finally {
      clearInterval(sampler);
    }
    expect(both).toBe(0);
  });
});
