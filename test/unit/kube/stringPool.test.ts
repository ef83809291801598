import { describe, expect, it } from 'vitest';
import { StringPool } from '../../../src/kube/stringPool.js';

// Two strings of equal text from JSON.parse are distinct heap objects; the pool is observed by the
// values it holds (its size), since === compares text.
const member = (name: string) =>
  JSON.parse(JSON.stringify({
    apiVersion: 'natsrooms.io/v1alpha1',
    kind: 'Member',
    metadata: { name, namespace: 'team', uid: `uid-${name}`, resourceVersion: `rv-${name}`, labels: { app: 'chat' } },
    spec: { nkey: `U${name}`, rooms: [{ room: 'lobby', access: 'PublishSubscribe' }] },
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Enforced', message: 'every NATS server enforces the current permissions', lastTransitionTime: '2026-12-03T10:00:00Z' }] },
  }));

describe('StringPool', () => {
  it('keeps one copy of each repeated value and leaves the rest of the object as it was', () => {
    const pool = new StringPool();
    const objects = ['a', 'b', 'c'].map((n) => pool.internValues(member(n)));
    expect(objects).toEqual(['a', 'b', 'c'].map(member));
    // apiVersion, kind, namespace, app, chat... but no name, uid, resourceVersion or nkey.
    const repeated = ['natsrooms.io/v1alpha1', 'Member', 'team', 'chat', 'lobby', 'PublishSubscribe', 'Ready', 'True', 'Enforced', 'every NATS server enforces the current permissions', '2026-12-03T10:00:00Z'];
    expect(pool.size).toBe(repeated.length);
    for (const value of repeated) expect(pool.intern(value)).toBe(value);
    expect(pool.size).toBe(repeated.length);
  });

  it('leaves a Secret\'s data and long values out', () => {
    const pool = new StringPool();
    const secret = pool.internValues({ kind: 'Secret', data: { seed: 'U0VFRA==' }, metadata: { annotations: { note: 'x'.repeat(200) } } });
    expect(secret).toEqual({ kind: 'Secret', data: { seed: 'U0VFRA==' }, metadata: { annotations: { note: 'x'.repeat(200) } } });
    expect(pool.size).toBe(1);
  });

  it('starts over when full instead of growing', () => {
    const pool = new StringPool(3);
    for (const v of ['a', 'b', 'c', 'd']) pool.intern(v);
    expect(pool.size).toBe(1);
  });
});
