import { describe, expect, it } from 'vitest';
import { durationNs, streamAction, wantedStream, ROOM_METADATA_KEY } from '../../../src/jetstream/streamConfig.js';
import { streamAdminOf } from '../../../src/jetstream/adminUser.js';
import { room } from '../../support/objects.js';

describe('a persisted room as a stream', () => {
  it('takes its settings from the Room, with defaults', () => {
    expect(wantedStream(room('shop', 'orders', { jetstream: {} }), 'shop_orders', 'rooms.shop.orders')).toEqual({
      name: 'shop_orders',
      subjects: ['rooms.shop.orders'],
      storage: 'file',
      num_replicas: 1,
      retention: 'limits',
      max_age: 0,
      max_bytes: -1,
      max_msgs: -1,
      discard: 'old',
      allow_direct: true,
      metadata: { [ROOM_METADATA_KEY]: 'shop/orders' },
    });
    const set = wantedStream(
      room('shop', 'jobs', { jetstream: { storage: 'Memory', replicas: 3, retention: 'WorkQueue', maxAge: '1h30m', maxBytes: 1000, maxMessages: 10, discard: 'New' } }),
      'shop_jobs',
      'rooms.shop.jobs',
    );
    expect(set).toMatchObject({ storage: 'memory', num_replicas: 3, retention: 'workqueue', max_age: 5400e9, max_bytes: 1000, max_msgs: 10, discard: 'new' });
  });

  it('reads durations as Kubernetes writes them', () => {
    expect(durationNs('24h')).toBe(86_400e9);
    expect(durationNs('90s')).toBe(90e9);
    expect(durationNs('1h2m3s4ms')).toBe(3723e9 + 4e6);
  });

  it('creates, updates, leaves alone, or refuses what JetStream cannot change', () => {
    const wanted = wantedStream(room('shop', 'orders', { jetstream: { maxMessages: 5 } }), 'shop_orders', 'rooms.shop.orders');
    expect(streamAction(undefined, wanted)).toEqual({ kind: 'create' });
    expect(streamAction({ ...wanted }, wanted)).toEqual({ kind: 'none' });
    expect(streamAction({ ...wanted, max_msgs: 100 }, wanted)).toEqual({ kind: 'update' });
    expect(streamAction({ ...wanted, num_replicas: 3 }, wanted)).toEqual({ kind: 'update' });
    expect(streamAction({ ...wanted, storage: 'memory' }, wanted)).toMatchObject({ kind: 'refuse', reason: 'ChangeNotAllowed' });
    expect(streamAction({ ...wanted, retention: 'interest' }, wanted)).toMatchObject({ kind: 'refuse', reason: 'ChangeNotAllowed' });
    expect(streamAction({ ...wanted, metadata: {} }, wanted)).toMatchObject({ kind: 'refuse', reason: 'NameTaken', message: expect.stringContaining('not kept by the operator') });
    expect(streamAction({ ...wanted, metadata: { [ROOM_METADATA_KEY]: 'shop/other' } }, wanted)).toMatchObject({ kind: 'refuse', reason: 'NameTaken', message: expect.stringContaining('room shop/other') });
  });
});

describe("the operator's stream user", () => {
  it('has a key of its own per namespace, the same from the same seed', () => {
    const seed = 'SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY';
    const a = streamAdminOf(seed, 'a');
    expect(streamAdminOf(seed, 'a')).toEqual(a);
    expect(streamAdminOf(seed, 'b').publicKey).not.toBe(a.publicKey);
    expect(streamAdminOf(`${seed.slice(0, -1)}A`, 'a').publicKey).not.toBe(a.publicKey);
    expect(a.publicKey).toMatch(/^U[A-Z2-7]{55}$/);
  });
});
