// Builders for Room and Member objects in tests.
import { createUser } from 'nkeys.js';
import type { Member, MemberSpec, Room, RoomSpec } from '../../src/api/types.js';

let clock = Date.parse('2026-01-01T00:00:00Z');
/** A creation time later than every one before it, so tests control which object is older. */
export const nextCreationTime = () => new Date((clock += 1000)).toISOString();

export function room(namespace: string, name: string, spec: RoomSpec = {}): Room {
  return { apiVersion: 'natsrooms.io/v1alpha1', kind: 'Room', metadata: { namespace, name, creationTimestamp: nextCreationTime() }, spec };
}

export function member(namespace: string, name: string, spec: MemberSpec = {}): Member {
  return { apiVersion: 'natsrooms.io/v1alpha1', kind: 'Member', metadata: { namespace, name, creationTimestamp: nextCreationTime() }, spec };
}

export function newUserKey(): { publicKey: string; seed: string } {
  const kp = createUser();
  return { publicKey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
}

export function shuffle<T>(items: readonly T[], seed = 1): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
