// Subject relations the compiler needs. Roots are literal subjects (no wildcards).
import { flat } from '../strings.js';

/** True when every subject `subject` can match lies at or below `root`. */
export function isWithinRoot(subject: string, root: string): boolean {
  return subject === root || subject.startsWith(`${root}.`);
}

/** True for a subject without wildcards. */
export function isLiteral(subject: string): boolean {
  return !subject.split('.').some((t) => t === '*' || t === '>');
}

/** Sorted, without duplicates: the canonical form of a subject list. */
export function canonical(subjects: Iterable<string>): string[] {
  const sorted = [...subjects];
  // compile() canonicalises four lists for every member, mostly of a few subjects. For those, an
  // insertion sort saves Array.prototype.sort's setup, which allocates more than the list itself.
  // Both order strings by UTF-16 code units.
  if (sorted.length > SMALL_LIST) sorted.sort();
  else insertionSort(sorted);
  // Sorted, repeats are neighbours: drop them in place.
  let n = 0;
  for (let i = 0; i < sorted.length; i++) if (n === 0 || sorted[i] !== sorted[n - 1]) sorted[n++] = flat(sorted[i]!);
  if (n < sorted.length) sorted.length = n;
  return sorted;
}

const SMALL_LIST = 16;

function insertionSort(items: string[]): void {
  for (let i = 1; i < items.length; i++) {
    const item = items[i]!;
    let j = i - 1;
    for (; j >= 0 && items[j]! > item; j--) items[j + 1] = items[j]!;
    items[j + 1] = item;
  }
}

/** True when some subject matches both patterns (`*` is one token, `>` one or more). */
export function intersects(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; ; i++) {
    if (i === x.length || i === y.length) return x.length === y.length;
    if (x[i] === '>' || y[i] === '>') return true;
    if (x[i] !== '*' && y[i] !== '*' && x[i] !== y[i]) return false;
  }
}

/** True when every subject `inner` matches is matched by `outer`. */
export function covers(outer: string, inner: string): boolean {
  const o = outer.split('.');
  const n = inner.split('.');
  for (let i = 0; i < o.length; i++) {
    if (o[i] === '>') return i < n.length;
    if (i === n.length) return false;
    if (n[i] === '>') return false;
    if (o[i] !== '*' && o[i] !== n[i]) return false;
    if (o[i] === '*' && n[i] === '>') return false;
  }
  return o.length === n.length;
}
