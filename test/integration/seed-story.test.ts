// The acceptance story (seed 000) against a real nats-server and real nats.js clients: the config is
// compiled from examples/private-inbox, and permissions change on live connections after a reload.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../../src/auth/compile.js';
import { render } from '../../src/auth/render.js';
import type { Member, Room } from '../../src/api/types.js';
import { loadManifests } from '../../src/cli/load.js';
import { Client } from '../support/natsClient.js';
import { clusterConfigs, NatsServer, writeAuthFile } from '../support/natsServer.js';
import { waitFor } from '../support/processes.js';
import { member, newUserKey, room } from '../support/objects.js';

const example = loadManifests([join(import.meta.dirname, '../../examples/private-inbox')], 'default');
const keys = Object.fromEntries(['greeter', 'joe', 'pam', 'announcer'].map((n) => [n, newUserKey()]));
const generatedKeys = new Map(Object.entries(keys).map(([n, k]) => [`demo/${n}`, k.publicKey]));
const inbox = (name: string) => `_INBOX_demo_${name}`;

let dir: string;
let server: NatsServer;
const clients: Client[] = [];

async function client(name: string): Promise<Client> {
  const c = await Client.connect(server.url, keys[name]!.seed, inbox(name));
  clients.push(c);
  return c;
}

/** Compiles, renders and installs a config, then reloads the running server. */
async function apply(rooms: Room[], members: Member[]): Promise<void> {
  const compiled = compile(rooms, members, { generatedKeys });
  for (const [key, verdict] of [...compiled.rooms, ...compiled.members]) expect(verdict.accepted, `${key}: ${verdict.message}`).toBe(true);
  writeAuthFile(dir, render(compiled.model).text);
  if (server) await server.reloadBySignal();
}

beforeAll(async () => {
  expect(example.problems).toEqual([]);
  expect(example.members.map((m) => m.metadata.name).sort()).toEqual(['greeter', 'joe', 'pam']);
  dir = mkdtempSync(join(tmpdir(), 'nro-seed-'));
  await apply(example.rooms, example.members);
  const [config] = await clusterConfigs(dir, 1);
  server = await NatsServer.start({ ...config!, dir });
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('seed 000: private inboxes', () => {
  let greeter: Client;
  let joe: Client;
  let pam: Client;

  beforeAll(async () => {
    greeter = await client('greeter');
    greeter.nc.subscribe('rooms.demo.greet', {
      queue: 'greeters',
      callback: (_err, msg) => msg.respond(new TextEncoder().encode(`hello ${new TextDecoder().decode(msg.data)}`)),
    });
    await greeter.nc.flush();
    joe = await client('joe');
    pam = await client('pam');
  });

  it('joe and pam get replies from greeter on their private inboxes', async () => {
    const forJoe = await joe.nc.request('rooms.demo.greet', new TextEncoder().encode('joe'), { timeout: 2000 });
    expect(new TextDecoder().decode(forJoe.data)).toBe('hello joe');
    expect(forJoe.subject.startsWith(`${inbox('joe')}.`)).toBe(true);
    const forPam = await pam.nc.request('rooms.demo.greet', new TextEncoder().encode('pam'), { timeout: 2000 });
    expect(new TextDecoder().decode(forPam.data)).toBe('hello pam');
  });

  it('pam may subscribe neither to _INBOX.> nor to joe inbox, and never sees joe replies', async () => {
    const shared = pam.subscribe('_INBOX.>');
    const joes = pam.subscribe(`${inbox('joe')}.>`);
    await pam.permissionError('subscription', '_INBOX.>');
    await pam.permissionError('subscription', `${inbox('joe')}.>`);
    await joe.nc.request('rooms.demo.greet', new TextEncoder().encode('secret'), { timeout: 2000 });
    await pam.nc.flush();
    expect(shared.msgs.length + joes.msgs.length).toBe(0);
    expect(shared.error()?.message).toMatch(/Permissions Violation/);
  });

  it('a requester needs its inbox prefix: the shared _INBOX is refused', async () => {
    const plain = await Client.connect(server.url, keys.joe!.seed, '_INBOX');
    clients.push(plain);
    await expect(plain.nc.request('rooms.demo.greet', new Uint8Array(), { timeout: 1000 })).rejects.toThrow(/Permissions Violation|TIMEOUT/i);
  });

  it('publishing outside one room is denied, inside is not', async () => {
    pam.nc.publish('rooms.demo.elsewhere');
    joe.nc.publish('rooms.demo.greet');
    await pam.permissionError('publish', 'rooms.demo.elsewhere');
    await joe.nc.flush();
    expect(joe.hasPermissionError('publish', 'rooms.demo.greet')).toBe(false);
  });
});

describe('after a config change and a reload, live connections follow', () => {
  const news = room('demo', 'news');
  const greet = example.rooms.find((r) => r.metadata.name === 'greet')!;
  const [greeterSpec, joeSpec] = ['greeter', 'joe'].map((n) => example.members.find((m) => m.metadata.name === n)!);
  const announcer = member('demo', 'announcer', { rooms: [{ room: 'news', access: 'Publish' }] });
  const withRooms = (m: Member, rooms: NonNullable<Member['spec']>['rooms']): Member => ({ ...m, spec: { ...m.spec, rooms } });

  it('gains a room, loses a room, and a removed member is disconnected', async () => {
    const joe = await client('joe');
    const pam = await client('pam');
    const greeter = await client('greeter');
    const early = joe.subscribe('rooms.demo.news');
    greeter.nc.publish('rooms.demo.news');
    await joe.permissionError('subscription', 'rooms.demo.news');
    await greeter.permissionError('publish', 'rooms.demo.news');
    expect(early.msgs).toEqual([]);

    // Change 1: joe joins news, greeter may announce there, pam is deleted.
    await apply(
      [greet, news],
      [
        withRooms(greeterSpec!, [...greeterSpec!.spec!.rooms!, { room: 'news', access: 'Publish' }]),
        withRooms(joeSpec!, [...joeSpec!.spec!.rooms!, { room: 'news', access: 'Subscribe' }]),
        announcer,
      ],
    );
    const live = joe.subscribe('rooms.demo.news');
    await joe.nc.flush();
    greeter.nc.publish('rooms.demo.news', new TextEncoder().encode('first'));
    await waitFor('joe to receive the news on the same connection', () => (live.msgs.length === 1 ? true : undefined), 5000);
    expect(greeter.events.permissionErrors.filter((e) => e.subject === 'rooms.demo.news')).toHaveLength(1);

    await waitFor('pam to be disconnected', () => (pam.events.disconnects > 0 || pam.nc.isClosed() ? true : undefined), 5000);
    await expect(Client.connect(server.url, keys.pam!.seed, inbox('pam'), { reconnect: false })).rejects.toThrow(/Authorization Violation/i);

    // Change 2: joe leaves news; his live subscription is closed by the server.
    await apply([greet, news], [withRooms(greeterSpec!, [...greeterSpec!.spec!.rooms!, { room: 'news', access: 'Publish' }]), joeSpec!, announcer]);
    await joe.permissionError('subscription', 'rooms.demo.news');
    greeter.nc.publish('rooms.demo.news', new TextEncoder().encode('second'));
    await greeter.nc.flush();
    await joe.nc.flush();
    expect(live.msgs.map((m) => new TextDecoder().decode(m.data))).toEqual(['first']);

    // Neither joe nor greeter reconnected: the same connections carried every change.
    expect(joe.events).toMatchObject({ disconnects: 0, reconnects: 0 });
    expect(greeter.events).toMatchObject({ disconnects: 0, reconnects: 0 });
    const reply = await joe.nc.request('rooms.demo.greet', new TextEncoder().encode('still here'), { timeout: 2000 }).catch(() => undefined);
    expect(reply).toBeDefined();
  });
});
