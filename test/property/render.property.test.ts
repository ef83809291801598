// For any Rooms and Members, valid or hostile, the rendered config is accepted by nats-server and
// the permissions nats-server would enforce are exactly the ones the compiler intended: no value can
// inject config, widen a grant, or drop a deny. nats-server's own parser (test/tools/natsperms) reads
// every config; a sample also goes through `nats-server -t`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/auth/compile.js';
import type { Compiled, Permissions, SubjectPermission } from '../../src/auth/model.js';
import type { AccountJetStream, AccountModel } from '../../src/auth/accounts.js';
import { STREAM_ADMIN_INBOX, streamAdminPublish } from '../../src/auth/jetstream.js';
import { includedFiles, LOCKED_USER_KEY, render, shardSecretFiles } from '../../src/auth/render.js';
import { parseRendered } from '../../src/auth/parse.js';
import type { Room } from '../../src/api/types.js';
import { binary } from '../support/binaries.js';
import { covers, NatsPerms, serverAllows, type ParsedAccount, type ParsedUser } from '../support/natsperms.js';
import { newUserKey } from '../support/objects.js';
import { worldArb } from '../support/worlds.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 10_000);
const SYSTEM_KEY = newUserKey().publicKey;

/** Literal subjects that probe a permission list: each entry instantiated, and its neighbours. */
function probesFor(perms: Permissions): string[] {
  const lists = [perms.publish.allow, perms.publish.deny, perms.subscribe.allow, perms.subscribe.deny].flat();
  const probes = new Set(['_INBOX.x', '_INBOX_a_m1.x', 'rooms.a.r1', 'rooms.b.r1.z', 'elsewhere.q', '$SYS.REQ.SERVER.PING', 'x']);
  for (const s of lists) {
    probes.add(s.replaceAll('*', 'q').replace(/>$/, 'q.r'));
    probes.add(s.replaceAll('*', 'q').replace(/\.?>$/, ''));
    probes.add(`${s.replaceAll('*', 'q').replace(/\.?>$/, '')}.extra`);
  }
  return [...probes].filter((p) => p.length > 0 && !p.includes('>') && !p.includes('*'));
}

const intended = (p: SubjectPermission, literal: string) => p.allow.some((a) => covers(a, literal)) && !p.deny.some((d) => covers(d, literal));

/**
 * The accounts as nats-server parsed them hold exactly the compiled exports and imports, none invalid,
 * and each connects only a room's home to a namespace the room allows (checked against the world's
 * Rooms directly, not through the compiler).
 */
function checkAccounts(parsed: ParsedAccount[], compiled: Compiled, rooms: Room[]): void {
  const sorted = (links: string[]) => [...links].sort();
  const byName = new Map(parsed.map((a) => [a.name, a]));
  for (const account of compiled.model.accounts) {
    const server = byName.get(account.name);
    expect(server, account.name).toBeDefined();
    expect(sorted(server!.exports.map((e) => `${e.type} ${e.subject} ${sorted(e.accounts ?? []).join(',')}`)), account.name).toEqual(
      sorted(account.exports.map((e) => `${e.kind} ${e.subject} ${e.accounts.join(',')}`)),
    );
    expect(sorted(server!.imports.map((i) => `${i.type} ${i.subject} ${i.account}`)), account.name).toEqual(
      sorted(account.imports.map((i) => `${i.kind} ${i.subject} ${i.account}`)),
    );
    expect(server!.imports.filter((i) => i.invalid), account.name).toEqual([]);
    // JetStream is enabled for an account exactly when an accepted room of its namespace is persisted.
    const persisted = rooms.filter((r) => r.metadata.namespace === account.namespace && compiled.rooms.get(`${account.namespace}/${r.metadata.name}`)!.accepted && r.spec?.jetstream);
    expect(server!.jetstream !== null, `${account.name} jetstream`).toBe(persisted.length > 0);
    if (account.jetstream) expect(server!.jetstream, account.name).toEqual(account.jetstream.limits);
    const ns = (name: string) => name.replace(/^ROOMS_/, '');
    for (const i of server!.imports) {
      const [importer, source] = [ns(account.name), ns(i.account!)];
      // A room of the exporting namespace with that subject, allowing the importing one, offering this kind.
      const room = rooms.find(
        (r) =>
          r.metadata.namespace === source &&
          compiled.rooms.get(`${source}/${r.metadata.name}`)!.accepted &&
          compiled.rooms.get(`${source}/${r.metadata.name}`)!.subject === i.subject &&
          (r.spec?.allowedNamespaces ?? []).includes(importer) &&
          (r.spec?.guestAccess === 'Request' ? 'service' : 'stream') === i.type,
      );
      expect(room, `${account.name} imports ${i.type} ${i.subject} from ${i.account}: no accepted room of ${source} offers that to ${importer}`).toBeDefined();
    }
  }
  expect(new Set(parsed.map((a) => a.name))).toEqual(new Set(['ROOMS', ...compiled.model.accounts.map((a) => a.name), ...(parsed.some((a) => a.name === '$SYS') ? ['$SYS'] : [])]));
}

/** The model as render() writes it: an empty allow list is written as a deny of `>` (any explicit `>` in the deny list folds into it). */
function asRendered(model: Compiled['model']): Compiled['model'] {
  const fold = (p: SubjectPermission): SubjectPermission => (p.allow.length === 0 ? { allow: [], deny: p.deny.filter((s) => s !== '>') } : p);
  return { ...model, users: model.users.map((u) => ({ ...u, permissions: { ...u.permissions, publish: fold(u.permissions.publish), subscribe: fold(u.permissions.subscribe) } })) };
}

/** Every stream any room of the world could name, for probes of who may manage and read it. */
const streamsOf = (compiled: Compiled) => [...new Set([...compiled.rooms.values()].flatMap((r) => (r.stream ? [r.stream] : [])).concat('a_s', 'b_s', 'x', 'a_log'))];

/**
 * The operator's stream user of each account with JetStream manages exactly its namespace's streams
 * and their consumers; no member may create, update or delete a stream or a consumer, and a member
 * reads and acks only the consumers compiled for it.
 */
function checkStreamAdmins(admins: { account: AccountModel; js: AccountJetStream }[], byKey: Map<string, ParsedUser>, compiled: Compiled): void {
  const streams = streamsOf(compiled);
  for (const { account, js } of admins) {
    const server = byKey.get(js.adminKey)!;
    expect(server.account).toBe(account.name);
    expect([...(server.publish?.allow ?? [])].sort()).toEqual([...streamAdminPublish(js.streams)].sort());
    expect(server.subscribe?.allow).toEqual([`${STREAM_ADMIN_INBOX}.>`]);
    for (const s of streams) {
      for (const op of ['STREAM.CREATE', 'STREAM.DELETE', 'STREAM.UPDATE']) expect(serverAllows(server.publish, `$JS.API.${op}.${s}`), `${account.name} ${op} ${s}`).toBe(js.streams.includes(s));
    }
    for (const other of ['$JS.API.STREAM.NAMES', '$JS.API.STREAM.LIST', '$JS.API.ACCOUNT.PURGE.x', 'rooms.a.r1', '_INBOX.x']) expect(serverAllows(server.publish, other), other).toBe(false);
  }
  for (const user of compiled.model.users) {
    const server = byKey.get(user.publicKey)!;
    const result = compiled.members.get(user.member)!;
    const own = new Set(result.rooms.flatMap((r) => (r.granted && r.stream ? (r.consumers ?? []).map((c) => `${r.stream} ${c}`) : [])));
    const ownPush = new Set(result.rooms.flatMap((r) => (r.granted && r.stream ? (r.pushConsumers ?? []).map((c) => `${r.stream} ${c.name}`) : [])));
    for (const s of streams) {
      for (const op of ['STREAM.CREATE', 'STREAM.UPDATE', 'STREAM.DELETE', 'STREAM.PURGE', 'CONSUMER.CREATE', 'CONSUMER.DURABLE.CREATE']) {
        expect(serverAllows(server.publish, `$JS.API.${op}.${s}`), `${user.member} ${op} ${s}`).toBe(false);
        expect(serverAllows(server.publish, `$JS.API.${op}.${s}.m1__h`), `${user.member} ${op} ${s}.m1__h`).toBe(false);
      }
      for (const c of ['m1__h', 'm2__w', 'm_4__h', 'f0__h', 'p0__h', 'p1__w', 'p2__h']) {
        // Its own consumer, unless the member's own deny list says otherwise: pull (next, info, acks) or push (info, acks, flow control).
        const allowed = (subject: string, of: Set<string>) => of.has(`${s} ${c}`) && !user.permissions.publish.deny.some((d) => covers(d, subject));
        const either = new Set([...own, ...ownPush]);
        expect(serverAllows(server.publish, `$JS.API.CONSUMER.MSG.NEXT.${s}.${c}`), `${user.member} next ${s}.${c}`).toBe(allowed(`$JS.API.CONSUMER.MSG.NEXT.${s}.${c}`, own));
        for (const subject of [`$JS.API.CONSUMER.INFO.${s}.${c}`, `$JS.ACK.${s}.${c}.1.1.1.1.0`]) {
          expect(serverAllows(server.publish, subject), `${user.member} ${subject}`).toBe(allowed(subject, either));
        }
        expect(serverAllows(server.publish, `$JS.FC.${s}.${c}.x`), `${user.member} flow control ${s}.${c}`).toBe(allowed(`$JS.FC.${s}.${c}.x`, ownPush));
        expect(serverAllows(server.publish, `$JS.API.CONSUMER.DELETE.${s}.${c}`), `${user.member} delete ${s}.${c}`).toBe(false);
      }
    }
  }
}

let dir: string;
let natsperms: NatsPerms;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nro-property-'));
  natsperms = new NatsPerms();
});
afterAll(() => {
  natsperms?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe(`rendered configs (${RUNS} generated worlds)`, () => {
  it('are valid for nats-server and enforce exactly the compiled permissions', async () => {
    const stats = { worlds: 0, sharded: 0, acceptedMembers: 0, rejectedMembers: 0, rejectedRooms: 0, probes: 0, imports: 0, jetstreamAccounts: 0, withConsumers: 0, withPushConsumers: 0 };
    await fc.assert(
      fc.asyncProperty(worldArb, async ({ rooms, members, withSystemUser, maxFileBytes, shardCount }) => {
        const compiled = compile(rooms, members, { reservedKeys: [SYSTEM_KEY] });
        const rendered = render(compiled.model, { ...(withSystemUser && { systemUserKey: SYSTEM_KEY }), ...(maxFileBytes && { maxFileBytes }), ...(shardCount && { shardCount }) });
        const worldDir = join(dir, `w${stats.worlds++ % 64}`);
        rmSync(worldDir, { recursive: true, force: true });
        mkdirSync(worldDir);
        const path = join(worldDir, 'auth.conf');
        writeFileSync(path, rendered.text);
        for (const [name, text] of Object.entries(includedFiles(rendered))) writeFileSync(join(worldDir, name), text);
        if (rendered.shards.length > 0) stats.sharded++;
        const text = rendered.text;
        // The operator reads its last generation back after a restart: render() must round-trip.
        expect(parseRendered(rendered.text, rendered.shards)).toEqual(asRendered(compiled.model));
        const parsed = await natsperms.parse(path);
        expect(parsed.error, text).toBeUndefined();

        const system = parsed.users!.filter((u) => u.account === '$SYS');
        expect(system.map((u) => u.nkey)).toEqual(withSystemUser ? [SYSTEM_KEY] : []);
        const byKey = new Map<string, ParsedUser>(parsed.users!.filter((u) => u.account !== '$SYS').map((u) => [u.nkey, u]));
        const admins = compiled.model.accounts.flatMap((a) => (a.jetstream ? [{ account: a, js: a.jetstream }] : []));
        expect([...byKey.keys()].sort()).toEqual([LOCKED_USER_KEY, ...compiled.model.users.map((u) => u.publicKey), ...admins.map((a) => a.js.adminKey)].sort());
        checkStreamAdmins(admins, byKey, compiled);
        // Every member in the account of its own namespace; the locked user alone in ROOMS.
        expect(byKey.get(LOCKED_USER_KEY)!.account).toBe('ROOMS');
        for (const user of compiled.model.users) expect(byKey.get(user.publicKey)!.account, user.member).toBe(`ROOMS_${user.member.split('/')[0]}`);
        checkAccounts(parsed.accounts!, compiled, rooms);
        const locked = byKey.get(LOCKED_USER_KEY)!;
        expect(serverAllows(locked.publish, 'anything') || serverAllows(locked.subscribe, 'anything')).toBe(false);

        for (const user of compiled.model.users) {
          const server = byKey.get(user.publicKey)!;
          expect(server.hasPermissions).toBe(true);
          expect(server.responses !== null).toBe(user.permissions.allowResponses);
          for (const probe of probesFor(user.permissions)) {
            stats.probes++;
            expect(serverAllows(server.publish, probe), `publish ${probe} for ${user.member}`).toBe(intended(user.permissions.publish, probe));
            expect(serverAllows(server.subscribe, probe), `subscribe ${probe} for ${user.member}`).toBe(intended(user.permissions.subscribe, probe));
          }
          // Every subject nats-server holds for the user is one the compiler meant (nothing injected).
          expect([...(server.publish?.allow ?? [])].sort()).toEqual(user.permissions.publish.allow);
          expect([...(server.subscribe?.allow ?? [])].sort()).toEqual(user.permissions.subscribe.allow);
        }
        for (const a of compiled.model.accounts) stats.imports += a.imports.length;
        for (const a of compiled.model.accounts) if (a.jetstream) stats.jetstreamAccounts++;
        for (const m of compiled.members.values()) if (m.accepted && m.rooms.some((r) => r.granted && r.consumers)) stats.withConsumers++;
        for (const m of compiled.members.values()) if (m.accepted && m.rooms.some((r) => r.granted && r.pushConsumers)) stats.withPushConsumers++;
        for (const m of compiled.members.values()) m.accepted ? stats.acceptedMembers++ : stats.rejectedMembers++;
        for (const r of compiled.rooms.values()) if (!r.accepted) stats.rejectedRooms++;
      }),
      { numRuns: RUNS, seed: Number(process.env.PROPERTY_SEED ?? 20261122) },
    );
    console.log(`property: ${JSON.stringify(stats)}`);
    // The generator must exercise both sides, or this test could pass without testing anything.
    expect(stats.acceptedMembers).toBeGreaterThan(RUNS);
    expect(stats.rejectedMembers).toBeGreaterThan(RUNS / 4);
    expect(stats.rejectedRooms).toBeGreaterThan(RUNS / 4);
    expect(stats.sharded).toBeGreaterThan(RUNS / 10);
    expect(stats.imports).toBeGreaterThan(RUNS / 20);
    expect(stats.jetstreamAccounts).toBeGreaterThan(RUNS / 5);
    expect(stats.withConsumers).toBeGreaterThan(RUNS / 10);
    expect(stats.withPushConsumers).toBeGreaterThan(RUNS / 10);
  }, 600_000);

  it('never parse as a mix of two generations: kubelet delivering between Secret writes cannot bind one generation\'s users under another\'s main file', async () => {
    const options = { maxFileBytes: 700, shardCount: 3 };
    const stats = { pairs: 0, mixes: 0, refused: 0, sameAsMain: 0 };
    await fc.assert(
      fc.asyncProperty(worldArb, worldArb, fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }), async (a, b, fromA) => {
        const [ra, rb] = [a, b].map((w) => render(compile(w.rooms, w.members).model, options));
        if (ra!.shards.length === 0 || rb!.shards.length === 0) return;
        stats.pairs++;
        // B's main file with each shard Secret (its users and its guard) from A or B, as kubelet could
        // show them between two writes.
        const shards = rb!.shards.map((_, i) => shardSecretFiles(fromA[i] && ra!.shards[i] !== undefined ? ra! : rb!, i + 1));
        const worldDir = join(dir, `mix${stats.pairs % 64}`);
        rmSync(worldDir, { recursive: true, force: true });
        mkdirSync(worldDir);
        writeFileSync(join(worldDir, 'auth.conf'), rb!.text);
        for (const files of shards) for (const [name, text] of Object.entries(files)) writeFileSync(join(worldDir, name), text);
        const parsed = await natsperms.parse(join(worldDir, 'auth.conf'));
        const mixed = shards.some((files, i) => !sameFiles(files, shardSecretFiles(rb!, i + 1)));
        if (mixed) stats.mixes++;
        if (parsed.error) stats.refused++;
        else stats.sameAsMain++;
        // It parses only when every file is the main file's own generation.
        expect(parsed.error === undefined, parsed.error).toBe(!mixed);
        // And a mix is refused in the main file's head, before any shard is read: the refusal costs the
        // server moments, not a parse of every shard.
        if (mixed) {
          const head = rb!.text.split('\n').findIndex((line) => line.startsWith('LOCKED_PUBLISH_DENY = ')) + 1;
          expect(parsed.error).toMatch(new RegExp(`^variable reference for 'S\\d+_[0-9a-f]+' on line ${head} `));
        }
      }),
      { numRuns: 1500, seed: 11 },
    );
    console.log(`mixes: ${JSON.stringify(stats)}`);
    expect(stats.mixes).toBeGreaterThan(150);
    expect(stats.sameAsMain).toBeGreaterThan(20);
  }, 300_000);

  it('pass `nats-server -t` (a sample, one process each)', () => {
    const server = binary('nats-server');
    const worlds = fc.sample(worldArb, { numRuns: 100, seed: 7 });
    let withUsers = 0;
    worlds.forEach(({ rooms, members, withSystemUser }, i) => {
      const compiled = compile(rooms, members);
      if (compiled.model.users.length > 0) withUsers++;
      const path = join(dir, `t${i}.conf`);
      writeFileSync(path, render(compiled.model, withSystemUser ? { systemUserKey: SYSTEM_KEY } : {}).text);
      const run = spawnSync(server, ['-t', '-c', path], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout + run.stderr).toContain('is valid');
    });
    expect(withUsers).toBeGreaterThan(50);
  }, 120_000);
});

const sameFiles = (a: Record<string, string>, b: Record<string, string>) => JSON.stringify(a) === JSON.stringify(b);
