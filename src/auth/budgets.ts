// What one namespace may put in the config: its objects are admitted oldest first until one of its
// budgets (members, rooms, bytes) is full; the newest wait (QuotaExceeded), so no namespace can fill
// the config for everyone.
import { DEFAULT_BUDGET, reject, type Budgets, type NamespaceBudget, type Permissions, type Verdict } from './model.js';

/**
 * About the bytes a member's entry takes in the config (within a few percent of what render()
 * writes; counted without rendering, which compile() cannot afford for every member).
 */
export function userEntryBytes(publicKey: string, p: Permissions): number {
  let bytes = Object.isFrozen(p) ? permissionBytes.get(p) : undefined;
  if (bytes === undefined) {
    bytes = subjectBytes(p.publish.allow) + subjectBytes(p.publish.deny) + subjectBytes(p.subscribe.allow) + subjectBytes(p.subscribe.deny);
    if (Object.isFrozen(p)) permissionBytes.set(p, bytes);
  }
  return 110 + publicKey.length + bytes;
}

/** Of frozen permissions (see frozenPermissions()), which a MemberCache hands to the next compile. */
const permissionBytes = new WeakMap<Permissions, number>();

function subjectBytes(subjects: readonly string[]): number {
  let n = 0;
  for (const s of subjects) n += s.length + 4;
  return n;
}

/** Counts what each namespace has used of its budgets, in the order objects are admitted. */
export class BudgetTracker {
  private readonly used = new Map<string, { members: number; rooms: number; bytes: number; full: Set<keyof NamespaceBudget> }>();
  constructor(private readonly budgets: Budgets | undefined) {}

  /**
   * Admits one object taking `amounts` of the namespace's budgets, if all of them fit; else the
   * refusal's message, and nothing is counted.
   */
  admit(namespace: string, amounts: NamespaceBudget): string | undefined {
    let used = this.used.get(namespace);
    if (!used) this.used.set(namespace, (used = { members: 0, rooms: 0, bytes: 0, full: new Set() }));
    const whats = Object.keys(amounts) as (keyof NamespaceBudget)[];
    const limitOf = (what: keyof NamespaceBudget) => this.budgets?.perNamespace?.[namespace]?.[what] ?? this.budgets?.default?.[what] ?? DEFAULT_BUDGET[what];
    // Once an object did not fit, no newer one does either: the newest wait, whatever their size.
    const over = whats.find((what) => used.full.has(what) || used[what] + amounts[what]! > limitOf(what));
    if (over === undefined) {
      for (const what of whats) used[what] += amounts[what]!;
      return undefined;
    }
    used.full.add(over);
    const unit = over === 'bytes' ? ' bytes of the NATS config' : over === 'members' ? ' accepted Members' : ' accepted Rooms';
    return (
      `namespace ${namespace} is over its budget of ${limitOf(over)}${unit}; the newest objects are left out until older ones are deleted ` +
      `or a cluster admin raises the budget (--namespace-budgets)`
    );
  }
}

export function overBudget(message: string | undefined): Verdict | undefined {
  return message === undefined ? undefined : reject('QuotaExceeded', message);
}
