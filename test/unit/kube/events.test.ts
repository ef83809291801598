// Events: one per distinct (object, reason, message) per process, never for cluster-scoped objects,
// and a failure to record one is logged, never thrown into the reconcile.
import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../../../src/kube/client.js';
import { EventRecorder } from '../../../src/kube/events.js';
import { createLogger } from '../../../src/log.js';

function recorder(fail = false) {
  const posted: { path: string; body: { reason: string; message: string; involvedObject: { uid: string }; type: string } }[] = [];
  const logged: string[] = [];
  const client = {
    request: async (_m: string, path: string, o: { body: never }) => {
      if (fail) throw new Error('forbidden');
      posted.push({ path, body: o.body });
    },
  } as unknown as KubeClient;
  const log = createLogger('warn', {}, (line) => logged.push(line));
  return { events: new EventRecorder(client, log), posted, logged };
}

const object = { apiVersion: 'natsrooms.io/v1alpha1', kind: 'Member', metadata: { name: 'joe', namespace: 'demo', uid: 'u1' } };

describe('EventRecorder', () => {
  it('records each distinct reason and message of an object once', async () => {
    const { events, posted } = recorder();
    await events.record(object, 'Warning', 'QuotaExceeded', 'over budget');
    await events.record(object, 'Warning', 'QuotaExceeded', 'over budget');
    await events.record(object, 'Warning', 'QuotaExceeded', 'over a different budget');
    await events.record({ ...object, metadata: { ...object.metadata, uid: 'u2' } }, 'Warning', 'QuotaExceeded', 'over budget');
    expect(posted.map((p) => `${p.body.involvedObject.uid}:${p.body.message}`)).toEqual(['u1:over budget', 'u1:over a different budget', 'u2:over budget']);
    expect(posted[0]!.path).toBe('/api/v1/namespaces/demo/events');
  });

  it('cuts long messages, and skips objects without a namespace', async () => {
    const { events, posted } = recorder();
    await events.record(object, 'Warning', 'InvalidSpec', 'x'.repeat(5000));
    await events.record({ metadata: { name: 'cluster-thing', uid: 'c' } }, 'Normal', 'Seen', 'm');
    expect(posted).toHaveLength(1);
    expect(posted[0]!.body.message).toHaveLength(1000);
  });

  it('logs a failed write instead of throwing', async () => {
    const { events, logged } = recorder(true);
    await expect(events.record(object, 'Warning', 'X', 'y')).resolves.toBeUndefined();
    expect(logged.join('')).toMatch(/could not record an event.*forbidden/);
  });
});
