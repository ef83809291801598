import { describe, expect, it } from 'vitest';
import { planStreamFinalizers, retiringStreams } from '../../../src/controller/streamFinalizers.js';
import { STREAM_FINALIZER } from '../../../src/api/metadata.js';
import type { Room } from '../../../src/api/types.js';
import { room } from '../../support/objects.js';

const held = (r: Room): Room => ({ ...r, metadata: { ...r.metadata, finalizers: ['other.example/keep', STREAM_FINALIZER] } });
const deleting = (r: Room): Room => ({ ...r, metadata: { ...r.metadata, deletionTimestamp: '2026-12-02T10:00:00Z' } });
const names = (rooms: Room[]) => rooms.map((r) => r.metadata.name);

describe('the stream finalizer', () => {
  it('is held by live Rooms exactly while they say deletionPolicy Delete', () => {
    const plan = planStreamFinalizers([
      room('a', 'wants', { jetstream: { deletionPolicy: 'Delete' } }),
      held(room('a', 'has', { jetstream: { deletionPolicy: 'Delete' } })),
      held(room('a', 'changed', { jetstream: { deletionPolicy: 'Retain' } })),
      held(room('a', 'no-longer-persisted')),
      room('a', 'retains', { jetstream: {} }),
    ]);
    expect(names(plan.add)).toEqual(['wants']);
    expect(names(plan.remove)).toEqual(['changed', 'no-longer-persisted']);
    expect(plan.retire).toEqual([]);
  });

  it('retires Rooms being deleted that hold it, with their stream when they name a valid one of their namespace', () => {
    const plan = planStreamFinalizers([
      deleting(held(room('a', 'log', { jetstream: { deletionPolicy: 'Delete' } }))),
      deleting(held(room('a', 'named', { jetstream: { stream: 'a_other', deletionPolicy: 'Delete' } }))),
      deleting(held(room('a', 'foreign', { jetstream: { stream: 'b_stolen', deletionPolicy: 'Delete' } }))),
      deleting(held(room('a', 'unpersisted'))),
      deleting(room('a', 'free', { jetstream: { deletionPolicy: 'Delete' } })),
    ]);
    expect(plan.retire.map((r) => [r.room.metadata.name, r.stream])).toEqual([
      ['log', 'a_log'],
      ['named', 'a_other'],
      ['foreign', undefined],
      ['unpersisted', undefined],
    ]);
    expect(plan.add).toEqual([]);
    expect(retiringStreams(plan)).toEqual(new Map([['a', ['a_log', 'a_other']]]));
  });
});
