// `nats-rooms-operator render -f <file|dir>...`: compile manifests offline and print the NATS config
// (stdout) and every verdict (stderr), for GitOps review and debugging. Exit 1 if anything is rejected.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compile } from '../auth/compile.js';
import type { Compiled, CompileOptions } from '../auth/model.js';
import { DEFAULT_SHARDS, includedFiles, MAX_FILE_BYTES, render, type Rendered } from '../auth/render.js';
import { keyWithoutSeed } from '../auth/keys.js';
import { loadManifests } from './load.js';

/** Offline stand-ins for the keys the operator generates: deterministic, and no one can sign for them. */
class PlaceholderKeys extends Map<string, string> {
  override get(member: string): string {
    return keyWithoutSeed(`offline placeholder for ${member}`);
  }
}

const USAGE = `usage: nats-rooms-operator render -f <file|dir> [-f ...] [options]

Compiles Room and Member manifests into the NATS authorization config the operator would write,
without a cluster. The config goes to stdout, the verdict of every object to stderr.

options:
  -f, --filename <path>     a YAML file or a directory of them (repeatable)
  -n, --namespace <ns>      namespace for objects that name none (default: default)
      --account <name>      NATS account of the members (default: ROOMS)
      --subject-root <ns=subject>  an extra subject root for a namespace (repeatable)
      --output <text|json>  json prints {config, shards, hash, rooms, members} to stdout instead
      --out <dir>           write the files the operator would put in its Secrets into <dir>
                            (auth.conf, and users-1.conf ... when sharded); stdout lists them
      --auth-shards <n>     shard files of a config too large for one (default ${DEFAULT_SHARDS}, as the operator's)
      --max-secret-bytes <n>  largest file (default ${MAX_FILE_BYTES}, as the operator's)
  -h, --help

Members without spec.nkey get a key pair from the running operator; offline they get a placeholder
public key that no one can sign for (the member's status in the cluster shows the real one).
A config too large for one file is split into shards; stdout cannot hold several files, so a sharded
config needs --out. Which shard a user lands in is salted by the operator's own secret, so the
operator's shards hold the same users in another arrangement.
Exit status: 0 when every object is accepted, 1 when any is rejected or a manifest is unusable, 2 on usage errors.`;

export function runRender(argv: string[], out = process.stdout, err = process.stderr): number {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        filename: { type: 'string', short: 'f', multiple: true },
        namespace: { type: 'string', short: 'n', default: 'default' },
        account: { type: 'string' },
        'subject-root': { type: 'string', multiple: true },
        output: { type: 'string', default: 'text' },
        out: { type: 'string' },
        'auth-shards': { type: 'string' },
        'max-secret-bytes': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    out.write(`${USAGE}\n`);
    return 0;
  }
  if (!args.filename?.length || (args.output !== 'text' && args.output !== 'json')) {
    err.write(`${USAGE}\n`);
    return 2;
  }
  const extraSubjectRoots: Record<string, string[]> = {};
  for (const pair of args['subject-root'] ?? []) {
    const [ns, root] = pair.split('=', 2);
    if (!ns || !root) {
      err.write(`--subject-root takes <namespace>=<subject>, got ${JSON.stringify(pair)}\n`);
      return 2;
    }
    (extraSubjectRoots[ns] ??= []).push(root);
  }
  const count = (flag: 'auth-shards' | 'max-secret-bytes', fallback: number): number | undefined => {
    const text = args[flag];
    if (text === undefined) return fallback;
    return /^[0-9]+$/.test(text) ? Number(text) : undefined;
  };
  const shardCount = count('auth-shards', DEFAULT_SHARDS);
  const maxFileBytes = count('max-secret-bytes', MAX_FILE_BYTES);
  if (shardCount === undefined || maxFileBytes === undefined || maxFileBytes === 0) {
    err.write(`--auth-shards and --max-secret-bytes take whole numbers (--max-secret-bytes above 0)\n`);
    return 2;
  }
  const options: CompileOptions = { extraSubjectRoots, generatedKeys: new PlaceholderKeys() };
  if (args.account) options.account = args.account;

  let loaded;
  let compiled: Compiled;
  try {
    loaded = loadManifests(args.filename, args.namespace!);
    compiled = compile(loaded.rooms, loaded.members, options);
  } catch (e) {
    err.write(`render: ${printable((e as Error).message)}\n`);
    return 2;
  }
  let rendered;
  try {
    rendered = render(compiled.model, { shardCount, maxFileBytes });
  } catch (e) {
    err.write(`render: ${printable((e as Error).message)}\n`);
    return 1;
  }
  const sharded = rendered.shards.length > 0;
  if (args.out !== undefined) {
    try {
      // The files written are the output: stdout says where they went (stderr when stdout is JSON).
      for (const line of writeFiles(args.out, rendered)) (args.output === 'json' ? err : out).write(`${line}\n`);
    } catch (e) {
      err.write(`render: cannot write ${args.out}: ${(e as Error).message}\n`);
      return 2;
    }
  } else if (sharded && args.output === 'text') {
    err.write(
      `render: the config is sharded (${compiled.model.users.length} members, more than ${maxFileBytes} bytes): ` +
        `auth.conf includes ${rendered.shards.length} files users-N.conf (and their guard-N.conf), which stdout cannot hold. ` +
        `Pass --out <dir> to write them all (or --output json).\n`,
    );
    return 2;
  }
  if (args.output === 'json') {
    out.write(
      `${JSON.stringify(
        {
          config: rendered.text,
          shards: includedFiles(rendered),
          hash: rendered.hash,
          problems: loaded.problems,
          rooms: Object.fromEntries(compiled.rooms),
          members: Object.fromEntries(compiled.members),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    if (args.out === undefined) out.write(rendered.text);
    for (const p of loaded.problems) err.write(`error     ${printable(p)}\n`);
    for (const [key, r] of compiled.rooms) {
      err.write(`${r.accepted ? 'accepted' : 'REJECTED'}  Room ${printable(key)}: ${r.reason}: ${printable(r.message)}\n`);
    }
    for (const [key, m] of compiled.members) {
      err.write(`${m.accepted ? 'accepted' : 'REJECTED'}  Member ${printable(key)}: ${m.reason}: ${printable(m.message)}\n`);
    }
    err.write(`config sha256 ${rendered.hash}, ${compiled.model.users.length} member(s)${sharded ? `, sharded into ${rendered.shards.length} files` : ''}\n`);
  }
  const rejected = [...compiled.rooms.values(), ...compiled.members.values()].some((v) => !v.accepted);
  return rejected || loaded.problems.length > 0 ? 1 : 0;
}

/**
 * Writes auth.conf and its shards into `dir` (created if missing), and removes shard files of an
 * earlier render that this config no longer has, so the directory holds exactly this config.
 */
function writeFiles(dir: string, rendered: Rendered): string[] {
  mkdirSync(dir, { recursive: true });
  const wanted = new Map<string, string>([['auth.conf', rendered.text]]);
  for (const [name, text] of Object.entries(includedFiles(rendered))) wanted.set(name, text);
  const lines: string[] = [];
  for (const name of readdirSync(dir)) {
    if (/^(users|guard)-[0-9]+\.conf$/.test(name) && !wanted.has(name)) {
      rmSync(join(dir, name));
      lines.push(`removed   ${join(dir, name)} (not part of this config)`);
    }
  }
  for (const [name, text] of wanted) {
    writeFileSync(join(dir, name), text);
    lines.push(`wrote     ${join(dir, name)} (${Buffer.byteLength(text)} bytes)`);
  }
  return lines;
}

/**
 * `text` with control, line-separator and bidirectional-override characters escaped: names and values
 * come from manifests, and one that carried a newline could forge a verdict line of its own.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
