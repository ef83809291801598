// (c) The NATS cluster of the platform: three real nats-server processes routed on loopback, one Pod
// each in the API server shaped like the Helm chart's, the auth config flowing Secret -> kubelet
// stand-in -> mounted dir -> reload, and a Member's nkey carrying a message from nats-0 to nats-2.
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { compile } from '../../src/auth/compile.js';
import { render } from '../../src/auth/render.js';
import { Client } from '../support/natsClient.js';
import { authDirOf } from '../support/natsServer.js';
import { member, newUserKey, room } from '../support/objects.js';
import { waitFor } from '../support/processes.js';
import { attachControlPlane } from './controlPlane.js';
import { sha256 } from './standInVolumes.js';
import { startNatsCluster, type NatsCluster } from './natsPods.js';

const cp = attachControlPlane(inject('controlPlane'));
const namespace = 'platform-nats';
const core = cp.kubeConfig.makeApiClient(CoreV1Api);
let cluster: NatsCluster;
const clients: Client[] = [];

beforeAll(async () => {
  const t0 = Date.now();
  cluster = await startNatsCluster(cp, { namespace, replicas: 3, kubeletDelayMs: 0 });
  process.stderr.write(`[platform] 3-server NATS cluster with pods ready in ${Date.now() - t0} ms\n`);
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await cluster?.stop();
});

const readyOf = (pod: V1Pod) => pod.status?.conditions?.find((c) => c.type === 'Ready')?.status;

describe('the NATS pods', () => {
  it('look like the Helm chart pods, with the real ports, the Secret mounted and Ready status', async () => {
    const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app.kubernetes.io/name=nats,app.kubernetes.io/instance=nats,app.kubernetes.io/component=nats' });
    expect(pods.items.map((p) => p.metadata!.name).sort()).toEqual(['nats-0', 'nats-1', 'nats-2']);
    for (const pod of pods.items) {
      const i = Number(pod.metadata!.name!.split('-')[1]);
      const config = cluster.configs[i]!;
      const container = pod.spec!.containers.find((c) => c.name === 'nats')!;
      expect(Object.fromEntries(container.ports!.map((p) => [p.name, p.containerPort]))).toEqual({
        nats: config.clientPort,
        cluster: config.clusterPort,
        monitor: config.monitorPort,
      });
      expect(container.volumeMounts).toContainEqual(expect.objectContaining({ name: 'auth', mountPath: '/etc/nats-auth' }));
      expect(container.volumeMounts!.find((v) => v.name === 'auth')!.subPath).toBeUndefined();
      const auth = pod.spec!.volumes!.find((v) => v.name === 'auth')!;
      expect(auth.projected!.sources![0]).toEqual({ secret: { name: cluster.secretName } });
      expect(auth.projected!.sources!.slice(1).every((s) => s.secret?.optional === true && s.secret.name?.startsWith(`${cluster.secretName}-`))).toBe(true);
      expect(pod.status!.phase).toBe('Running');
      expect(pod.status!.podIP).toBe('127.0.0.1');
      expect(readyOf(pod)).toBe('True');
      expect(pod.status!.containerStatuses![0]!).toMatchObject({ name: 'nats', ready: true, started: true, restartCount: 0 });
    }
  });

  it('start with the bootstrap config, which lets nobody in', async () => {
    const { seed } = newUserKey();
    await expect(Client.connect(cluster.urls[0]!, seed, `_INBOX_${namespace}_nobody`, { reconnect: false })).rejects.toThrow(/Authorization/i);
  });

  it('route a message published on nats-0 to a subscriber on nats-2, signed in with a Member nkey', async () => {
    const key = newUserKey();
    const chat = room(namespace, 'chat');
    const alice = member(namespace, 'alice', { nkey: key.publicKey, rooms: [{ room: 'chat', access: 'PublishSubscribe' }] });
    const compiled = compile([chat], [alice]);
    expect(compiled.members.get(`${namespace}/alice`)).toMatchObject({ accepted: true });
    const { text } = render(compiled.model);

    await cluster.updateSecret({ 'auth.conf': text });
    await Promise.all(cluster.podNames.map((pod) => cluster.standIn.waitForContent(pod, sha256(text), { timeoutMs: 10_000 })));
    for (const server of cluster.servers) {
      const file = join(authDirOf(server.config.dir), 'auth.conf');
      expect(lstatSync(file).isSymbolicLink()).toBe(true);
      expect(readlinkSync(file)).toBe('..data/auth.conf');
    }
    await cluster.reloadAll();

    const inbox = `_INBOX_${namespace}_alice`;
    const subscriber = await Client.connect(cluster.urls[2]!, key.seed, inbox);
    const publisher = await Client.connect(cluster.urls[0]!, key.seed, inbox);
    clients.push(subscriber, publisher);
    const subject = `rooms.${namespace}.chat`;
    const sub = subscriber.subscribe(subject);
    await subscriber.nc.flush();
    // Interest crosses the route asynchronously: publish until the first message arrives.
    await waitFor('a message from nats-0 on nats-2', () => {
      if (sub.msgs.length > 0) return true;
      publisher.nc.publish(subject, new TextEncoder().encode('hello from nats-0'));
      return undefined;
    }, 10_000, 50);
    expect(new TextDecoder().decode(sub.msgs[0]!.data)).toBe('hello from nats-0');
    expect(subscriber.events.permissionErrors).toEqual([]);
    expect(publisher.events.permissionErrors).toEqual([]);
    expect(publisher.nc.info?.server_name).toBe('nats-0');
    expect(subscriber.nc.info?.server_name).toBe('nats-2');
  });

  it('mark a stopped server NotReady and a restarted one Ready again', async () => {
    const read = () => core.readNamespacedPod({ name: 'nats-1', namespace });
    await cluster.stopServer(1);
    const stopped = await read();
    expect(readyOf(stopped)).toBe('False');
    expect(stopped.status!.containerStatuses![0]).toMatchObject({ ready: false, started: false });
    expect(stopped.status!.containerStatuses![0]!.state!.terminated).toBeDefined();
    expect(cluster.servers[1]!.running).toBe(false);

    await cluster.startServer(1);
    const started = await read();
    expect(readyOf(started)).toBe('True');
    expect(started.status!.containerStatuses![0]).toMatchObject({ ready: true, started: true, restartCount: 1 });
    expect(cluster.servers[1]!.running).toBe(true);
    const res = await fetch(`${cluster.servers[1]!.monitorUrl}/healthz`);
    expect(res.ok).toBe(true);
  });
});
