// The NATS accounts of the config: one per namespace, so that nats-server itself keeps namespaces
// apart (an account is its isolation boundary: no subject, reply or inbox of one account is reachable
// from another except through what the config exports and imports).
//
// A room that other namespaces may join is an export of its own namespace's account, of exactly the
// room's subject, to exactly the namespaces that have a member in it, in the one way its Room offers
// (spec.guestAccess):
// - Subscribe: a stream. Guests receive what the room's own namespace publishes to it.
// - Request: a service. Guests' requests reach the room's own namespace (its responders and
//   subscribers); replies come back through nats-server's response routing to the reply subject the
//   requester named, in its own account (as with any request, several responders outside a queue
//   group can each answer). No other subject of the guest is reachable from the room's side.
// Never both on overlapping subjects: nats-server does not pass a message that arrived through a
// service import on to a stream export on the same server, but does once the message was routed to
// another server, so guests would get other guests' requests on some servers and not on others.
// And never from guest to guest, nor a stream both ways between two accounts (nats-server refuses
// that as a cycle).
import { covers } from './subjects.js';

/** `<prefix>_<namespace>`: namespaces are DNS labels (no `_`), so no two namespaces share an account. */
export const accountName = (prefix: string, namespace: string) => `${prefix}_${namespace}`;

export type LinkKind = 'stream' | 'service';

export interface ExportEntry {
  kind: LinkKind;
  subject: string;
  /** Sorted. */
  accounts: string[];
}

export interface ImportEntry {
  kind: LinkKind;
  account: string;
  subject: string;
}

/** What one namespace's account may hold in JetStream (nats-server's account `jetstream` limits). */
export interface JetStreamLimits {
  /** Bytes. */
  maxMemory: number;
  /** Bytes. */
  maxFile: number;
  maxStreams: number;
  maxConsumers: number;
}

/** JetStream in a namespace's account: enabled only while an accepted room of the namespace is persisted. */
export interface AccountJetStream {
  limits: JetStreamLimits;
  /** The streams of the namespace's accepted persisted rooms, sorted. */
  streams: string[];
  /** The operator's user in this account, which alone manages those streams and their consumers. */
  adminKey: string;
}

export interface AccountModel {
  name: string;
  namespace: string;
  jetstream?: AccountJetStream;
  /** Sorted by kind and subject. */
  exports: ExportEntry[];
  /** Sorted by kind, account and subject. */
  imports: ImportEntry[];
}

/** One namespace's members joined a room of another namespace (the room's `guestAccess` is `kind`). */
export interface GuestUse {
  home: string;
  subject: string;
  guest: string;
  kind: LinkKind;
}

/** The accounts of `namespaces` (those with users) and of both ends of every guest use. */
export function wireAccounts(
  prefix: string,
  namespaces: Iterable<string>,
  uses: readonly GuestUse[],
  jetstream: ReadonlyMap<string, AccountJetStream> = new Map(),
): AccountModel[] {
  const exports = new Map<string, Map<string, ExportEntry>>();
  const imports = new Map<string, Map<string, ImportEntry>>();
  const of = <T>(map: Map<string, Map<string, T>>, namespace: string) => {
    let m = map.get(namespace);
    if (!m) map.set(namespace, (m = new Map()));
    return m;
  };
  for (const namespace of namespaces) of(exports, namespace);
  for (const namespace of jetstream.keys()) of(exports, namespace);
  for (const { home, subject, guest, kind } of uses) {
    const list = of(exports, home);
    const id = `${kind} ${subject}`;
    let entry = list.get(id);
    if (!entry) list.set(id, (entry = { kind, subject, accounts: [] }));
    const to = accountName(prefix, guest);
    if (!entry.accounts.includes(to)) entry.accounts.push(to);
    const account = accountName(prefix, home);
    of(imports, guest).set(`${kind} ${account} ${subject}`, { kind, account, subject });
  }
  const names = new Set([...exports.keys(), ...imports.keys()]);
  return [...names]
    .map((namespace) => ({
      name: accountName(prefix, namespace),
      namespace,
      ...(jetstream.has(namespace) && { jetstream: jetstream.get(namespace)! }),
      exports: [...(exports.get(namespace)?.values() ?? [])].map((e) => ({ ...e, accounts: e.accounts.sort() })).sort(byFields('kind', 'subject')),
      imports: withoutCovered([...(imports.get(namespace)?.values() ?? [])]).sort(byFields('kind', 'account', 'subject')),
    }))
    .sort(byFields('name'));
}

/**
 * Without an import that a broader one of the same kind from the same account covers (entries are
 * unique by kind, account and subject): two imports matching one subject would deliver it twice.
 */
function withoutCovered(imports: ImportEntry[]): ImportEntry[] {
  return imports.filter((i) => !imports.some((j) => j !== i && j.kind === i.kind && j.account === i.account && covers(j.subject, i.subject)));
}

function byFields<T>(...fields: (keyof T)[]) {
  return (a: T, b: T) => {
    for (const f of fields) if (a[f] !== b[f]) return a[f] < b[f] ? -1 : 1;
    return 0;
  };
}
