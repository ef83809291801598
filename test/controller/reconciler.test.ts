// The controller against the real API server of the platform and three real nats-servers: the Secret
// follows compile() exactly, bad input is refused or reported without touching anyone else, restarts
// change nothing, tampering is undone.
import { fromSeed } from 'nkeys.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { compile } from '../../src/auth/compile.js';
import { render } from '../../src/auth/render.js';
import type { Member, Room } from '../../src/api/types.js';
import { publicKeyOf } from '../../src/controller/credentials.js';
import type { Secret } from '../../src/kube/types.js';
import { CONFIG_HASH_ANNOTATION, CREDENTIAL_KEYS, CREDENTIALS_SELECTOR, SYSTEM_SEED_KEY } from '../../src/api/metadata.js';
import { paths } from '../../src/kube/paths.js';
import type { RunningOperator } from '../../src/operator.js';
import { attachControlPlane } from '../platform/controlPlane.js';
import type { NatsCluster } from '../platform/natsPods.js';
import { TestKube } from '../support/kube.js';
import { metric, startOperatorThenNats, startTestOperator } from '../support/operator.js';
import { member, newUserKey, room } from '../support/objects.js';
import { waitFor } from '../support/processes.js';

const cp = attachControlPlane(inject('controlPlane'));
const kube = new TestKube(cp.kubeConfig);
const A = 'rec-a';
const B = 'rec-b';
const NATS = 'rec-nats';
const RELEASE = 'rec';
const SECRET = 'nats-rooms-auth';

let nats: NatsCluster;
let operator: RunningOperator;

const start = () =>
  startTestOperator({ kubeConfig: cp.kubeConfig, natsNamespace: NATS, natsRelease: RELEASE, watchNamespaces: [A, B], clientUrls: nats?.urls });

/** The config compile() and render() make of what the API server holds right now. */
async function expectedConfig(): Promise<string> {
  const rooms = (await kube.list<Room>('rooms', [A, B])).filter((r) => !r.metadata.deletionTimestamp);
  const members = (await kube.list<Member>('members', [A, B])).filter((m) => !m.metadata.deletionTimestamp);
  const generatedKeys = new Map<string, string>();
  for (const ns of [A, B]) {
    const { items } = await kube.client.get<{ items: Secret[] }>(paths.secrets(ns), { labelSelector: CREDENTIALS_SELECTOR });
    for (const s of items) generatedKeys.set(`${ns}/${s.metadata.labels!['natsrooms.io/member']}`, publicKeyOf(s)!);
  }
  const system = await kube.secret(NATS, 'nats-rooms-operator-system');
  const systemKey = fromSeed(new TextEncoder().encode(Buffer.from(system!.data![SYSTEM_SEED_KEY]!, 'base64').toString())).getPublicKey();
  const compiled = compile(rooms, members, { account: 'ROOMS', reservedKeys: [systemKey], generatedKeys });
  return render(compiled.model, { systemUserKey: systemKey }).text;
}

async function secretFollowsCompile(): Promise<void> {
  let last = '';
  await waitFor(
    'the auth Secret to hold what compile() makes of the cluster',
    async () => {
      const [actual, expected] = await Promise.all([kube.secretText(NATS, SECRET), expectedConfig()]);
      last = `expected:\n${expected}\nactual:\n${actual}`;
      return actual === expected ? true : undefined;
    },
    20_000,
  ).catch((e) => {
    throw new Error(`${(e as Error).message}\n${last}`);
  });
}

beforeAll(async () => {
  ({ operator, nats } = await startOperatorThenNats({ kubeConfig: cp.kubeConfig, natsNamespace: NATS, natsRelease: RELEASE, watchNamespaces: [A, B], kubeletDelayMs: 0 }));
});

afterAll(async () => {
  await operator?.stop();
  await nats?.stop();
});

describe('the auth Secret follows compile()', () => {
  const joeKey = newUserKey();
  it('on create, update and delete of Rooms and Members', async () => {
    await kube.apply(room(A, 'lobby', { allowedNamespaces: [B] }));
    await kube.apply(room(A, 'news'));
    await kube.apply(member(A, 'joe', { nkey: joeKey.publicKey, rooms: [{ room: 'lobby', access: 'PublishSubscribe' }] }));
    await kube.apply(member(A, 'gen', { rooms: [{ room: 'news', access: 'Subscribe' }] }));
    await kube.apply(member(B, 'guest', { rooms: [{ room: 'lobby', namespace: A, access: 'Subscribe' }] }));
    // Generated keys come a reconcile later: wait for them, or the comparison below is vacuous.
    await kube.waitCondition('members', B, 'guest', 'Accepted', 'True');
    await kube.waitCondition('members', A, 'gen', 'Accepted', 'True');
    await secretFollowsCompile();
    const text = (await kube.secretText(NATS, SECRET))!;
    expect(text).toContain(joeKey.publicKey);
    expect(text).toContain('_INBOX_rec-b_guest.>');

    await kube.apply(member(A, 'joe', { nkey: joeKey.publicKey, rooms: [{ room: 'lobby', access: 'PublishSubscribe' }, { room: 'news', access: 'Publish' }] }));
    await secretFollowsCompile();
    await kube.delete('rooms', A, 'news');
    await secretFollowsCompile();
    expect(await kube.secretText(NATS, SECRET)).not.toContain('rooms.rec-a.news');
    await kube.delete('members', B, 'guest');
    await secretFollowsCompile();
    expect(await kube.secretText(NATS, SECRET)).not.toContain('_INBOX_rec-b_guest');
  });

  it('generates a key pair for a Member without spec.nkey, stable across updates', async () => {
    await kube.waitCondition('members', A, 'gen', 'Accepted', 'True');
    const secret = (await kube.secret(A, 'gen-nats-credentials'))!;
    const publicKey = publicKeyOf(secret)!;
    expect(Buffer.from(secret.data![CREDENTIAL_KEYS.inboxPrefix]!, 'base64').toString()).toBe('_INBOX_rec-a_gen');
    expect(secret.metadata.ownerReferences).toMatchObject([{ kind: 'Member', name: 'gen', controller: true }]);
    const status = (await kube.member(A, 'gen'))!.status!;
    expect(status).toMatchObject({ publicKey, credentialsSecret: 'gen-nats-credentials', inboxPrefix: '_INBOX_rec-a_gen' });
    await kube.apply(member(A, 'gen', { rooms: [{ room: 'lobby', access: 'Subscribe' }] }));
    await secretFollowsCompile();
    expect(publicKeyOf((await kube.secret(A, 'gen-nats-credentials'))!)).toBe(publicKey);
  });
});

describe('bad input', () => {
  it('is refused at admission with the CRD rule message', async () => {
    await expect(kube.apply(room(A, 'bad', { subject: '_INBOX_rec-a_x' }))).rejects.toThrow(/inbox space/);
    await expect(kube.apply(member(A, 'bad', { rooms: [{ room: 'lobby', access: 'Read' as never }] }))).rejects.toThrow(/Unsupported value: "Read"/);
    await expect(kube.apply(room(A, 'bad', { subject: 'rooms.rec-a.x y' }))).rejects.toThrow(/spec.subject in body should match/);
  });

  it('that passes admission gets Accepted=False and an Event, and touches no one else', async () => {
    const before = (await kube.secretText(NATS, SECRET))!;
    const joe = (await kube.member(A, 'joe'))!;
    await kube.apply(member(B, 'thief', { nkey: joe.spec!.nkey!, rooms: [{ room: 'lobby', namespace: A, access: 'Subscribe' }] }));
    await kube.apply(room(B, 'escape', { subject: 'rooms.rec-a.lobby' }));
    const thief = await kube.waitCondition('members', B, 'thief', 'Accepted', 'False');
    expect(thief).toMatchObject({ status: { conditions: [{ type: 'Accepted', reason: 'DuplicateNkey' }, { type: 'Ready', status: 'False' }] } });
    const escape = await kube.waitCondition('rooms', B, 'escape', 'Accepted', 'False');
    expect(JSON.stringify(escape)).toContain('SubjectOutsideRoot');
    await secretFollowsCompile();
    expect(await kube.secretText(NATS, SECRET)).toBe(before);
    await waitFor('a Warning event for the thief', async () => {
      const { items } = await kube.client.get<{ items: { reason: string; involvedObject: { name: string } }[] }>(paths.events(B));
      return items.some((e) => e.reason === 'DuplicateNkey' && e.involvedObject.name === 'thief') ? true : undefined;
    });
    await kube.delete('members', B, 'thief');
    await kube.delete('rooms', B, 'escape');
  });
});

describe('robustness', () => {
  it('puts the Secret back when someone edits or deletes it', async () => {
    const good = (await kube.secretText(NATS, SECRET))!;
    await nats.updateSecret({ 'auth.conf': 'accounts: {}\n' });
    await waitFor('the operator to restore the edited Secret', async () => ((await kube.secretText(NATS, SECRET)) === good ? true : undefined));
    await kube.client.request('DELETE', `${paths.secrets(NATS)}/${SECRET}`);
    await waitFor('the operator to restore the deleted Secret', async () => ((await kube.secretText(NATS, SECRET)) === good ? true : undefined));
    expect((await kube.secret(NATS, SECRET))!.metadata.annotations![CONFIG_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{64}$/);
  });

  it('an operator restart changes nothing', async () => {
    await kube.waitCondition('members', A, 'joe', 'Ready', 'True');
    const snapshot = async () => {
      const objs = [...(await kube.list<Member>('members', [A, B])), ...(await kube.list<Room>('rooms', [A, B]))];
      return { secret: (await kube.secret(NATS, SECRET))!.metadata.resourceVersion, objects: objs.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort() };
    };
    const before = await snapshot();
    await operator.stop();
    operator = await start();
    await waitFor('the new operator to reconcile', async () => ((await metric(operator, 'nats_rooms_reconciles_total', 'result="ok"')) >= 1 ? true : undefined));
    await operator.controller.queue.idle();
    expect(await snapshot()).toEqual(before);
    expect(await metric(operator, 'nats_rooms_config_generations_total')).toBe(0);
  });
});
