// Kubernetes Events for what users should notice in `kubectl describe`: rejections, generated keys,
// stopped rollouts. Each distinct (object, reason, message) is recorded once per operator process.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import { type KubeClient } from './client.js';
import { paths } from './paths.js';
import type { KubeObject } from './types.js';

export class EventRecorder {
  private readonly seen = new Set<string>();

  constructor(
    private readonly client: KubeClient,
    private readonly log: Logger,
    private readonly component = 'nats-rooms-operator',
  ) {}

  async record(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const { namespace, name, uid } = object.metadata;
    if (!namespace) return;
    const key = `${uid}/${reason}/${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (this.seen.size > 50_000) this.seen.clear();
    const now = new Date().toISOString();
    try {
      await this.client.request('POST', paths.events(namespace), {
        body: {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { name: `${name}.${randomBytes(8).toString('hex')}`, namespace },
          involvedObject: { apiVersion: object.apiVersion, kind: object.kind, name, namespace, uid, resourceVersion: object.metadata.resourceVersion },
          type,
          reason,
          message: message.slice(0, 1000),
          source: { component: this.component },
          reportingComponent: this.component,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (e) {
      this.log.warn('could not record an event', { reason, object: `${namespace}/${name}`, error: e });
    }
  }
}
