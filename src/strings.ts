// Strings the operator keeps for as long as a member exists (its line in the config, its fingerprint,
// its subjects) are built by concatenation, which V8 keeps as a rope: a node per piece, all kept alive.
// A 200-character user line held about 1 KB that way (a heap snapshot at 10,000 members: 11 MB of
// ropes for 10,000 lines). Reading one character makes V8 copy the rope into one flat string, and the
// next garbage collection drops the pieces.

/** The same string, flattened (see above); cheap for a string that is already flat. */
export function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}
