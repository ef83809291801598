// render(): the compiled model as NATS config text, deterministic (same model, same bytes) with its
// sha256. Only nkey users, every value quoted, every string re-checked against the grammar here, so
// no field can inject config even if a check upstream were missing. Default deny: an empty allow
// list would mean "everything" to nats-server, so it is written as an explicit deny of `>`.
import { createHash } from 'node:crypto';
import { LOCKED_USER_KEY } from './keys.js';
import { flat } from '../strings.js';
import type { AuthModel, Permissions, SubjectPermission, UserEntry } from './model.js';
import type { AccountJetStream, AccountModel } from './accounts.js';
import { STREAM_ADMIN_INBOX, streamAdminPublish } from './jetstream.js';

export interface Rendered {
  /** The main file, auth.conf. */
  text: string;
  /** Files the main one includes (`users-1.conf`, ...) when the config is too large for one; else empty. */
  shards: string[];
  /** Per shard, its guard file (`guard-1.conf`, ...): one variable named after the shard's content, kept in the shard's Secret. */
  guards: string[];
  /** The generation: sha256 (hex) of the main file without the generation marker (it covers the shards through their guards). */
  hash: string;
  /**
   * Accounts with service imports. nats-server wires the service imports of an account that is new
   * in a reload only on the next reload (see FACTS), so a server that did not have one of these
   * accounts before is reloaded twice.
   */
  serviceImporters: string[];
}

/** A Secret holds at most 1 MiB: no file is larger than this (with room for the Secret's metadata). */
export const MAX_FILE_BYTES = 1_000_000;

export const shardFileName = (index: number) => `users-${index}.conf`;
export const guardFileName = (index: number) => `guard-${index}.conf`;
/** The guard variable of shard `index` (1-based), named after the sha256 (hex) of its users file. */
export const shardGuardName = (index: number, sha256Hex: string) => `S${index}_${sha256Hex.slice(0, 32)}`;

/** Shard `index` (1-based) as the files of its Secret: its users and its guard (one Secret, so kubelet delivers them together). */
export function shardSecretFiles(rendered: Rendered, index: number): Record<string, string> {
  return { [shardFileName(index)]: rendered.shards[index - 1]!, [guardFileName(index)]: rendered.guards[index - 1]! };
}

/** Every file the main one includes, by name (none for a config in one file). */
export function includedFiles(rendered: Rendered): Record<string, string> {
  return Object.assign({}, ...rendered.shards.map((_, i) => shardSecretFiles(rendered, i + 1))) as Record<string, string>;
}

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
  /**
   * A secret mixed into the shard hash, so that nobody who can create Members can choose public keys
   * that all land in one shard and fill it (which would stop every later change).
   */
  shardSalt?: string;
  /** Shards of the last render, reused where unchanged (see RenderCache); the caller keeps it. */
  cache?: RenderCache;
}

/**
 * Shard files of a large config. 32 of up to 1 MB: at 50,000 members (three rooms each, the five modes
 * mixed) the largest is 489 KB and the main file 454 KB, so 50,000 fit twice over; the main file (a
 * reference per member) reaches its 1 MB near 100,000. 16 held 50,000 with 3% to spare (967 KB).
 */
export const DEFAULT_SHARDS = 32;

/** Subject prefix of the generation marker mapping in the system account. */
export const GENERATION_MARKER_PREFIX = 'natsrooms.generation.';

export { LOCKED_USER_KEY };

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

/** An account's exports and imports (see accounts.ts). */
function wiring(account: AccountModel): string {
  let out = '';
  if (account.exports.length > 0) {
    out += `    exports: [\n${account.exports.map((e) => `      {${e.kind}: ${quote(e.subject)}, accounts: ${list(e.accounts)}}\n`).join('')}    ]\n`;
  }
  if (account.imports.length > 0) {
    out += `    imports: [\n${account.imports.map((i) => `      {${i.kind}: {account: ${quote(i.account)}, subject: ${quote(i.subject)}}}\n`).join('')}    ]\n`;
  }
  return out;
}

/** The account's JetStream limits, and the operator's user that manages its streams. */
function jetstreamOf(js: AccountJetStream): { limits: string; admin: string } {
  const { maxMemory, maxFile, maxStreams, maxConsumers } = js.limits;
  for (const n of [maxMemory, maxFile, maxStreams, maxConsumers]) {
    if (!Number.isSafeInteger(n) || n < -1) throw new Error(`refusing to render JetStream limit ${JSON.stringify(n)}`);
  }
  const admin: UserEntry = {
    publicKey: js.adminKey,
    member: '',
    account: '',
    permissions: { publish: { allow: streamAdminPublish(js.streams), deny: [] }, subscribe: { allow: [`${STREAM_ADMIN_INBOX}.>`], deny: [] }, allowResponses: false },
  };
  return {
    limits: `    jetstream: {max_memory: ${maxMemory}, max_file: ${maxFile}, max_streams: ${maxStreams}, max_consumers: ${maxConsumers}}\n`,
    admin: `      # operator: streams\n      ${userBody(admin)}\n`,
  };
}

/**
 * The text written for frozen permissions (see frozenPermissions()), with the key it was written with:
 * a member whose compile result the cache reused is not rendered again.
 */
const writtenBodies = new WeakMap<Permissions, { publicKey: string; body: string }>();

/** A user's map, `{nkey: ..., permissions: {...}}`. */
function userBody(entry: UserEntry): string {
  const frozen = Object.isFrozen(entry.permissions);
  const known = frozen ? writtenBodies.get(entry.permissions) : undefined;
  if (known?.publicKey === entry.publicKey) return known.body;
  const { publish, subscribe, allowResponses } = entry.permissions;
  // Permissions before the key: with several unsafe values, the error names the same one as always.
  const perms = `publish: ${subjectPermission(publish)}, subscribe: ${subjectPermission(subscribe)}${allowResponses ? ', allow_responses: true' : ''}`;
  const body = flat(`{nkey: ${quote(entry.publicKey)}, permissions: {${perms}}}`);
  if (frozen) writtenBodies.set(entry.permissions, { publicKey: entry.publicKey, body });
  return body;
}

/**
 * Text is hashed and collected in chunks of about this many characters. Each chunk is flattened (by the
 * hash) while its pieces are still young, instead of one rope of millions of pieces that all outlive
 * many garbage collections and are flattened at the end.
 */
const CHUNK_CHARS = 16 * 1024;

export function render(model: AuthModel, options: RenderOptions = {}): Rendered {
  for (const name of [model.account, ...model.accounts.map((a) => a.name)]) {
    if (!ACCOUNT_NAME.test(name)) throw new Error(`refusing to render account name ${JSON.stringify(name)}`);
  }
  const limit = options.shardCount === 0 ? Infinity : (options.maxFileBytes ?? MAX_FILE_BYTES);
  // Rendering a file that will not fit is wasted work: skip it when the count alone rules it out.
  const surelyTooLarge = model.users.length * MIN_USER_LINE_CHARS > limit;
  return (surelyTooLarge ? undefined : renderMain(model, options, byAccount(model, model.users), [], limit)) ?? renderSharded(model, options);
}

const ACCOUNT_NAME = /^[A-Za-z0-9_-]+$/;

/** Each account's users (entries or shard references), in the order given. */
function byAccount<T>(model: AuthModel, users: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>(model.accounts.map((a) => [a.name, []]));
  for (let i = 0; i < users.length; i++) {
    const list = out.get(model.users[i]!.account);
    if (!list) throw new Error(`user ${model.users[i]!.member} is in account ${model.users[i]!.account}, which the model does not define`);
    list.push(users[i]!);
  }
  return out;
}

/** No user's lines in the single file are shorter (key, comment and the narrowest permissions). */
export const MIN_USER_LINE_CHARS = 120;

/**
 * A config too large for one file: each user's entry becomes a variable `U<shard>_<n>` in the shard
 * file of its key (a hash of the public key modulo a fixed shard count, so a change to one member
 * rewrites one shard and never moves users between shards), and the main file includes the shards
 * and lists the variables.
 *
 * Each shard's Secret also holds a guard file: one variable named after the hash of the shard's
 * content. The main file includes the guards first and names every one it expects (as subjects the
 * locked user may not publish to) before it includes a single shard. A mix of files from two
 * generations, kubelet delivering between the operator's Secret writes, therefore never parses, and
 * the server refuses it within the first lines (a variable the main file names is not defined), not
 * after reading megabytes of shards: the rollout's retry costs moments, not a reload. The generation
 * hash covers the shards through their guards.
 */
function renderSharded(model: AuthModel, options: RenderOptions): Rendered {
  const count = options.shardCount ?? DEFAULT_SHARDS;
  const seed = shardSeed(options.shardSalt ?? '');
  const members: string[][] = Array.from({ length: count }, () => []);
  const bodies: string[][] = Array.from({ length: count }, () => []);
  const refs: string[] = [];
  for (const entry of model.users) {
    const s = shardOf(entry.publicKey, count, seed);
    refs.push(`$U${s + 1}_${members[s]!.length}\n`);
    members[s]!.push(entry.member);
    bodies[s]!.push(userBody(entry));
  }
  const known = options.cache?.shardsFor(count, seed);
  const shards = members.map((names, s) => {
    const last = known?.[s];
    const shard = last && sameStrings(last.members, names) && sameStrings(last.bodies, bodies[s]!) ? last : shardFile(s, count, names, bodies[s]!);
    if (known) known[s] = shard;
    return shard;
  });
  return renderMain(model, options, byAccount(model, refs), shards)!;
}

interface ShardFile {
  members: string[];
  bodies: string[];
  text: string;
  /** The guard variable's name. */
  guard: string;
  /** guard-N.conf, which defines it. */
  guardText: string;
}

/** One shard: its users as variables `U<shard>_<n>`, and its guard (see renderSharded()). */
function shardFile(s: number, count: number, members: string[], bodies: string[]): ShardFile {
  const hash = createHash('sha256');
  const chunks: string[] = [];
  let chunk = `# Shard ${s + 1} of ${count} of the auth config.\n`;
  for (let n = 0; n < members.length; n++) {
    chunk += `# ${members[n]}\nU${s + 1}_${n} = ${bodies[n]}\n`;
    if (chunk.length >= CHUNK_CHARS) {
      hash.update(chunk);
      chunks.push(chunk);
      chunk = '';
    }
  }
  chunks.push(chunk);
  const guard = shardGuardName(s + 1, hash.update(chunk).digest('hex'));
  const guardText = `# Guard of ${shardFileName(s + 1)}, named after its content: the main file of the same generation names it.\n${guard} = "${SHARD_GUARD_PREFIX}${guard}"\n`;
  return { members, bodies, text: chunks.join(''), guard, guardText };
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The shard files of the last render, kept by the caller: a shard whose users and their entries are
 * unchanged is not written and hashed again (a change to one member rewrites one of 32). The same
 * bytes with or without it.
 */
export class RenderCache {
  private count = -1;
  private seed = -1;
  private shards: ShardFile[] = [];

  /** The shards last rendered with this count and salt (emptied when either differs). */
  shardsFor(count: number, seed: number): ShardFile[] {
    if (count !== this.count || seed !== this.seed) [this.count, this.seed, this.shards] = [count, seed, []];
    return this.shards;
  }
}

/** The variable of the main file that names every shard's guard (see renderSharded). */
const LOCKED_DENY = 'LOCKED_PUBLISH_DENY';

/** Subject prefix of the shard guards (see renderSharded). */
export const SHARD_GUARD_PREFIX = 'natsrooms.shard.';

/**
 * The main file: the users (entries, or references to shard variables) and the system account;
 * undefined as soon as it grows past `limit`.
 */
function renderMain(
  model: AuthModel,
  options: RenderOptions,
  usersByAccount: ReadonlyMap<string, readonly (UserEntry | string)[]>,
  shards: readonly ShardFile[],
  limit = Infinity,
): Rendered | undefined {
  const hash = createHash('sha256');
  const chunks: string[] = [];
  let size = 0;
  const flush = (chunk: string) => {
    hash.update(chunk);
    chunks.push(chunk);
    size += chunk.length;
  };
  let chunk = '# Generated by nats-rooms-operator from Room and Member resources. Do not edit: it is rewritten.\n';
  let lockedDeny = '[">"]';
  if (shards.length > 0) {
    for (let i = 1; i <= shards.length; i++) chunk += `include "${guardFileName(i)}"\n`;
    // A guard this generation does not find fails here, before a shard is read (see renderSharded()).
    chunk += `${LOCKED_DENY} = [">", ${shards.map((s) => `$${s.guard}`).join(', ')}]\n`;
    for (let i = 1; i <= shards.length; i++) chunk += `include "${shardFileName(i)}"\n`;
    lockedDeny = `$${LOCKED_DENY}`;
  }
  chunk +=
    'accounts: {\n' +
    `  ${quote(model.account)}: {\n` +
    '    users: [\n' +
    '      # locked: keeps authentication required when no Member is accepted\n' +
    `      {nkey: ${quote(LOCKED_USER_KEY)}, permissions: {publish: {deny: ${lockedDeny}}, subscribe: {deny: [">"]}}}\n` +
    '    ]\n  }\n';
  for (const account of model.accounts) {
    chunk += `  # namespace ${account.namespace}\n  ${quote(account.name)}: {\n`;
    const users = usersByAccount.get(account.name) ?? [];
    const js = account.jetstream && jetstreamOf(account.jetstream);
    if (js) chunk += js.limits;
    if (users.length > 0 || js) chunk += `    users: [\n${js?.admin ?? ''}`;
    for (const entry of users) {
      chunk += typeof entry === 'string' ? entry : `      # ${entry.member}\n      ${userBody(entry)}\n`;
      if (chunk.length >= CHUNK_CHARS) {
        flush(chunk);
        chunk = '';
        if (size > limit) return undefined;
      }
    }
    if (users.length > 0 || js) chunk += '    ]\n';
    chunk += `${wiring(account)}  }\n`;
  }
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
  if (size + tail.length > limit) return undefined;
  chunks.push(tail);
  return { text: chunks.join(''), shards: shards.map((s) => s.text), guards: shards.map((s) => s.guardText), hash: digest, serviceImporters: model.accounts.filter((a) => a.imports.some((i) => i.kind === 'service')).map((a) => a.name) };
}

const FNV_OFFSET = 0x811c9dc5;

/** FNV-1a state after `salt`: where every shardOf() of one render starts. */
export function shardSeed(salt: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < salt.length; i++) h = Math.imul(h ^ salt.charCodeAt(i), 0x01000193);
  return h;
}

/** FNV-1a of the public key (after the salt's seed), modulo the shard count: stable for a key, whatever else changes. */
export function shardOf(publicKey: string, count: number, seed = FNV_OFFSET): number {
  let h = seed;
  for (let i = 0; i < publicKey.length; i++) h = Math.imul(h ^ publicKey.charCodeAt(i), 0x01000193);
  return (h >>> 0) % count;
}
