// render(): the compiled model as NATS config text, deterministic (same model, same bytes) with its
// sha256. Only nkey users, every value quoted, every string re-checked against the grammar here, so
// no field can inject config even if a check upstream were missing. Default deny: an empty allow
// list would mean "everything" to nats-server, so it is written as an explicit deny of `>`.
import { createHash } from 'node:crypto';
import { keyWithoutSeed } from './keys.js';
import type { AuthModel, SubjectPermission, UserEntry } from './compile.js';

export interface Rendered {
  /** The main file, auth.conf. */
  text: string;
  /** Files the main one includes (`users-1.conf`, ...) when the config is too large for one; else empty. */
  shards: string[];
  /** The generation: sha256 (hex) of every file, without the generation marker. */
  hash: string;
}

/** A Secret holds at most 1 MiB: no file is larger than this (with room for the Secret's metadata). */
export const MAX_FILE_BYTES = 1_000_000;

export const shardFileName = (index: number) => `users-${index}.conf`;

export interface RenderOptions {
  /**
   * The operator's own public key. It becomes the only user of the system account `$SYS`, through
   * which the operator asks each server to reload and reads back which generation it enforces: the
   * marker, a no-op subject mapping named after the generation (visible in ACCOUNTZ).
   */
  systemUserKey?: string;
  /** Largest file written; a larger config is split into shards (default MAX_FILE_BYTES). */
  maxFileBytes?: number;
  /** How many shard files a config too large for one file is split into (default DEFAULT_SHARDS; 0: never split). */
  shardCount?: number;
}

/** Shard files of a large config: 16 of up to 1 MB hold about 45,000 members. */
export const DEFAULT_SHARDS = 16;

/** Subject prefix of the generation marker mapping in the system account. */
export const GENERATION_MARKER_PREFIX = 'natsrooms.generation.';

/**
 * A user no one can sign in as (see keys.ts). It is always in the config so that nats-server requires authentication even when no Member is
 * accepted (with no users at all it would let anonymous clients in).
 */
export const LOCKED_USER_KEY = keyWithoutSeed('locked user');

const SAFE = /^[A-Za-z0-9_$.*>-]+$/;

/** `value`, once it is known to be safe to write between quotes. */
function safe(value: string): string {
  if (!SAFE.test(value)) throw new Error(`refusing to render unsafe value ${JSON.stringify(value)}`);
  return value;
}

function quote(value: string): string {
  return `"${safe(value)}"`;
}

// With tens of thousands of members the config is megabytes of short pieces: the functions below build
// each user's line by plain concatenation, without intermediate arrays, and a list puts its quotes
// around the separators rather than around each value (one string fewer per value).

function list(values: readonly string[]): string {
  if (values.length === 0) return '[]';
  let out = '["';
  for (let i = 0; i < values.length; i++) out += (i === 0 ? '' : '", "') + safe(values[i]!);
  return `${out}"]`;
}

function subjectPermission(p: SubjectPermission): string {
  if (p.allow.length === 0) return `{deny: ${list(['>', ...p.deny.filter((s) => s !== '>')])}}`;
  return p.deny.length === 0 ? `{allow: ${list(p.allow)}}` : `{allow: ${list(p.allow)}, deny: ${list(p.deny)}}`;
}

function user(entry: UserEntry): string {
  const { publish, subscribe, allowResponses } = entry.permissions;
  // Permissions before the key: with several unsafe values, the error names the same one as always.
  const perms = `publish: ${subjectPermission(publish)}, subscribe: ${subjectPermission(subscribe)}${allowResponses ? ', allow_responses: true' : ''}`;
  return `      # ${entry.member}\n      {nkey: ${quote(entry.publicKey)}, permissions: {${perms}}}\n`;
}

/**
 * Text is hashed and collected in chunks of about this many characters. Each chunk is flattened (by the
 * hash) while its pieces are still young, instead of one rope of millions of pieces that all outlive
 * many garbage collections and are flattened at the end.
 */
const CHUNK_CHARS = 16 * 1024;

export function render(model: AuthModel, options: RenderOptions = {}): Rendered {
  if (!/^[A-Za-z0-9_-]+$/.test(model.account)) throw new Error(`refusing to render account name ${JSON.stringify(model.account)}`);
  const single = renderFiles(model, options, false);
  const fits = single.text.length <= (options.maxFileBytes ?? MAX_FILE_BYTES);
  return fits || options.shardCount === 0 ? single : renderFiles(model, options, true);
}

/**
 * One file, or (sharded) a main file that includes shard files defining each user as a variable
 * named after the hash of its entry, and lists the variables. Content-addressed names make a mix of
 * files from two generations (kubelet delivering between the operator's Secret writes) fail to
 * parse, instead of binding one generation's permissions under the other's marker: a variable the
 * main file needs is missing, or a shard defines one nobody uses, which nats-server refuses.
 *
 * A user's shard is a hash of its public key modulo a fixed shard count, so a change to one member
 * rewrites one shard (and the main file), never shifts users between shards.
 */
function renderFiles(model: AuthModel, options: RenderOptions, sharded: boolean): Rendered {
  const hash = createHash('sha256');
  const shards: string[] = [];
  const refs: string[] = [];
  if (sharded) {
    const count = options.shardCount ?? DEFAULT_SHARDS;
    for (let i = 1; i <= count; i++) shards.push(`# Shard ${i} of ${count} of the auth config.\n`);
    const lines = model.users.map(user);
    const names = variableNames(lines, 16);
    model.users.forEach((entry, i) => {
      const line = lines[i]!;
      const definition = `# ${entry.member}\n${names[i]} = ${line.slice(line.indexOf('{'))}`;
      shards[shardOf(entry.publicKey, count)] += definition;
      refs.push(`$${names[i]}\n`);
    });
    for (const s of shards) hash.update(s);
  }
  const chunks: string[] = [];
  const flush = (chunk: string) => {
    hash.update(chunk);
    chunks.push(chunk);
  };
  let chunk = '# Generated by nats-rooms-operator from Room and Member resources. Do not edit: it is rewritten.\n';
  for (let i = 1; i <= shards.length; i++) chunk += `include "${shardFileName(i)}"\n`;
  chunk +=
    'accounts: {\n' +
    `  ${model.account}: {\n` +
    '    users: [\n' +
    '      # locked: keeps authentication required when no Member is accepted\n' +
    `      {nkey: ${quote(LOCKED_USER_KEY)}, permissions: {publish: {deny: [">"]}, subscribe: {deny: [">"]}}}\n`;
  const lines = sharded ? refs : model.users;
  for (const entry of lines) {
    chunk += typeof entry === 'string' ? entry : user(entry);
    if (chunk.length >= CHUNK_CHARS) {
      flush(chunk);
      chunk = '';
    }
  }
  chunk += '    ]\n  }\n';
  if (options.systemUserKey) chunk += `  "$SYS": {\n    users: [{nkey: ${quote(options.systemUserKey)}}]\n`;
  flush(chunk);
  // The generation is the hash of everything so far: the marker that names it comes after.
  const digest = hash.digest('hex');
  let tail = '';
  if (options.systemUserKey) {
    const marker = quote(`${GENERATION_MARKER_PREFIX}${digest}`);
    tail += `    mappings: {${marker}: ${marker}}\n  }\n`;
  }
  tail += '}\n';
  chunks.push(tail);
  return { text: chunks.join(''), shards, hash: digest };
}

/**
 * `U<hex>` per user line: the first `hexDigits` of its sha256, or all 64 should two lines share a
 * prefix (so short names in the main file, yet never two users under one name).
 */
function variableNames(lines: string[], hexDigits: number): string[] {
  const digests = lines.map((l) => createHash('sha256').update(l).digest('hex'));
  const short = digests.map((d) => `U${d.slice(0, hexDigits)}`);
  return new Set(short).size === short.length ? short : digests.map((d) => `U${d}`);
}

/** FNV-1a of the public key, modulo the shard count: stable for a key, whatever else changes. */
export function shardOf(publicKey: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < publicKey.length; i++) h = Math.imul(h ^ publicKey.charCodeAt(i), 0x01000193);
  return (h >>> 0) % count;
}
