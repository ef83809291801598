// The NATS accounts of the config: one per namespace, so that nats-server itself keeps namespaces
// apart (an account is its isolation boundary: no subject, reply or inbox of one account is reachable
// from another except through what the config exports and imports). A room that other namespaces may
// join becomes exports of the accounts its messages come from and imports of the accounts they go to,
// for exactly the room's subject and exactly the namespaces that have a member in it.
//
// How a message of a room with home namespace H reaches every member once (nats-server never
// re-exports a message that arrived through a service import, and a stream import delivers to the
// importing account's own subscribers only):
// - a guest namespace with publishers (Publish, PublishSubscribe, Request) imports the subject from H
//   as a service: its messages reach H's subscribers, and its requests H's responders, whose replies
//   come back through nats-server's response routing to the requester's private inbox (one reply per
//   request; no other subject of the guest is reachable from H);
// - a guest namespace with subscribers imports the subject from H as a stream (what H's members
//   publish), and from every other guest namespace with publishers (what their members publish);
// - responders are always members of the room's own namespace (see compile.ts).
import { covers } from './subjects.js';

/** `<prefix>_<namespace>`: namespaces are DNS labels (no `_`), so no two namespaces share an account. */
export const accountName = (prefix: string, namespace: string) => `${prefix}_${namespace}`;

export interface ExportEntry {
  subject: string;
  /** Sorted. */
  accounts: string[];
}

export interface ImportEntry {
  account: string;
  subject: string;
}

export interface AccountModel {
  name: string;
  namespace: string;
  streamExports: ExportEntry[];
  serviceExports: ExportEntry[];
  streamImports: ImportEntry[];
  serviceImports: ImportEntry[];
}

/** How the accepted members of one namespace take part in a room of another namespace. */
export interface GuestUse {
  /** `namespace/name` of the room. */
  room: string;
  home: string;
  subject: string;
  guest: string;
  publishes: boolean;
  subscribes: boolean;
}

interface Wiring {
  streamExports: Map<string, Set<string>>;
  serviceExports: Map<string, Set<string>>;
  streamImports: Map<string, ImportEntry>;
  serviceImports: Map<string, ImportEntry>;
}

/** The accounts of `namespaces` (those with users) and of every namespace the guest uses connect. */
export function wireAccounts(prefix: string, namespaces: Iterable<string>, uses: readonly GuestUse[]): AccountModel[] {
  const wiring = new Map<string, Wiring>();
  const of = (namespace: string) => {
    let w = wiring.get(namespace);
    if (!w) wiring.set(namespace, (w = { streamExports: new Map(), serviceExports: new Map(), streamImports: new Map(), serviceImports: new Map() }));
    return w;
  };
  for (const namespace of namespaces) of(namespace);

  const rooms = new Map<string, { home: string; subject: string; publishers: Set<string>; subscribers: Set<string> }>();
  for (const use of uses) {
    let room = rooms.get(use.room);
    if (!room) rooms.set(use.room, (room = { home: use.home, subject: use.subject, publishers: new Set(), subscribers: new Set() }));
    if (use.publishes) room.publishers.add(use.guest);
    if (use.subscribes) room.subscribers.add(use.guest);
  }
  const link = (kind: 'stream' | 'service', from: string, to: string, subject: string) => {
    const exports = of(from)[kind === 'stream' ? 'streamExports' : 'serviceExports'];
    let accounts = exports.get(subject);
    if (!accounts) exports.set(subject, (accounts = new Set()));
    accounts.add(accountName(prefix, to));
    const entry = { account: accountName(prefix, from), subject };
    of(to)[kind === 'stream' ? 'streamImports' : 'serviceImports'].set(`${entry.account} ${subject}`, entry);
  };
  for (const { home, subject, publishers, subscribers } of rooms.values()) {
    for (const guest of publishers) link('service', home, guest, subject);
    for (const guest of subscribers) {
      link('stream', home, guest, subject);
      for (const publisher of publishers) if (publisher !== guest) link('stream', publisher, guest, subject);
    }
  }

  return [...wiring.entries()]
    .map(([namespace, w]) => ({
      name: accountName(prefix, namespace),
      namespace,
      streamExports: exportList(w.streamExports),
      serviceExports: exportList(w.serviceExports),
      streamImports: importList(w.streamImports),
      serviceImports: importList(w.serviceImports),
    }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function exportList(exports: Map<string, Set<string>>): ExportEntry[] {
  return [...exports.entries()].map(([subject, accounts]) => ({ subject, accounts: [...accounts].sort() })).sort(bySubject);
}

/**
 * Sorted, and without an import that a broader one from the same account covers (entries are unique
 * by account and subject): two imports matching one subject would deliver its messages twice.
 */
function importList(imports: Map<string, ImportEntry>): ImportEntry[] {
  const all = [...imports.values()];
  return all
    .filter((i) => !all.some((j) => j !== i && j.account === i.account && covers(j.subject, i.subject)))
    .sort((a, b) => (a.account !== b.account ? (a.account < b.account ? -1 : 1) : a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
}

const bySubject = (a: { subject: string }, b: { subject: string }) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0);
