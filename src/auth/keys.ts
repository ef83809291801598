// Public user keys that no one can sign for: the 32 key bytes are a hash, not derived from a seed,
// so finding a matching private key would mean breaking ed25519. Used for the locked user that
// keeps authentication required, and for offline placeholders of keys the operator will generate.
import { createHash } from 'node:crypto';
import { Codec } from 'nkeys.js/lib/codec.js';
import { Prefix } from 'nkeys.js';

export function keyWithoutSeed(label: string): string {
  const bytes = createHash('sha256').update(`nats-rooms-operator: ${label}`).digest();
  return new TextDecoder().decode(Codec.encode(Prefix.User, bytes));
}

/**
 * A user no one can sign in as. It is always in the config so that nats-server requires authentication
 * even when no Member is accepted (with no users at all it would let anonymous clients in).
 */
export const LOCKED_USER_KEY = keyWithoutSeed('locked user');

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const BASE32_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE32.length; i++) BASE32_VALUE[BASE32.charCodeAt(i)] = i;
const USER_PREFIX_BYTE = 20 << 3; // nkeys: 'U'
const CRC16_TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let j = 0; j < 8; j++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  CRC16_TABLE[i] = crc;
}
const decoded = new Uint8Array(35);

/**
 * Is `key` a public user nkey with a valid checksum? The same answer as nkeys.js `fromPublic` for
 * user keys (a test holds them together), without its allocations: compile() checks every key of
 * every member on every run.
 */
export function isValidPublicUserKey(key: string): boolean {
  if (key.length !== 56) return false;
  let bits = 0;
  let value = 0;
  let n = 0;
  for (let i = 0; i < 56; i++) {
    const code = key.charCodeAt(i);
    const v = code < 128 ? BASE32_VALUE[code]! : -1;
    if (v < 0) return false;
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      decoded[n++] = (value >>> bits) & 0xff;
    }
  }
  if (n !== 35 || decoded[0] !== USER_PREFIX_BYTE) return false;
  let crc = 0;
  for (let i = 0; i < 33; i++) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >>> 8) ^ decoded[i]!) & 0xff]!;
  return crc === (decoded[33]! | (decoded[34]! << 8));
}
