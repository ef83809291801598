import { describe, expect, it } from 'vitest';
import { credentialsSecret, planCredentials, publicKeyOf } from '../../../src/controller/credentials.js';
import { CREDENTIAL_KEYS } from '../../../src/api/metadata.js';
import { member, newUserKey } from '../../support/objects.js';

const URL = 'nats://nats.nats.svc:4222';
const withUid = (m: ReturnType<typeof member>, uid: string) => ({ ...m, metadata: { ...m.metadata, uid } });

describe('planCredentials', () => {
  it('creates a Secret for each Member without spec.nkey, reuses existing ones, removes orphans', () => {
    const a = withUid(member('ns', 'a'), 'uid-a');
    const b = withUid(member('ns', 'b'), 'uid-b');
    const own = withUid(member('ns', 'own', { nkey: newUserKey().publicKey }), 'uid-own');
    const secretB = { ...credentialsSecret(b, URL), metadata: { ...credentialsSecret(b, URL).metadata, uid: 's-b', resourceVersion: '1' } };
    const orphan = { ...credentialsSecret(withUid(member('ns', 'gone'), 'uid-gone'), URL), metadata: { ...credentialsSecret(withUid(member('ns', 'gone'), 'uid-gone'), URL).metadata, uid: 's-g', resourceVersion: '1' } };
    const plan = planCredentials([a, b, own], [secretB, orphan], URL);
    expect(plan.create.map((m) => m.metadata.name)).toEqual(['a']);
    expect([...plan.keys.keys()]).toEqual(['ns/b']);
    expect(plan.keys.get('ns/b')).toBe(Buffer.from(secretB.data![CREDENTIAL_KEYS.publicKey]!, 'base64').toString());
    expect(plan.update).toEqual([]);
    expect(plan.orphans.map((s) => s.metadata.name)).toEqual(['gone-nats-credentials']);
  });

  it('updates the inbox prefix and servers of an existing Secret without touching its key', () => {
    const b = withUid(member('ns', 'b', { inboxPrefix: '_INBOX_ns_custom' }), 'uid-b');
    const secret = { ...credentialsSecret(withUid(member('ns', 'b'), 'uid-b'), URL), metadata: { ...credentialsSecret(b, URL).metadata, uid: 's', resourceVersion: '1' } };
    const plan = planCredentials([b], [secret], 'nats://other:4222');
    expect(plan.update.map((u) => u.member.metadata.name)).toEqual(['b']);
    expect(plan.create).toEqual([]);
  });

  it('reads the public key from the seed, and refuses a Secret whose seed is not a user seed', () => {
    const m = withUid(member('ns', 'a'), 'uid');
    const s = { ...credentialsSecret(m, URL), metadata: { ...credentialsSecret(m, URL).metadata, uid: 'x', resourceVersion: '2' } };
    expect(publicKeyOf(s)).toBe(Buffer.from(s.data![CREDENTIAL_KEYS.publicKey]!, 'base64').toString());
    const broken = { ...s, metadata: { ...s.metadata, resourceVersion: '3' }, data: { ...s.data, [CREDENTIAL_KEYS.seed]: Buffer.from('SUnotaseed').toString('base64') } };
    expect(publicKeyOf(broken)).toBeUndefined();
    expect(credentialsSecret(m, URL).metadata.ownerReferences).toEqual([{ apiVersion: 'natsrooms.io/v1alpha1', kind: 'Member', name: 'a', uid: 'uid', controller: true, blockOwnerDeletion: false }]);
  });
});
