// Subject relations the compiler needs. Roots are literal subjects (no wildcards).

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
  return [...new Set(subjects)].sort();
}
