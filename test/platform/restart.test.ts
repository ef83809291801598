// A private platform (its own control plane, not the shared one): kube-apiserver restarts on the same
// port with the same etcd and certificates, clients carry on, the kubelet stand-in's watches recover;
// stop() leaves no process and no temp dir behind.
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, VERSION } from '../../src/api/types.js';
import { room } from '../support/objects.js';
import { sha256 } from './standInVolumes.js';
import { startPlatform, type Platform } from './platform.js';

let platform: Platform;

beforeAll(async () => {
  platform = await startPlatform({ natsReplicas: 1, kubeletDelayMs: 0, namespace: 'restart' });
  process.stderr.write(`[platform] private platform: control plane ${platform.timings.controlPlane} ms ${JSON.stringify(platform.controlPlane.timings)}, 1 NATS pod ${platform.timings.nats} ms\n`);
});

afterAll(async () => {
  await platform?.stop();
});

const alive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a private platform', () => {
  it('restarts kube-apiserver on the same port and data; the kubelet stand-in keeps up', async () => {
    const { controlPlane: cp, nats } = platform;
    const objects = cp.kubeConfig.makeApiClient(CustomObjectsApi);
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const created = (await objects.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'restart', plural: 'rooms', body: room('restart', 'kept') })) as {
      metadata: { uid: string };
    };
    const before = cp.pids().apiserver;

    await cp.restartApiserver();
    expect(cp.pids().apiserver).not.toBe(before);
    const read = (await objects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'restart', plural: 'rooms', name: 'kept' })) as {
      metadata: { uid: string };
    };
    expect(read.metadata.uid).toBe(created.metadata.uid);

    // A Secret change after the restart still reaches the pod (the watch was re-established).
    const secret = await core.readNamespacedSecret({ name: nats.secretName, namespace: 'restart' });
    const text = `# after restart\n${Buffer.from(secret.data!['auth.conf']!, 'base64').toString()}`;
    await nats.updateSecret({ 'auth.conf': text });
    await nats.standIn.waitForContent('nats-0', sha256(text), { timeoutMs: 15_000 });

    // And so does a pod annotation, after a hard kill this time.
    await cp.restartApiserver({ graceful: false });
    nats.standIn.delayMs = 60_000;
    const text2 = `# after a kill\n${text}`;
    await nats.updateSecret({ 'auth.conf': text2 });
    await core.patchNamespacedPod(
      { name: 'nats-0', namespace: 'restart', body: { metadata: { annotations: { 'test/poke': '1' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await nats.standIn.waitForContent('nats-0', sha256(text2), { timeoutMs: 15_000 });
  });

  it('stops everything and removes its temp dirs', async () => {
    const { controlPlane: cp, nats } = platform;
    const pids = cp.pids();
    const natsPid = nats.servers[0]!.pid;
    await platform.stop();
    expect([alive(pids.apiserver), alive(pids.etcd), alive(natsPid)]).toEqual([false, false, false]);
    expect([...cp.tempDirs, nats.baseDir].filter((d) => existsSync(d))).toEqual([]);
  });
});
