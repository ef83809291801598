import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { flat } from '../../src/strings.js';

const stringsModule = fileURLToPath(new URL('../../src/strings.ts', import.meta.url));

// Lines built as render builds a user's line, kept, then flattened. Memory is measured in a fresh
// process with --expose-gc, where nothing else allocates.
const script = [
  `import { flat } from ${JSON.stringify(stringsModule)};`,
  'const quote = (s) => JSON.stringify(s);',
  'const list = (subjects) => "[" + subjects.map(quote).join(", ") + "]";',
  'const line = (i) => "{nkey: " + quote("U" + i) + ", permissions: {publish: {allow: " + list(["rooms.ns.r" + i]) + "}, subscribe: {allow: " + list(["_INBOX_ns_m" + i + ".>", "rooms.ns.r" + i]) + "}}}";',
  'const lines = Array.from({ length: 20000 }, (_, i) => line(i));',
  'gc(); const ropes = process.memoryUsage().heapUsed;',
  'for (const l of lines) flat(l);',
  'gc(); gc(); const flats = process.memoryUsage().heapUsed;',
  'console.log(JSON.stringify({ ropes, flats, same: lines.every((l, i) => l === line(i)) }));',
].join('\n');

describe('flat', () => {
  it('gives the same string back', () => {
    const rope = ['a', 'b', 'c'].reduce((s, p) => s + p.repeat(20), '');
    expect(flat(rope)).toBe('a'.repeat(20) + 'b'.repeat(20) + 'c'.repeat(20));
    expect(flat('')).toBe('');
  });

  it('lets the pieces of a kept rope be collected', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const { ropes, flats, same } = JSON.parse(out.trim().split('\n').pop()!);
    expect(same).toBe(true);
    // 20,000 lines of ~120 characters: about 2.5 MB flat, several times that as ropes.
    expect(ropes - flats).toBeGreaterThan(3 * 1024 * 1024);
  });
});
