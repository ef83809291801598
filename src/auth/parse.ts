// parseRendered(): the model back from files render() wrote. After a restart the operator knows the
// last generation it wrote only from its Secrets, and it needs that generation to apply removals
// while a config too large for its Secrets holds additions back (see pressure.ts). It reads only
// render()'s own strict layout (one entry a line, every value a safe token between quotes) and
// answers undefined for anything else, such as a config an older operator version wrote.
import { createHash } from 'node:crypto';
import type { AccountModel, ExportEntry, ImportEntry, JetStreamLimits, LinkKind } from './accounts.js';
import type { AuthModel, Permissions, SubjectPermission, UserEntry } from './model.js';
import { shardGuardName } from './render.js';

const ACCOUNT = /^ {2}"([A-Za-z0-9_$-]+)": \{$/;
const NAMESPACE = /^ {2}# namespace ([a-z0-9-]+)$/;
const MEMBER = /^ {6}# ([a-z0-9-]+\/[a-z0-9.-]+)$/;
const USER = /^ {6}(\{nkey: .*\})$/;
const REF = /^ *\$(U\d+_\d+)$/;
const EXPORT = /^ {6}\{(stream|service): "([^"]+)", accounts: \[(.*)\]\}$/;
const IMPORT = /^ {6}\{(stream|service): \{account: "([^"]+)", subject: "([^"]+)"\}\}$/;
const BODY = /^\{nkey: "(U[A-Z2-7]{55})", permissions: \{publish: (\{[^}]*\}), subscribe: (\{[^}]*\})(, allow_responses: true)?\}\}$/;
const JETSTREAM = /^ {4}jetstream: \{max_memory: (-?\d+), max_file: (-?\d+), max_streams: (-?\d+), max_consumers: (-?\d+)\}$/;
const ADMIN = /^ {6}# operator: streams$/;
const ADMIN_STREAM = /^\$JS\.API\.STREAM\.INFO\.([A-Za-z0-9_-]+)$/;
const SHARD_MEMBER = /^# ([a-z0-9-]+\/[a-z0-9.-]+)$/;
const SHARD_USER = /^(U\d+_\d+) = (\{nkey: .*\})$/;

/** Marks the line after `# operator: streams` (no Member is named so: a namespace has no `/`). */
const ADMIN_MEMBER = 'operator';

export function parseRendered(main: string, shards: readonly string[]): AuthModel | undefined {
  const variables = new Map<string, { member: string; body: string }>();
  for (const [i, shard] of shards.entries()) {
    // Files of two generations (the main Secret read from a cache, a shard written since) do not mix:
    // the main file names each shard's guard, the hash of its content (see render.ts).
    const guard = shardGuardName(i + 1, createHash('sha256').update(shard).digest('hex'));
    if (!main.includes(`$${guard},`) && !main.includes(`$${guard}]`)) return undefined;
    let member: string | undefined;
    for (const line of shard.split('\n')) {
      const m = SHARD_MEMBER.exec(line);
      if (m) member = m[1];
      const u = SHARD_USER.exec(line);
      if (u && member) variables.set(u[1]!, { member, body: u[2]! });
    }
  }
  const lines = main.split('\n');
  const prefix = lines.map((l) => ACCOUNT.exec(l)?.[1]).find((a) => a !== undefined);
  if (prefix === undefined || prefix === '$SYS') return undefined;
  const users: UserEntry[] = [];
  const accounts: AccountModel[] = [];
  let account: AccountModel | undefined;
  let namespace: string | undefined;
  let member: string | undefined;
  let limits: JetStreamLimits | undefined;
  for (const line of lines) {
    let m: RegExpExecArray | null;
    if ((m = NAMESPACE.exec(line))) namespace = m[1];
    else if ((m = ACCOUNT.exec(line))) {
      account = undefined;
      if (m[1] !== prefix && m[1] !== '$SYS') {
        if (namespace === undefined || m[1] !== `${prefix}_${namespace}`) return undefined;
        accounts.push((account = { name: m[1]!, namespace, exports: [], imports: [] }));
      }
    } else if (!account) continue;
    else if ((m = JETSTREAM.exec(line))) limits = { maxMemory: Number(m[1]), maxFile: Number(m[2]), maxStreams: Number(m[3]), maxConsumers: Number(m[4]) };
    else if (ADMIN.test(line)) member = ADMIN_MEMBER;
    else if (member === ADMIN_MEMBER && (m = USER.exec(line))) {
      // The operator's user: its permissions name the account's streams.
      const admin = entry(member, account.name, m[1]!);
      if (!admin || !limits) return undefined;
      const streams = admin.permissions.publish.allow.flatMap((s) => ADMIN_STREAM.exec(s)?.[1] ?? []);
      account.jetstream = { limits, streams, adminKey: admin.publicKey };
      [member, limits] = [undefined, undefined];
    } else if ((m = MEMBER.exec(line))) member = m[1];
    else if ((m = USER.exec(line))) {
      const user = member && entry(member, account.name, m[1]!);
      if (!user) return undefined;
      users.push(user);
    } else if ((m = REF.exec(line))) {
      const variable = variables.get(m[1]!);
      const user = variable && entry(variable.member, account.name, variable.body);
      if (!user) return undefined;
      users.push(user);
    } else if ((m = EXPORT.exec(line))) account.exports.push({ kind: m[1] as LinkKind, subject: m[2]!, accounts: values(m[3]!) } satisfies ExportEntry);
    else if ((m = IMPORT.exec(line))) account.imports.push({ kind: m[1] as LinkKind, account: m[2]!, subject: m[3]! } satisfies ImportEntry);
  }
  users.sort((a, b) => (a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0));
  return { account: prefix, users, accounts };
}

function entry(member: string, account: string, body: string): UserEntry | undefined {
  const m = BODY.exec(body);
  if (!m) return undefined;
  const permissions: Permissions = { publish: subjectPermission(m[2]!), subscribe: subjectPermission(m[3]!), allowResponses: m[4] !== undefined };
  return { publicKey: m[1]!, member, account, permissions };
}

/** `{allow: [...], deny: [...]}`, `{allow: [...]}` or `{deny: [">", ...]}` (render's form of an empty allow list). */
function subjectPermission(text: string): SubjectPermission {
  const allow = /allow: \[([^\]]*)\]/.exec(text);
  const deny = /deny: \[([^\]]*)\]/.exec(text);
  const denied = deny ? values(deny[1]!) : [];
  return allow ? { allow: values(allow[1]!), deny: denied } : { allow: [], deny: denied.filter((s) => s !== '>') };
}

/** `"a", "b"` as ["a", "b"]. */
function values(list: string): string[] {
  return list === '' ? [] : list.slice(1, -1).split('", "');
}
