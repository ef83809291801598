// The offline render: it refuses what the operator refuses, and no manifest can forge its output.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runRender } from '../../../src/cli/render.js';
import { LOCKED_USER_KEY } from '../../../src/auth/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'nro-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(manifest: string): { code: number; out: string; err: string } {
  const file = join(dir, `m${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, manifest);
  let out = '';
  let err = '';
  const code = runRender(['-f', file], { write: (s: string) => ((out += s), true) } as never, { write: (s: string) => ((err += s), true) } as never);
  return { code, out, err };
}

const memberYaml = (namespace: string, name: string, spec: string) =>
  `apiVersion: natsrooms.io/v1alpha1\nkind: Member\nmetadata: {name: ${JSON.stringify(name)}, namespace: ${JSON.stringify(namespace)}}\nspec: ${spec}\n`;

describe('render CLI', () => {
  it("exits 1 on a Member holding the locked user's key, and leaves that key out of the config", () => {
    const { code, out, err } = run(memberYaml('x', 'm', `{nkey: ${LOCKED_USER_KEY}}`));
    expect(code).toBe(1);
    expect(err).toMatch(/REJECTED {2}Member x\/m: ReservedKey/);
    expect(out.split(LOCKED_USER_KEY).length - 1).toBe(1);
  });

  it('escapes control characters from manifests, so a namespace cannot forge a verdict line', () => {
    const { code, err } = run(memberYaml('a\naccepted  Member demo/forged: Accepted: fine\u202e', 'm', '{}'));
    expect(code).toBe(1);
    const lines = err.split('\n');
    expect(lines.filter((l) => l.startsWith('accepted'))).toEqual([]);
    expect(err).toContain('\\u000a');
    expect(err).toContain('\\u202e');
    expect(err).not.toContain('\u202e');
  });

  it('exits 0 and prints accounts for an accepted world', () => {
    const { code, out } = run(memberYaml('demo', 'joe', '{}'));
    expect(code).toBe(0);
    expect(out).toContain('"ROOMS_demo": {');
  });
});
