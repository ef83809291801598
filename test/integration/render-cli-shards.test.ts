// The offline render of a config too large for one file: `--out` writes the main file and every
// shard, nats-server accepts exactly those files with the permissions the compiler meant, and stdout
// never pretends a sharded config is one file.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runRender } from '../../src/cli/render.js';
import { keyWithoutSeed } from '../../src/auth/keys.js';
import { binary } from '../support/binaries.js';
import { NatsPerms, serverAllows } from '../support/natsperms.js';

const dir = mkdtempSync(join(tmpdir(), 'nro-render-shards-'));
const perms = new NatsPerms();
afterAll(() => {
  perms.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Two namespaces, a room each, `n` members per namespace: a publisher and subscribers in turn. */
function world(n: number): string {
  const docs: string[] = [];
  for (const ns of ['alpha', 'beta']) {
    docs.push(`apiVersion: natsrooms.io/v1alpha1\nkind: Room\nmetadata: {name: chat, namespace: ${ns}}\nspec: {}`);
    for (let i = 0; i < n; i++) {
      const access = i % 2 === 0 ? 'Publish' : 'Subscribe';
      docs.push(`apiVersion: natsrooms.io/v1alpha1\nkind: Member\nmetadata: {name: m${i}, namespace: ${ns}}\nspec: {rooms: [{room: chat, access: ${access}}]}`);
    }
  }
  return docs.join('\n---\n');
}

function run(args: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = runRender(args, { write: (s: string) => ((out += s), true) } as never, { write: (s: string) => ((err += s), true) } as never);
  return { code, out, err };
}

/** The key the offline render gives a Member without spec.nkey (see PlaceholderKeys). */
const placeholder = (ns: string, name: string) => keyWithoutSeed(`offline placeholder for ${ns}/${name}`);

describe('render --out of a sharded config', () => {
  const manifests = join(dir, 'world.yaml');
  const out = join(dir, 'out');

  it('refuses to print a sharded config to stdout, and says how to get it', () => {
    writeFileSync(manifests, world(60));
    const r = run(['-f', manifests, '--max-secret-bytes', '4000']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/the config is sharded \(120 members.*Pass --out <dir>/);
  });

  it('writes auth.conf and every users-N.conf and guard-N.conf, lists them on stdout, and nats-server accepts them', async () => {
    const r = run(['-f', manifests, '--max-secret-bytes', '4000', '--auth-shards', '8', '--out', out]);
    expect(r.err).toMatch(/sharded into 8 files/);
    expect(r.code).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toEqual(['auth.conf', ...Array.from({ length: 8 }, (_, i) => [`users-${i + 1}.conf`, `guard-${i + 1}.conf`]).flat()].sort());
    for (const f of files) expect(r.out).toContain(`wrote     ${join(out, f)}`);

    const check = spawnSync(binary('nats-server'), ['-t', '-c', join(out, 'auth.conf')], { encoding: 'utf8' });
    expect(check.stderr + check.stdout).toMatch(/configuration file .*auth\.conf is valid/);
    expect(check.status).toBe(0);

    const parsed = await perms.parse(join(out, 'auth.conf'));
    expect(parsed.error).toBeUndefined();
    const byKey = new Map(parsed.users!.map((u) => [u.nkey, u]));
    for (const ns of ['alpha', 'beta']) {
      for (const i of [0, 1, 58, 59]) {
        const user = byKey.get(placeholder(ns, `m${i}`));
        expect(user, `${ns}/m${i} is in the parsed config`).toBeDefined();
        expect(user!.account).toBe(`ROOMS_${ns}`);
        const publisher = i % 2 === 0;
        expect(serverAllows(user!.publish, `rooms.${ns}.chat`)).toBe(publisher);
        expect(serverAllows(user!.subscribe, `rooms.${ns}.chat`)).toBe(!publisher);
        expect(serverAllows(user!.subscribe, `_INBOX_${ns}_m${i}.x`)).toBe(true);
        expect(serverAllows(user!.subscribe, `_INBOX_${ns}_m${i === 0 ? 1 : 0}.x`)).toBe(false);
      }
    }
    expect(parsed.users!.length).toBe(121); // 120 members and the locked user
  });

  it('leaves exactly the new config in the directory when the next one has fewer shards', () => {
    writeFileSync(manifests, world(2));
    const r = run(['-f', manifests, '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/removed {3}.*users-1\.conf \(not part of this config\)/);
    expect(readdirSync(out)).toEqual(['auth.conf']);
    const check = spawnSync(binary('nats-server'), ['-t', '-c', join(out, 'auth.conf')], { encoding: 'utf8' });
    expect(check.status).toBe(0);
    expect(existsSync(join(out, 'users-1.conf'))).toBe(false);
    expect(existsSync(join(out, 'guard-1.conf'))).toBe(false);
  });

  it('puts every shard into --output json', () => {
    writeFileSync(manifests, world(60));
    const r = run(['-f', manifests, '--max-secret-bytes', '4000', '--auth-shards', '4', '--output', 'json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as { config: string; shards: Record<string, string> };
    expect(Object.keys(json.shards)).toEqual([1, 2, 3, 4].flatMap((i) => [`users-${i}.conf`, `guard-${i}.conf`]));
    for (const name of Object.keys(json.shards)) expect(json.config).toContain(`include "${name}"`);
  });
});
