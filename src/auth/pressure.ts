// When the config would outgrow its Secrets even with every namespace within its budget, nobody's
// removals may wait for it: withoutAdditions() gives the config that applies every removal and
// narrowing since the last generation written and none of the additions (deny wins under pressure).
// It is never larger than the next config, nor than the last: each list is an intersection or a
// union of deny lists both had.
import type { AccountModel, ExportEntry } from './accounts.js';
import type { AuthModel, Permissions, SubjectPermission, UserEntry } from './model.js';

export interface Narrowed {
  model: AuthModel;
  /** Members (`namespace/name`) whose entry in `model` is not the one they should have: their additions wait. */
  held: Set<string>;
}

export function withoutAdditions(next: AuthModel, last: AuthModel): Narrowed {
  const before = new Map(last.users.map((u) => [u.publicKey, u]));
  const held = new Set<string>();
  const users: UserEntry[] = [];
  for (const user of next.users) {
    const old = before.get(user.publicKey);
    if (!old || old.account !== user.account || old.member !== user.member) {
      held.add(user.member);
      continue;
    }
    const permissions = narrowest(user.permissions, old.permissions);
    if (!samePermissions(permissions, user.permissions)) held.add(user.member);
    users.push({ ...user, permissions });
  }
  const lastAccounts = new Map(last.accounts.map((a) => [a.name, a]));
  const withUsers = new Set(users.map((u) => u.account));
  const accounts: AccountModel[] = [];
  for (const account of next.accounts) {
    const old = lastAccounts.get(account.name);
    const exports = old ? commonExports(account.exports, old.exports) : [];
    const imports = old ? account.imports.filter((i) => old.imports.some((j) => j.kind === i.kind && j.account === i.account && j.subject === i.subject)) : [];
    if (withUsers.has(account.name) || account.jetstream || exports.length > 0 || imports.length > 0) accounts.push({ ...account, exports, imports });
  }
  return { model: { ...next, users, accounts }, held };
}

/** What both grant: allow lists intersected, deny lists joined. */
function narrowest(next: Permissions, last: Permissions): Permissions {
  return { publish: both(next.publish, last.publish), subscribe: both(next.subscribe, last.subscribe), allowResponses: next.allowResponses && last.allowResponses };
}

function both(next: SubjectPermission, last: SubjectPermission): SubjectPermission {
  const allowed = new Set(last.allow);
  return { allow: next.allow.filter((s) => allowed.has(s)), deny: [...new Set([...next.deny, ...last.deny])].sort() };
}

function commonExports(next: ExportEntry[], last: ExportEntry[]): ExportEntry[] {
  const out: ExportEntry[] = [];
  for (const e of next) {
    const old = last.find((o) => o.kind === e.kind && o.subject === e.subject);
    const accounts = old ? e.accounts.filter((a) => old.accounts.includes(a)) : [];
    if (accounts.length > 0) out.push({ ...e, accounts });
  }
  return out;
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((s, i) => s === b[i]);
const samePermissions = (a: Permissions, b: Permissions) =>
  a.allowResponses === b.allowResponses &&
  sameList(a.publish.allow, b.publish.allow) && sameList(a.publish.deny, b.publish.deny) && sameList(a.subscribe.allow, b.subscribe.allow) && sameList(a.subscribe.deny, b.subscribe.deny);
