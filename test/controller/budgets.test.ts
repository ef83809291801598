// No namespace can delay another's changes (issue 10), live: the operator against the real API server,
// three real nats-servers, and real nats.js clients on every server. While one namespace attacks the
// config (past its budget, or with an object nats-server would refuse), and while the config is too
// large for its Secrets, another namespace's revocation is enforced on all three servers: its live
// subscription is closed with a permissions error. Each test prints how long that took.
//
// What each test pins, and how it fails if its protection is removed:
// - budgets: without the BudgetTracker every attacker object is Accepted (the QuotaExceeded checks
//   fail), and the attacker's huge members outgrow --max-secret-bytes with --auth-shards=0, so the
//   rollout is Degraded (the degraded-metric check during the attack fails).
// - refused objects: without the ReservedKey / DuplicateNkey checks, the locked user's key (or an
//   older member's key) is written twice; nats-server refuses the whole config, no server reloads,
//   and the victim's revocation is not enforced within the bound (and the verdict checks fail).
// - pressure: without withoutAdditions() in reconcile(), a config too large for its Secret is not
//   written at all ("the previous config stays in force"), so X's revocation never reaches a server
//   and X's live subscription is never closed.
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Member, MemberSpec } from '../../src/api/types.js';
import { LOCKED_USER_KEY } from '../../src/auth/keys.js';
import { paths } from '../../src/kube/paths.js';
import { attachControlPlane } from '../platform/controlPlane.js';
import { TestKube } from '../support/kube.js';
import { Client } from '../support/natsClient.js';
import { member, newUserKey, room } from '../support/objects.js';
import { metric, useOperatorAndNats, type OperatorAndNats } from '../support/operator.js';
import { waitFor } from '../support/processes.js';

const cp = attachControlPlane(inject('controlPlane'));
const kube = new TestKube(cp.kubeConfig);
const SECRET = 'nats-rooms-auth';
/** How long another namespace's revocation may take to reach every server (generous: 2 shared cores). */
const REVOCATION_BOUND_MS = 20_000;
const measured: string[] = [];

afterAll(() => {
  if (measured.length > 0) process.stdout.write(`\nrevocation times (patch to enforced on all 3 servers):\n${measured.map((m) => `  ${m}\n`).join('')}`);
});

/** 64 distinct deny subjects of about `length` characters below `root`: the largest list the schema admits. */
const longSubjects = (root: string, tag: string, length: number) =>
  Array.from({ length: 64 }, (_, i) => `${root}.${tag}${i}.${'x'.repeat(Math.max(1, length - root.length - tag.length - 6))}`);

const hugeDeny = (root: string, length: number): MemberSpec['deny'] => ({ publish: longSubjects(root, 'p', length), subscribe: longSubjects(root, 's', length) });

/** A subscription on every connection, proven live: a message published on `subject` arrives on each. */
async function liveSubscriptions(conns: Client[], subject: string) {
  const subs = conns.map((c) => c.subscribe(subject));
  await Promise.all(conns.map((c) => c.nc.flush()));
  // Subscriptions propagate between the clustered servers asynchronously: publish until every one has seen one.
  await waitFor(`a message on ${subject} on every server`, async () => {
    for (const c of conns) c.nc.publish(subject, new TextEncoder().encode('control'));
    await Promise.all(conns.map((c) => c.nc.flush()));
    return subs.every((s) => s.msgs.length > 0) ? true : undefined;
  }, 15_000, 200);
  expect(subs.map((s) => s.error())).toEqual([undefined, undefined, undefined]);
  return subs;
}

/**
 * Applies `change` and measures, per server, the time until that server closed the live subscription
 * on `subject` with a permissions error. Fails naming the servers that did not within the bound.
 */
async function revocationEnforced(label: string, conns: Client[], subject: string, change: () => Promise<unknown>): Promise<number> {
  const before = conns.map((c) => c.events.permissionErrors.filter((e) => e.operation === 'subscription' && e.subject === subject).length);
  const at: (number | undefined)[] = conns.map(() => undefined);
  const t0 = Date.now();
  await change();
  while (at.some((t) => t === undefined) && Date.now() - t0 < REVOCATION_BOUND_MS) {
    conns.forEach((c, s) => {
      if (at[s] === undefined && c.events.permissionErrors.filter((e) => e.operation === 'subscription' && e.subject === subject).length > before[s]!) at[s] = Date.now() - t0;
    });
    await new Promise((r) => setTimeout(r, 20));
  }
  const perServer = at.map((t) => (t === undefined ? '-' : `${t} ms`)).join(', ');
  const missing = at.flatMap((t, s) => (t === undefined ? [s] : []));
  const total = Math.max(...at.map((t) => t ?? Infinity));
  measured.push(`${label}: ${missing.length === 0 ? `${total} ms` : 'NOT enforced'} (per server: ${perServer})`);
  process.stdout.write(`revocation ${label}: ${missing.length === 0 ? `enforced on all 3 servers in ${total} ms` : 'NOT enforced'} (per server: ${perServer})\n`);
  if (missing.length > 0) throw new Error(`${label}: the revocation of ${subject} was not enforced on server(s) ${missing.join(', ')} within ${REVOCATION_BOUND_MS} ms (per server: ${perServer})`);
  return total;
}

/** Every Member of the namespaces is Ready=True for its current generation. */
const allReady = (namespaces: string[], timeoutMs = 60_000) =>
  waitFor(`every Member of ${namespaces.join(', ')} Ready`, async () => {
    const list = await kube.list<Member>('members', namespaces);
    return list.every((m) => m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True' && c.observedGeneration === m.metadata.generation)) ? list : undefined;
  }, timeoutMs, 100);

/** The Accepted condition of a Member's current generation. */
const accepted = (kind: 'rooms' | 'members', ns: string, name: string) =>
  waitFor(`${kind} ${ns}/${name} to have an Accepted condition`, async () => {
    const o = kind === 'rooms' ? await kube.room(ns, name) : await kube.member(ns, name);
    const c = o?.status?.conditions?.find((x) => x.type === 'Accepted' && x.observedGeneration === o.metadata.generation);
    return c;
  }, 30_000, 100);

/** Publishes from every connection of `conns` on `subject` and waits for each subscription to get its own server's message. */
async function stillDelivers(conns: Client[], subs: { msgs: { data: Uint8Array }[] }[], subject: string, tag: string): Promise<void> {
  const markers = conns.map((_, s) => `${tag}-s${s}-${Date.now()}`);
  await waitFor(`${subject} still delivered on every server (${tag})`, async () => {
    conns.forEach((c, s) => c.nc.publish(subject, new TextEncoder().encode(markers[s])));
    await Promise.all(conns.map((c) => c.nc.flush()));
    return subs.every((sub, s) => sub.msgs.some((m) => new TextDecoder().decode(m.data) === markers[s])) ? true : undefined;
  }, 15_000, 300);
}

// ---- budgets and refused objects ---------------------------------------------------------------------

describe('while another namespace attacks the config', () => {
  const ATTACKER = 'bud-attacker';
  const ROGUE = 'bud-rogue';
  const VICTIM = 'bud-victim';
  const NATS = 'bud-nats';
  const LOBBY = `rooms.${VICTIM}.lobby`;
  // The attacker may have 5 Members, 3 Rooms and 20,000 bytes of entries; one huge member takes ~16,000.
  // With --auth-shards=0 the whole config must fit 40,000 bytes: it does with the attacker within its
  // budget, and would not with all of the attacker's members (5 huge ones alone are ~80,000 bytes).
  const suite: OperatorAndNats = useOperatorAndNats({
    kubeConfig: cp.kubeConfig,
    natsNamespace: NATS,
    natsRelease: 'bud',
    watchNamespaces: [ATTACKER, ROGUE, VICTIM],
    args: [`--namespace-budgets=${ATTACKER}=5/3/20000`, '--auth-shards=0', '--max-secret-bytes=40000'],
    kubeletDelayMs: 60_000,
  });
  const vx = newUserKey();
  const vy = newUserKey();
  const vxSpec = (rooms: MemberSpec['rooms']) => member(VICTIM, 'vx', { nkey: vx.publicKey, rooms });
  let vxConns: Client[];
  let vyConns: Client[];
  let vySubs: Awaited<ReturnType<typeof liveSubscriptions>>;

  it('budget attack: the newest objects past the budget are QuotaExceeded, and the victim revocation is enforced on every server meanwhile', { timeout: 120_000 }, async () => {
    await kube.apply(room(VICTIM, 'lobby'));
    await kube.apply(vxSpec([{ room: 'lobby', access: 'PublishSubscribe' }]));
    await kube.apply(member(VICTIM, 'vy', { nkey: vy.publicKey, rooms: [{ room: 'lobby', access: 'PublishSubscribe' }] }));
    await allReady([VICTIM]);
    vxConns = await suite.connectEverywhere(vx.seed, `_INBOX_${VICTIM}_vx`);
    vyConns = await suite.connectEverywhere(vy.seed, `_INBOX_${VICTIM}_vy`);
    await liveSubscriptions(vxConns, LOBBY);
    vySubs = await liveSubscriptions(vyConns, LOBBY);

    // The attack, oldest first (names sort as they are created, so same-second creation times agree):
    // 5 Rooms for a budget of 3; 3 small Members, then 5 huge ones (64 + 64 deny entries of ~120 characters).
    const root = `rooms.${ATTACKER}`;
    const attackerKeys = Array.from({ length: 8 }, () => newUserKey().publicKey);
    const attack = async () => {
      for (let i = 0; i < 5; i++) await kube.apply(room(ATTACKER, `r${i}`));
      const refs = [0, 1, 2, 3, 4].map((i) => ({ room: `r${i}`, access: 'PublishSubscribe' as const }));
      for (let i = 0; i < 3; i++) await kube.apply(member(ATTACKER, `m${i}`, { nkey: attackerKeys[i], rooms: refs }));
      for (let i = 3; i < 8; i++) await kube.apply(member(ATTACKER, `m${i}`, { nkey: attackerKeys[i], rooms: refs, deny: hugeDeny(root, 120) }));
    };
    // The victim's revocation lands in the middle of the attack.
    const attacking = attack();
    await revocationEnforced('during a budget attack', vxConns, LOBBY, async () => {
      await new Promise((r) => setTimeout(r, 150));
      await kube.apply(vxSpec([]));
    });
    await attacking;

    // Rooms: the two newest are past the budget of 3.
    for (const i of [0, 1, 2]) expect(await accepted('rooms', ATTACKER, `r${i}`)).toMatchObject({ status: 'True' });
    for (const i of [3, 4]) {
      const c = await accepted('rooms', ATTACKER, `r${i}`);
      expect(c).toMatchObject({ status: 'False', reason: 'QuotaExceeded' });
      expect(c!.message).toContain(`namespace ${ATTACKER} is over its budget of 3 accepted Rooms`);
    }
    // Members: m0..m3 fit (m3 is the one huge member the 20,000 bytes hold); m4 is past the bytes, and
    // the newer ones wait too, whatever their size.
    for (const i of [0, 1, 2, 3]) expect(await accepted('members', ATTACKER, `m${i}`)).toMatchObject({ status: 'True' });
    const m4 = await accepted('members', ATTACKER, 'm4');
    expect(m4).toMatchObject({ status: 'False', reason: 'QuotaExceeded' });
    expect(m4!.message).toContain('over its budget of 20000 bytes of the NATS config');
    for (const i of [5, 6, 7]) {
      const c = await accepted('members', ATTACKER, `m${i}`);
      expect(c).toMatchObject({ status: 'False', reason: 'QuotaExceeded' });
      expect(c!.message).toMatch(new RegExp(`namespace ${ATTACKER} is over its budget of (5 accepted Members|20000 bytes)`));
    }
    // The budget, not the pressure path, kept the config within its Secret: nothing is degraded.
    expect(await metric(suite.operator, 'nats_rooms_rollout_degraded')).toBe(0);
    const text = (await kube.secretText(NATS, SECRET))!;
    expect(text.length).toBeLessThanOrEqual(40_000);
    for (let i = 0; i < 8; i++) expect(text.includes(attackerKeys[i]!), `attacker m${i} in the config`).toBe(i < 4);
    expect(text).not.toContain(`${root}.r3`);
    // The victim's other member is untouched: Ready, and its live subscription still delivers everywhere.
    await kube.waitCondition('members', VICTIM, 'vy', 'Ready', 'True');
    await stillDelivers(vyConns, vySubs, LOBBY, 'after-attack');
    expect(vyConns.flatMap((c) => c.events.permissionErrors)).toEqual([]);
    await kube.waitCondition('members', VICTIM, 'vx', 'Ready', 'True');
  });

  it('refused objects (the locked user key, an older member key): the victim revocation is enforced on every server', { timeout: 120_000 }, async () => {
    // vx back in the lobby, with live subscriptions again.
    await kube.apply(vxSpec([{ room: 'lobby', access: 'PublishSubscribe' }]));
    await allReady([VICTIM]);
    await liveSubscriptions(vxConns, LOBBY);

    // In a namespace with the default budget, so it is the key checks (not a budget) that refuse them.
    await kube.apply(member(ROGUE, 'locked', { nkey: LOCKED_USER_KEY, rooms: [] }));
    await kube.apply(member(ROGUE, 'copycat', { nkey: vy.publicKey, rooms: [] }));
    await revocationEnforced('after refused objects (locked user key, duplicate key)', vxConns, LOBBY, () => kube.apply(vxSpec([])));

    const locked = await accepted('members', ROGUE, 'locked');
    expect(locked).toMatchObject({ status: 'False', reason: 'ReservedKey' });
    const copycat = await accepted('members', ROGUE, 'copycat');
    expect(copycat).toMatchObject({ status: 'False', reason: 'DuplicateNkey' });
    expect(copycat!.message).toContain(`${VICTIM}/vy`);
    // Each key is in the config once: the locked user's own entry, and vy's.
    const text = (await kube.secretText(NATS, SECRET))!;
    expect(text.split(LOCKED_USER_KEY).length - 1).toBe(1);
    expect(text.split(vy.publicKey).length - 1).toBe(1);
    expect(await metric(suite.operator, 'nats_rooms_rollout_degraded')).toBe(0);
    await kube.waitCondition('members', VICTIM, 'vy', 'Ready', 'True');
    await stillDelivers(vyConns, vySubs, LOBBY, 'after-refused');
    expect(vyConns.flatMap((c) => c.events.permissionErrors)).toEqual([]);
  });
});

// ---- pressure: too large even within the budgets -------------------------------------------------------

describe('when the config would outgrow its Secret', () => {
  const NS = 'press-a';
  const NATS = 'press-nats';
  const ROOM_B = `rooms.${NS}.b`;
  // One Secret of 16,000 bytes and no shards; default (generous) budgets. A few small members fit; one
  // member with 64 + 64 deny entries of ~240 characters (~32,000 bytes) does not. The longer debounce
  // makes the two changes below one reconcile.
  const suite: OperatorAndNats = useOperatorAndNats({
    kubeConfig: cp.kubeConfig,
    natsNamespace: NATS,
    natsRelease: 'press',
    watchNamespaces: [NS],
    args: ['--auth-shards=0', '--max-secret-bytes=16000', '--debounce-ms=400', '--max-delay-ms=2000'],
    kubeletDelayMs: 60_000,
  });
  const x = newUserKey();
  const w = newUserKey();
  const y = newUserKey();

  it('applies the removal, holds the addition, and says so (condition, metric, Event); recovers when the addition goes', { timeout: 150_000 }, async () => {
    await kube.apply(room(NS, 'a'));
    await kube.apply(room(NS, 'b'));
    await kube.apply(member(NS, 'x', { nkey: x.publicKey, rooms: [{ room: 'a', access: 'PublishSubscribe' }, { room: 'b', access: 'PublishSubscribe' }] }));
    await kube.apply(member(NS, 'w', { nkey: w.publicKey, rooms: [{ room: 'a', access: 'PublishSubscribe' }, { room: 'b', access: 'PublishSubscribe' }] }));
    await allReady([NS]);
    expect(await metric(suite.operator, 'nats_rooms_rollout_degraded')).toBe(0);
    const xConns = await suite.connectEverywhere(x.seed, `_INBOX_${NS}_x`);
    const wConns = await suite.connectEverywhere(w.seed, `_INBOX_${NS}_w`);
    await liveSubscriptions(xConns, ROOM_B);
    const wSubs = await liveSubscriptions(wConns, ROOM_B);

    // One change: X loses room b, and big Y arrives. The whole config would be ~40,000 bytes.
    const yMember = member(NS, 'y', { nkey: y.publicKey, rooms: [{ room: 'a', access: 'PublishSubscribe' }], deny: hugeDeny(`rooms.${NS}`, 240) });
    await revocationEnforced('under pressure (config too large: removal applied, addition held)', xConns, ROOM_B, () =>
      Promise.all([
        kube.apply(member(NS, 'x', { nkey: x.publicKey, rooms: [{ room: 'a', access: 'PublishSubscribe' }] })),
        kube.apply(yMember),
      ]),
    );

    // The Secret holds X's revocation and not Y.
    const text = (await kube.secretText(NATS, SECRET))!;
    expect(text.length).toBeLessThanOrEqual(16_000);
    expect(text).not.toContain(y.publicKey);
    const lineOf = (key: string) => text.split('\n').find((l) => l.includes(key));
    expect(lineOf(x.publicKey)).toContain(`"rooms.${NS}.a"`);
    expect(lineOf(x.publicKey)).not.toContain(`"${ROOM_B}"`);
    expect(lineOf(w.publicKey)).toContain(`"${ROOM_B}"`);

    // Y is accepted but waits: Ready=False, RolloutDegraded, saying additions wait; and it cannot connect.
    expect(await accepted('members', NS, 'y')).toMatchObject({ status: 'True' });
    const yNow = await kube.waitCondition('members', NS, 'y', 'Ready', 'False');
    const yReady = (yNow as unknown as Member).status!.conditions!.find((c) => c.type === 'Ready')!;
    expect(yReady.reason).toBe('RolloutDegraded');
    expect(yReady.message).toMatch(/removals and narrowing are in force/);
    expect(yReady.message).toMatch(/wait with their additions/);
    for (const url of suite.nats.urls) {
      const c = await Client.connect(url, y.seed, `_INBOX_${NS}_y`, { reconnect: false }).catch((e: Error) => e);
      if (c instanceof Client) {
        suite.clients.push(c);
        throw new Error(`held member y could connect to ${url}`);
      }
      expect(c.message).toMatch(/Authorization Violation/i);
    }
    // Degraded, visibly: the metric and a Warning Event on the auth Secret.
    expect(await metric(suite.operator, 'nats_rooms_rollout_degraded')).toBe(1);
    const event = await waitFor('a ConfigTooLarge Warning Event on the auth Secret', async () => {
      const { items } = await kube.client.get<{ items: { type: string; reason: string; message: string; involvedObject: { kind: string; name: string } }[] }>(paths.events(NATS));
      return items.find((e) => e.reason === 'ConfigTooLarge' && e.type === 'Warning' && e.involvedObject.kind === 'Secret' && e.involvedObject.name === SECRET);
    }, 20_000, 200);
    expect(event.message).toMatch(/--max-secret-bytes=16000/);
    // X (its revocation in force) and W (untouched) are Ready; W's subscription still delivers.
    await kube.waitCondition('members', NS, 'x', 'Ready', 'True');
    await kube.waitCondition('members', NS, 'w', 'Ready', 'True');
    await stillDelivers(wConns, wSubs, ROOM_B, 'under-pressure');
    expect(wConns.flatMap((c) => c.events.permissionErrors)).toEqual([]);

    // Y goes: no longer degraded, everyone Ready.
    await kube.delete('members', NS, 'y');
    await waitFor('the degraded metric back to 0', async () => ((await metric(suite.operator, 'nats_rooms_rollout_degraded')) === 0 ? true : undefined), 30_000, 200);
    const members = await allReady([NS]);
    expect(members.map((m) => m.metadata.name).sort()).toEqual(['w', 'x']);
  });
});
