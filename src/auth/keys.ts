// Public user keys that no one can sign for: the 32 key bytes are a hash, not derived from a seed,
// so finding a matching private key would mean breaking ed25519. Used for the locked user that
// keeps authentication required, and for offline placeholders of keys the operator will generate.
import { createHash } from 'node:crypto';
import codec from 'nkeys.js/lib/codec.js';
import { Prefix } from 'nkeys.js';

export function keyWithoutSeed(label: string): string {
  const bytes = createHash('sha256').update(`nats-rooms-operator: ${label}`).digest();
  return new TextDecoder().decode(codec.Codec.encode(Prefix.User, bytes));
}
