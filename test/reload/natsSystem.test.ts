// The operator's system connection against a real nats-server: the generation it enforces (its
// marker), the accounts it has, a reload that takes the file as it is on disk, a refusal with the
// server's reason, one connection per server reused and reopened after it dropped.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { render } from '../../src/auth/render.js';
import { compile } from '../../src/auth/compile.js';
import { NatsSystem } from '../../src/reload/natsSystem.js';
import { clusterConfigs, NatsServer, writeAuthFile } from '../support/natsServer.js';
import { member, newUserKey, room } from '../support/objects.js';

const dir = mkdtempSync(join(tmpdir(), 'nro-natssystem-'));
const system = newUserKey();
let server: NatsServer;
let nats: NatsSystem;

/** The rendered config of `members` members of namespace `ns`, with the operator's system user. */
function config(ns: string, members: number) {
  const compiled = compile([room(ns, 'r')], Array.from({ length: members }, (_, i) => member(ns, `m${i}`, { nkey: newUserKey().publicKey, rooms: [{ room: 'r', access: 'Subscribe' }] })));
  return render(compiled.model, { systemUserKey: system.publicKey });
}

beforeAll(async () => {
  const [cfg] = await clusterConfigs(dir, 1);
  writeAuthFile(cfg!.dir, config('alpha', 1).text);
  server = await NatsServer.start(cfg!);
  nats = new NatsSystem(system.seed, 5000);
});

afterAll(async () => {
  await nats.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('NatsSystem', () => {
  it('reads the generation marker and the accounts, and reloads what is on disk', async () => {
    const conn = await nats.server(server.url);
    expect(conn.serverName).toBe('nats-0');
    const first = config('alpha', 1);
    expect(await nats.generation(conn)).toBeDefined();
    expect(await nats.accounts(conn)).toContain('ROOMS_alpha');
    expect(await nats.accounts(conn)).not.toContain('ROOMS_beta');

    const next = config('beta', 2);
    expect(next.hash).not.toBe(first.hash);
    writeAuthFile(server.config.dir, next.text);
    expect(await nats.reload(conn)).toBeUndefined();
    expect(await nats.generation(conn)).toBe(next.hash);
    expect(await nats.accounts(conn)).toContain('ROOMS_beta');
  });

  it("returns the server's reason when it refuses a config, and keeps the one it had", async () => {
    const conn = await nats.server(server.url);
    const before = await nats.generation(conn);
    writeAuthFile(server.config.dir, 'accounts: { this is not a config');
    const refused = await nats.reload(conn);
    expect(refused).toMatch(/.+/);
    expect(await nats.generation(conn)).toBe(before);
    writeAuthFile(server.config.dir, config('alpha', 1).text);
    expect(await nats.reload(conn)).toBeUndefined();
  });

  it('reuses one connection per server, and opens a new one after it dropped', async () => {
    const a = await nats.server(server.url);
    expect(await nats.server(server.url)).toBe(a);
    await a.nc.close();
    const b = await nats.server(server.url);
    expect(b).not.toBe(a);
    expect(await nats.generation(b)).toBeDefined();
  });
});
