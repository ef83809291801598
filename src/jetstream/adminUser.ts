// The operator's stream user in each namespace's account. nats-server wants every user's nkey unique
// across accounts, so each namespace gets its own, derived from the operator's system seed: the same
// for every replica and restart, secret like the seed, and never stored anywhere.
import { createHmac } from 'node:crypto';
import { fromSeed, Prefix } from 'nkeys.js';
import { Codec } from 'nkeys.js/lib/codec.js';

export interface StreamAdmin {
  seed: string;
  publicKey: string;
}

export function streamAdminOf(systemSeed: string, namespace: string): StreamAdmin {
  const raw = createHmac('sha256', systemSeed).update(`stream admin of namespace ${namespace}`).digest();
  const seed = Codec.encodeSeed(Prefix.User, new Uint8Array(raw));
  return { seed: new TextDecoder().decode(seed), publicKey: fromSeed(seed).getPublicKey() };
}
