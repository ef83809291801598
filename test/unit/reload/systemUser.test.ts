// The operator's system user: made once, then reused by every replica and restart; two replicas
// starting together end up with the same key (the loser of the create race reads the winner's).
import { createUser } from 'nkeys.js';
import { describe, expect, it } from 'vitest';
import { KubeError, type KubeClient } from '../../../src/kube/client.js';
import type { Secret } from '../../../src/kube/types.js';
import { ensureSystemUser } from '../../../src/reload/systemUser.js';

/** One Secret store; `raceWith` is a seed another replica creates between our GET and our POST. */
function store(raceWith?: string) {
  let secret: Secret | undefined;
  let posts = 0;
  const client = {
    getOptional: async () => secret,
    request: async (method: string, _path: string, o: { body: Secret }) => {
      expect(method).toBe('POST');
      posts++;
      if (raceWith && !secret) {
        secret = { metadata: { name: 'sys', namespace: 'ops' }, data: { 'nkey.seed': Buffer.from(raceWith).toString('base64') } };
      }
      if (secret) throw new KubeError(409, 'AlreadyExists', 'secrets "sys" already exists');
      secret = o.body;
    },
  } as unknown as KubeClient;
  return { client, posts: () => posts, secret: () => secret };
}

describe('ensureSystemUser', () => {
  it('creates the Secret once and reads the same key back afterwards', async () => {
    const s = store();
    const first = await ensureSystemUser(s.client, 'ops', 'sys');
    const again = await ensureSystemUser(s.client, 'ops', 'sys');
    expect(again).toEqual(first);
    expect(first.publicKey).toMatch(/^U[A-Z2-7]{55}$/);
    expect(s.posts()).toBe(1);
  });

  it('takes the other replica\'s key when it created the Secret first (409)', async () => {
    const theirs = createUser();
    const seed = new TextDecoder().decode(theirs.getSeed());
    const s = store(seed);
    const user = await ensureSystemUser(s.client, 'ops', 'sys');
    expect(user).toEqual({ seed, publicKey: theirs.getPublicKey() });
  });

  it('refuses a Secret without a seed rather than replacing it', async () => {
    const client = { getOptional: async () => ({ metadata: { name: 'sys' }, data: {} }) } as unknown as KubeClient;
    await expect(ensureSystemUser(client, 'ops', 'sys')).rejects.toThrow(/exists but has no nkey\.seed; delete it/);
  });
});
