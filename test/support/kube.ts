// Test-side Kubernetes helpers on the project's own REST client: apply objects as a user would
// (server-side apply), delete them, and wait for what the operator reports.
import type { KubeConfig } from '@kubernetes/client-node';
import { CONTENT_TYPE, KubeClient, KubeError } from '../../src/kube/client.js';
import { paths } from '../../src/kube/paths.js';
import type { KubeObject } from '../../src/kube/types.js';
import type { Condition, Member, Room } from '../../src/api/types.js';
import type { Secret } from '../../src/kube/types.js';
import { waitFor } from './processes.js';

export class TestKube {
  readonly client: KubeClient;

  constructor(kubeConfig: KubeConfig) {
    this.client = new KubeClient(kubeConfig);
  }

  async ensureNamespace(name: string): Promise<void> {
    try {
      await this.client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
    } catch (e) {
      if (!(e instanceof KubeError && e.status === 409)) throw e;
    }
  }

  /** Server-side apply as the user `kubectl`; rejects with the API server's message on admission errors. */
  async apply<T extends Room | Member>(obj: T): Promise<T> {
    const kind = obj.kind === 'Room' ? 'rooms' : 'members';
    const { namespace, name } = obj.metadata;
    const path = `${kind === 'rooms' ? paths.rooms(namespace) : paths.members(namespace)}/${name}`;
    const body = { apiVersion: 'natsrooms.io/v1alpha1', kind: obj.kind, metadata: { name, namespace, ...(obj.metadata.labels && { labels: obj.metadata.labels }) }, spec: obj.spec ?? {} };
    return this.client.request<T>('PATCH', path, { query: { fieldManager: 'kubectl', force: true, fieldValidation: 'Strict' }, contentType: CONTENT_TYPE.apply, body });
  }

  async delete(kind: 'rooms' | 'members', namespace: string, name: string): Promise<void> {
    const base = kind === 'rooms' ? paths.rooms(namespace) : paths.members(namespace);
    await this.client.request('DELETE', `${base}/${name}`).catch((e) => {
      if (!(e instanceof KubeError && e.status === 404)) throw e;
    });
  }

  room(namespace: string, name: string): Promise<Room | undefined> {
    return this.client.getOptional<Room>(`${paths.rooms(namespace)}/${name}`);
  }

  member(namespace: string, name: string): Promise<Member | undefined> {
    return this.client.getOptional<Member>(`${paths.members(namespace)}/${name}`);
  }

  async list<T>(kind: 'rooms' | 'members', namespaces: string[]): Promise<T[]> {
    const lists = await Promise.all(namespaces.map((ns) => this.client.get<{ items: T[] }>(kind === 'rooms' ? paths.rooms(ns) : paths.members(ns))));
    return lists.flatMap((l) => l.items);
  }

  secret(namespace: string, name: string): Promise<Secret | undefined> {
    return this.client.getOptional<Secret>(`${paths.secrets(namespace)}/${name}`);
  }

  async secretText(namespace: string, name: string, key = 'auth.conf'): Promise<string | undefined> {
    const s = await this.secret(namespace, name);
    const data = s?.data?.[key];
    return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
  }

  /** Waits until the Member's condition has this status for its current generation. */
  async waitCondition(kind: 'rooms' | 'members', namespace: string, name: string, type: string, status: Condition['status'], timeoutMs = 30_000): Promise<KubeObject> {
    return waitFor(
      `${kind} ${namespace}/${name} ${type}=${status}`,
      async () => {
        const obj = (kind === 'rooms' ? await this.room(namespace, name) : await this.member(namespace, name)) as (Room | Member) | undefined;
        const c = obj?.status?.conditions?.find((x) => x.type === type);
        return obj && c?.status === status && c.observedGeneration === obj.metadata.generation ? (obj as unknown as KubeObject) : undefined;
      },
      timeoutMs,
      25,
    );
  }
}
