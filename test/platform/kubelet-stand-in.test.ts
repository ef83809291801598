// (d) The kubelet stand-in: Secret changes reach every pod's mounted dir with kubelet's atomic `..data`
// swap, after the configured delay; an annotation on a pod makes that pod (only) sync at once.
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { authDirOf } from '../support/natsServer.js';
import { attachControlPlane } from './controlPlane.js';
import { atomicWrite, sha256 } from './standInVolumes.js';
import { startNatsCluster, type NatsCluster } from './natsPods.js';
import { CONFIG_HASH_ANNOTATION } from '../../src/api/metadata.js';

const cp = attachControlPlane(inject('controlPlane'));
const namespace = 'platform-kubelet';
const core = cp.kubeConfig.makeApiClient(CoreV1Api);
let cluster: NatsCluster;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const authDir = (i: number) => authDirOf(cluster.configs[i]!.dir);
const timestampedDirs = (dir: string) => readdirSync(dir).filter((e) => /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+$/.test(e));
let version = 0;
/** A distinct, valid auth config each call (a comment changes, so the servers could reload it). */
const nextConfig = () => `# test config ${++version}\n${readFileSync(join(authDir(0), 'auth.conf'), 'utf8').replace(/^# test config \d+\n/, '')}`;

beforeAll(async () => {
  cluster = await startNatsCluster(cp, { namespace, replicas: 3, kubeletDelayMs: 1500 });
});

afterAll(async () => {
  await cluster?.stop();
});

describe('the kubelet stand-in', () => {
  it('mounts the Secret before the servers start, kubelet style', () => {
    for (let i = 0; i < 3; i++) {
      const dir = authDir(i);
      expect(lstatSync(join(dir, '..data')).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(dir, 'auth.conf'))).toBe('..data/auth.conf');
      expect(timestampedDirs(dir)).toHaveLength(1);
      expect(cluster.standIn.stats(cluster.podNames[i]!)).toMatchObject({ mounted: true, deliveries: 0 });
    }
  });

  it('delivers a Secret change to every pod after the delay, swapping ..data atomically', async () => {
    const before = [0, 1, 2].map((i) => ({ data: readlinkSync(join(authDir(i), '..data')), deliveries: cluster.standIn.deliveries(cluster.podNames[i]!) }));
    const text = nextConfig();
    const t0 = Date.now();
    await cluster.updateSecret({ 'auth.conf': text, 'extra.txt': 'a second key\n' });
    await sleep(500);
    for (let i = 0; i < 3; i++) {
      expect(sha256(readFileSync(join(authDir(i), 'auth.conf'))), `pod ${i} at 500 ms`).not.toBe(sha256(text));
      expect(existsSync(join(authDir(i), 'extra.txt'))).toBe(false);
    }
    await Promise.all(cluster.podNames.map((pod) => cluster.standIn.waitForContent(pod, sha256(text), { timeoutMs: 10_000 })));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    for (let i = 0; i < 3; i++) {
      const dir = authDir(i);
      // Every key of the Secret, each a symlink into ..data, which points at the one new timestamped dir.
      expect(readFileSync(join(dir, 'auth.conf'), 'utf8')).toBe(text);
      expect(readFileSync(join(dir, 'extra.txt'), 'utf8')).toBe('a second key\n');
      expect(readlinkSync(join(dir, 'auth.conf'))).toBe('..data/auth.conf');
      expect(readlinkSync(join(dir, 'extra.txt'))).toBe('..data/extra.txt');
      const data = readlinkSync(join(dir, '..data'));
      expect(data).not.toBe(before[i]!.data);
      expect(timestampedDirs(dir)).toEqual([data]);
      expect(existsSync(join(dir, before[i]!.data))).toBe(false);
      expect(existsSync(join(dir, '..data_tmp'))).toBe(false);
      expect(cluster.standIn.deliveries(cluster.podNames[i]!)).toBe(before[i]!.deliveries + 1);
    }
    // The servers can load what was delivered.
    await cluster.reloadAll();
  });

  it('syncs a pod at once when its annotations change, and only that pod', async () => {
    cluster.standIn.delayMs = 30_000; // the others must not catch up during this test
    const deliveries = cluster.podNames.map((p) => cluster.standIn.deliveries(p));
    const text = nextConfig();
    await cluster.updateSecret({ 'auth.conf': text });
    await core.patchNamespacedPod(
      { name: 'nats-1', namespace, body: { metadata: { annotations: { [CONFIG_HASH_ANNOTATION]: sha256(text) } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await cluster.standIn.waitForContent('nats-1', sha256(text), { timeoutMs: 10_000 });
    expect(readFileSync(join(authDir(1), 'auth.conf'), 'utf8')).toBe(text);
    for (const i of [0, 2]) {
      expect(cluster.standIn.contentHash(cluster.podNames[i]!)).not.toBe(sha256(text));
      expect(cluster.standIn.deliveries(cluster.podNames[i]!)).toBe(deliveries[i]);
    }
    expect(cluster.standIn.deliveries('nats-1')).toBe(deliveries[1]! + 1);
  });

  it('removes keys that left the Secret and writes nothing when nothing changed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nro-atomic-'));
    try {
      expect(atomicWrite(dir, new Map([['a', Buffer.from('1')], ['b', Buffer.from('2')]]))).toBe(true);
      const first = readlinkSync(join(dir, '..data'));
      expect(atomicWrite(dir, new Map([['a', Buffer.from('1')], ['b', Buffer.from('2')]]))).toBe(false);
      expect(readlinkSync(join(dir, '..data'))).toBe(first);
      expect(atomicWrite(dir, new Map([['a', Buffer.from('3')]]))).toBe(true);
      expect(existsSync(join(dir, 'b'))).toBe(false);
      expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('3');
      expect(readdirSync(dir).sort()).toEqual(['..data', readlinkSync(join(dir, '..data')), 'a'].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
