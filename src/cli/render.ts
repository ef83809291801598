// `nats-rooms-operator render -f <file|dir>...`: compile manifests offline and print the NATS config
// (stdout) and every verdict (stderr), for GitOps review and debugging. Exit 1 if anything is rejected.
import { parseArgs } from 'node:util';
import { compile, type Compiled, type CompileOptions } from '../auth/compile.js';
import { render } from '../auth/render.js';
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
      --output <text|json>  json prints {config, hash, rooms, members} to stdout instead
  -h, --help

Members without spec.nkey get a key pair from the running operator; offline they get a placeholder
public key that no one can sign for (the member's status in the cluster shows the real one).
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
    rendered = render(compiled.model);
  } catch (e) {
    err.write(`render: ${printable((e as Error).message)}\n`);
    return 1;
  }
  if (args.output === 'json') {
    out.write(
      `${JSON.stringify(
        {
          config: rendered.text,
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
    out.write(rendered.text);
    for (const p of loaded.problems) err.write(`error     ${printable(p)}\n`);
    for (const [key, r] of compiled.rooms) {
      err.write(`${r.accepted ? 'accepted' : 'REJECTED'}  Room ${printable(key)}: ${r.reason}: ${printable(r.message)}\n`);
    }
    for (const [key, m] of compiled.members) {
      err.write(`${m.accepted ? 'accepted' : 'REJECTED'}  Member ${printable(key)}: ${m.reason}: ${printable(m.message)}\n`);
    }
    err.write(`config sha256 ${rendered.hash}, ${compiled.model.users.length} member(s)\n`);
  }
  const rejected = [...compiled.rooms.values(), ...compiled.members.values()].some((v) => !v.accepted);
  return rejected || loaded.problems.length > 0 ? 1 : 0;
}

/**
 * `text` with control, line-separator and bidirectional-override characters escaped: names and values
 * come from manifests, and one that carried a newline could forge a verdict line of its own.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
