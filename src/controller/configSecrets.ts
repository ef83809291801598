// The Secrets the NATS pods mount: the main auth file with its generation annotation and the shard
// Secrets <auth-secret>-1..N. Writes only what changed (shard contents are remembered from the last
// write and read again at each periodic resync, which also restores edits), removes shards a smaller
// config no longer has, knows its own writes when they come back through the watch, and reads the
// last generation back after a start.
import { CONFIG_HASH_ANNOTATION, FIELD_MANAGER, MANAGED_BY } from '../api/metadata.js';
import type { AuthModel } from '../auth/model.js';
import { parseRendered } from '../auth/parse.js';
import { shardFileName, shardSecretFiles, type Rendered } from '../auth/render.js';
import { systemClock, type Clock } from '../clock.js';
import type { OperatorConfig } from '../config.js';
import { CONTENT_TYPE, ignoreNotFound, type KubeClient } from '../kube/client.js';
import { paths } from '../kube/paths.js';
import type { KubeObject, Secret } from '../kube/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { forEachLimited } from './credentials.js';

export interface ConfigSecretsDeps {
  client: KubeClient;
  config: OperatorConfig;
  log: Logger;
  metrics: Metrics;
  /** The main Secret as the operator's cache holds it. */
  authSecret: () => Secret | undefined;
  clock?: Clock;
}

export class ConfigSecrets {
  /** How many shard Secrets the last write left (unknown after a start). */
  private shardCount?: number;
  /** The main Secret as last written. */
  private lastWritten?: { hash: string; data: string };
  /** Per shard index, the users file its Secret holds, as last written or read. */
  private readonly shardContents = new Map<number, string>();
  private shardsReadAt = 0;
  private readonly clock: Clock;

  constructor(private readonly deps: ConfigSecretsDeps) {
    this.clock = deps.clock ?? systemClock;
  }

  /**
   * The shards, then the main file. A mix of two generations does not parse (see render.ts), and
   * kubelet syncs a pod when the main Secret changes or the pod is poked (after this write): written
   * last, the main Secret's change reaches kubelet after the shards', so those syncs find the shards
   * in place. Written at once, the main one often came first, and the server's reload was refused.
   */
  async write(rendered: Rendered): Promise<void> {
    await this.applyShards(rendered);
    await this.applySecret(rendered);
    await this.deleteStaleShards(rendered.shards.length);
  }

  /** The last generation written, read back from its Secrets (after a start, the operator knows it only from there). */
  async readLastModel(): Promise<AuthModel | undefined> {
    const { client, config, log } = this.deps;
    const main = this.deps.authSecret()?.data?.[config.authSecretKey];
    if (!main) return undefined;
    const text = Buffer.from(main, 'base64').toString('utf8');
    const count = (text.match(/^include "users-\d+\.conf"$/gm) ?? []).length;
    const shards = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const secret = await client.getOptional<Secret>(`${paths.secrets(config.natsNamespace)}/${config.authSecretName}-${i + 1}`);
        return Buffer.from(secret?.data?.[shardFileName(i + 1)] ?? '', 'base64').toString('utf8');
      }),
    );
    const model = parseRendered(text, shards);
    log.info('read the last generation back from its Secrets', { understood: model !== undefined, members: model?.users.length });
    return model;
  }

  /** Whether the auth Secret is exactly as the operator last wrote it (its own write coming back). */
  isOwnWrite(secret: KubeObject): boolean {
    const s = secret as Secret;
    return !!this.lastWritten && s.metadata.annotations?.[CONFIG_HASH_ANNOTATION] === this.lastWritten.hash && s.data?.[this.deps.config.authSecretKey] === this.lastWritten.data;
  }

  /**
   * Shard i (1-based) of the config lives in the Secret <auth-secret>-i under the keys users-i.conf
   * and guard-i.conf (see render.ts). Only shards whose content changed are written; what each holds
   * is remembered from the last write and forgotten at each periodic resync, which reads them back
   * (restoring any edit).
   */
  private async applyShards(rendered: Rendered): Promise<void> {
    const { config, client } = this.deps;
    if (this.clock.now() - this.shardsReadAt > config.resyncIntervalMs) {
      this.shardContents.clear();
      this.shardsReadAt = this.clock.now();
    }
    await forEachLimited(
      rendered.shards.map((_, i) => i + 1),
      4,
      async (index) => {
        const name = `${config.authSecretName}-${index}`;
        const files = shardSecretFiles(rendered, index);
        // The guard is the hash of the users file, so that file alone tells whether the Secret changed.
        const users = files[shardFileName(index)]!;
        if (this.shardContents.get(index) === users) return;
        const data = Object.fromEntries(Object.entries(files).map(([key, text]) => [key, Buffer.from(text, 'utf8').toString('base64')]));
        // What the Secret holds is read only when unknown (after a start or a resync): a shard that
        // changed since the operator's last write of it is written straight away.
        const current = !this.shardContents.has(index) ? await client.getOptional<Secret>(`${paths.secrets(config.natsNamespace)}/${name}`) : undefined;
        const inPlace = !!current?.data && sameData(current.data, data);
        if (!inPlace) await this.applyConfigSecret(name, data, {});
        this.shardContents.set(index, users);
      },
    );
  }

  /** Server-side apply of one config Secret, owned by the operator's field manager. */
  private async applyConfigSecret(name: string, data: Record<string, string>, annotations: Record<string, string>): Promise<void> {
    const { config, client } = this.deps;
    await client.request('PATCH', `${paths.secrets(config.natsNamespace)}/${name}`, {
      query: { fieldManager: FIELD_MANAGER, force: true },
      contentType: CONTENT_TYPE.apply,
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        metadata: { name, namespace: config.natsNamespace, labels: { ...MANAGED_BY }, annotations },
        data,
      },
    });
  }

  /** Deletes shard Secrets beyond the current count (all of them, once, after a start). */
  private async deleteStaleShards(count: number): Promise<void> {
    const { config, client } = this.deps;
    const from = count + 1;
    const to = this.shardCount === undefined ? config.authShards : this.shardCount;
    for (let i = from; i <= to; i++) {
      await ignoreNotFound(client.request('DELETE', `${paths.secrets(config.natsNamespace)}/${config.authSecretName}-${i}`));
      this.shardContents.delete(i);
    }
    this.shardCount = count;
  }

  /** Server-side applies the Secret when its content or hash differs (it also restores tampering). */
  private async applySecret(rendered: Rendered): Promise<void> {
    const { config, metrics, log } = this.deps;
    const current = this.deps.authSecret();
    const data = Buffer.from(rendered.text, 'utf8').toString('base64');
    if (current?.data?.[config.authSecretKey] === data && current.metadata.annotations?.[CONFIG_HASH_ANNOTATION] === rendered.hash) return;
    await this.applyConfigSecret(config.authSecretName, { [config.authSecretKey]: data }, { [CONFIG_HASH_ANNOTATION]: rendered.hash });
    this.lastWritten = { hash: rendered.hash, data };
    metrics.configGenerations.inc();
    log.info('auth config written', { configHash: rendered.hash.slice(0, 12), restored: current !== undefined && current.metadata.annotations?.[CONFIG_HASH_ANNOTATION] === rendered.hash });
  }
}

/** Whether a Secret's data is exactly these keys and values. */
function sameData(current: Record<string, string>, wanted: Record<string, string>): boolean {
  const keys = Object.keys(wanted);
  return Object.keys(current).length === keys.length && keys.every((k) => current[k] === wanted[k]);
}
