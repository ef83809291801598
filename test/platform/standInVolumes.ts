// The stand-in's Secret volumes, laid out as kubelet lays them out: which Secrets a pod's mounts
// take (secret and projected volumes, items and optional honoured), their files, and kubelet's
// AtomicWriter (kubernetes pkg/volume/util/atomic_writer.go): one rename switches every key at once.
import { createHash, randomInt } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, lstatSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { V1Pod, V1Secret } from '@kubernetes/client-node';

export interface SecretSource {
  name: string;
  optional: boolean;
  items?: { key: string; path: string }[];
}

export interface Mount {
  /** Directory on this machine that stands for the mountPath. */
  hostDir: string;
  sources: SecretSource[];
}

export function mountsOf(pod: V1Pod, rootDir: string): Mount[] {
  const volumes = new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
  const mounts = new Map<string, Mount>();
  for (const container of pod.spec?.containers ?? []) {
    for (const vm of container.volumeMounts ?? []) {
      if (vm.subPath || vm.subPathExpr) continue;
      const volume = volumes.get(vm.name);
      const sources: SecretSource[] = [];
      if (volume?.secret?.secretName) {
        sources.push({ name: volume.secret.secretName, optional: volume.secret.optional ?? false, ...(volume.secret.items && { items: volume.secret.items }) });
      }
      for (const s of volume?.projected?.sources ?? []) {
        if (s.secret?.name) sources.push({ name: s.secret.name, optional: s.secret.optional ?? false, ...(s.secret.items && { items: s.secret.items }) });
      }
      if (sources.length === 0) continue;
      const hostDir = join(rootDir, basename(vm.mountPath));
      mounts.set(hostDir, { hostDir, sources });
    }
  }
  return [...mounts.values()];
}

const DATA = '..data';
const DATA_TMP = '..data_tmp';

/**
 * kubelet's AtomicWriter: the payload's files in a new timestamped dir, `..data` switched to it by a
 * rename, a symlink per top-level path, stale paths and the old dir removed. Returns whether it wrote.
 */
export function atomicWrite(targetDir: string, payload: Map<string, Buffer>): boolean {
  mkdirSync(targetDir, { recursive: true });
  let oldTsDir: string | undefined;
  try {
    oldTsDir = readlinkSync(join(targetDir, DATA));
  } catch {
    oldTsDir = undefined;
  }
  let oldPaths = new Set<string>();
  try {
    if (oldTsDir) oldPaths = filesUnder(join(targetDir, oldTsDir));
  } catch {
    oldTsDir = undefined; // ..data points nowhere: write afresh
  }
  if (oldTsDir && oldPaths.size === payload.size && [...payload].every(([p, c]) => oldPaths.has(p) && readFileSync(join(targetDir, oldTsDir!, p)).equals(c))) {
    return false;
  }

  const tsDir = `..${timestamp()}`;
  const tsPath = join(targetDir, tsDir);
  mkdirSync(tsPath, { mode: 0o755 });
  for (const [path, content] of payload) {
    mkdirSync(dirname(join(tsPath, path)), { recursive: true });
    writeFileSync(join(tsPath, path), content, { mode: 0o644 });
  }
  rmSync(join(targetDir, DATA_TMP), { force: true });
  symlinkSync(tsDir, join(targetDir, DATA_TMP));
  renameSync(join(targetDir, DATA_TMP), join(targetDir, DATA));

  const newTop = new Set([...payload.keys()].map(topLevel));
  for (const top of newTop) {
    if (!isSymlink(join(targetDir, top))) symlinkSync(join(DATA, top), join(targetDir, top));
  }
  for (const top of new Set([...oldPaths].map(topLevel))) {
    if (!newTop.has(top)) rmSync(join(targetDir, top), { force: true });
  }
  if (oldTsDir && oldTsDir !== tsDir) rmSync(join(targetDir, oldTsDir), { recursive: true, force: true });
  return true;
}

/** `..2026_11_22_10_00_00.123456789`: UTC time to the second, then random digits (os.MkdirTemp in kubelet). */
function timestamp(): string {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const time = `${d.getUTCFullYear()}_${p(d.getUTCMonth() + 1)}_${p(d.getUTCDate())}_${p(d.getUTCHours())}_${p(d.getUTCMinutes())}_${p(d.getUTCSeconds())}`;
  return `${time}.${String(randomInt(1_000_000_000)).padStart(9, '0')}`;
}

function filesUnder(dir: string, prefix = ''): Set<string> {
  const out = new Set<string>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) for (const f of filesUnder(join(dir, entry.name), rel)) out.add(f);
    else out.add(rel);
  }
  return out;
}

const topLevel = (path: string) => path.split('/')[0]!;

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

export const sha256 = (content: Buffer | string) => createHash('sha256').update(content).digest('hex');

/** The files of a mount from its Secrets (in source order); undefined when a required one is missing. */
export function payloadOfSecrets(mount: Mount, secrets: (V1Secret | undefined)[]): Map<string, Buffer> | undefined {
  const payload = new Map<string, Buffer>();
  for (const [i, source] of mount.sources.entries()) {
    const secret = secrets[i];
    if (!secret) {
      if (source.optional) continue;
      return undefined;
    }
    const data = secret.data ?? {};
    const items = source.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const { key, path } of items) {
      const value = data[key];
      if (value === undefined) {
        if (source.optional) continue;
        return undefined;
      }
      payload.set(path, Buffer.from(value, 'base64'));
    }
  }
  return payload;
}

