// Where the platform's binaries are: built by test/platform/install-binaries.sh into a cache outside
// the repo, with `bin/current/<name>` pointing at the pinned versions.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const cacheDir = () => process.env.NRO_CACHE_DIR || join(homedir(), '.cache', 'nats-rooms-operator');

export type BinaryName = 'nats-server' | 'kube-apiserver' | 'kubectl' | 'etcd' | 'helm' | 'nats' | 'natsperms';

export function binary(name: BinaryName): string {
  const path = join(cacheDir(), 'bin', 'current', name);
  if (!existsSync(path)) {
    throw new Error(`${name} is not installed at ${path}: run \`bash test/platform/install-binaries.sh\` (npm test does this for you)`);
  }
  return path;
}
