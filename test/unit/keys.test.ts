import fc from 'fast-check';
import { createUser, createAccount, fromPublic } from 'nkeys.js';
import { describe, expect, it } from 'vitest';
import { isValidPublicUserKey, keyWithoutSeed } from '../../src/auth/keys.js';

const nkeysSays = (key: string) => {
  try {
    fromPublic(key);
    return key.startsWith('U');
  } catch {
    return false;
  }
};

describe('isValidPublicUserKey', () => {
  const real = Array.from({ length: 20 }, () => createUser().getPublicKey());

  it('agrees with nkeys.js on real keys, one-character mutations and other key types', () => {
    const candidates = [...real, createAccount().getPublicKey(), keyWithoutSeed('x'), '', 'U', 'U' + 'A'.repeat(55), real[0]!.toLowerCase()];
    for (const key of real) {
      for (let i = 0; i < key.length; i += 5) candidates.push(key.slice(0, i) + (key[i] === 'A' ? 'B' : 'A') + key.slice(i + 1));
    }
    for (const key of candidates) expect(isValidPublicUserKey(key), key).toBe(nkeysSays(key));
    expect(real.every(isValidPublicUserKey)).toBe(true);
  });

  it('agrees with nkeys.js on arbitrary strings of the right shape', () => {
    fc.assert(fc.property(fc.stringMatching(/^U[A-Z2-7]{55}$/), (key) => isValidPublicUserKey(key) === nkeysSays(key)), { numRuns: 2000 });
  });
});
