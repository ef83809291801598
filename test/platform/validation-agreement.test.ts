// (b) The API server and src/api/validate.ts agree: a corpus of valid and invalid Rooms and Members is
// submitted with dryRun=All and fieldValidation=Strict, and for each object the API server accepts it
// exactly when validateRoomObject/validateMemberObject report no error. Objects read from files (the
// offline `render` command) thus get the same verdict as objects sent to a cluster.
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { MemberSpec, RoomSpec } from '../../src/api/types.js';
import { GROUP, VERSION } from '../../src/api/types.js';
import { formatErrors, validateMemberObject, validateRoomObject } from '../../src/api/validate.js';
import { member, newUserKey, room } from '../support/objects.js';
import { attachControlPlane } from './controlPlane.js';
import { messageOf, statusOf } from './kubeAccess.js';

const cp = attachControlPlane(inject('controlPlane'));
const ns = 'platform-agreement';
const objects = cp.kubeConfig.makeApiClient(CustomObjectsApi);

interface Case {
  name: string;
  kind: 'Room' | 'Member';
  body: Record<string, unknown>;
  /** What the corpus author expects (a check on the corpus itself); 'schema' where src/api/schema.ts decides either way. */
  valid: boolean | 'schema';
}

const key = newUserKey().publicKey;
const names = (n: number, prefix = 'ns') => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const subjects = (n: number) => Array.from({ length: n }, (_, i) => `deny.s${i}.>`);

const r = (name: string, spec: unknown, valid: Case['valid'], extra: Record<string, unknown> = {}): Case => ({
  name: `room ${name}`,
  kind: 'Room',
  body: { ...room(ns, `r-${slug(name)}`, spec as RoomSpec), ...extra },
  valid,
});
const m = (name: string, spec: unknown, valid: Case['valid'], extra: Record<string, unknown> = {}): Case => ({
  name: `member ${name}`,
  kind: 'Member',
  body: { ...member(ns, `m-${slug(name)}`, spec as MemberSpec), ...extra },
  valid,
});
const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 50);

const corpus: Case[] = [
  // Rooms that are fine
  r('empty spec', {}, true),
  r('plain subject', { subject: `rooms.${ns}.chat` }, true),
  r('wildcards', { subject: `rooms.${ns}.*.events.>` }, true),
  r('full wildcard', { subject: '>' }, true),
  r('dollar inside a token', { subject: `rooms.${ns}.$price` }, true),
  r('subject of 255 characters', { subject: `a.${'b'.repeat(253)}` }, true),
  r('allowed namespaces', { allowedNamespaces: ['team-a', 'b2'] }, true),
  r('64 allowed namespaces', { allowedNamespaces: names(64) }, true),
  r('jetstream stream', { jetstream: { stream: `${ns}_chat` } }, true),
  r('jetstream without stream', { jetstream: {} }, true),
  r('jetstream settings', { jetstream: { storage: 'Memory', replicas: 3, retention: 'WorkQueue', maxAge: '1h30m', maxBytes: 1, maxMessages: 10, discard: 'New' } }, true),
  r('jetstream 5 replicas', { jetstream: { replicas: 5 } }, true),
  // Rooms that are not
  r('inbox subject', { subject: '_INBOX.stolen' }, false),
  r('private inbox subject', { subject: `_INBOX_${ns}_x.reply` }, false),
  r('system subject', { subject: '$SYS.REQ.SERVER.PING' }, false),
  r('jetstream api subject', { subject: '$JS.API.>' }, false),
  r('empty token', { subject: 'rooms..x' }, false),
  r('gt inside a token', { subject: 'rooms.x>' }, false),
  r('gt not last', { subject: 'rooms.>.x' }, false),
  r('space', { subject: 'rooms.a b' }, false),
  r('quote', { subject: 'rooms."x"' }, false),
  r('empty subject', { subject: '' }, false),
  r('subject of 256 characters', { subject: `a.${'b'.repeat(254)}` }, false),
  r('65 allowed namespaces', { allowedNamespaces: names(65) }, false),
  r('duplicate allowed namespace', { allowedNamespaces: ['a', 'a'] }, false),
  r('bad namespace name', { allowedNamespaces: ['Team_A'] }, false),
  r('namespace too long', { allowedNamespaces: ['a'.repeat(64)] }, false),
  r('dotted stream', { jetstream: { stream: 'a.b' } }, false),
  r('subject of the wrong type', { subject: 42 }, false),
  r('allowed namespaces not a list', { allowedNamespaces: 'team-a' }, false),
  r('unknown spec field', { subject: 'rooms.x', owner: 'me' }, false),
  r('unknown jetstream field', { jetstream: { stream: 'x', mirror: 'y' } }, false),
  r('jetstream 0 replicas', { jetstream: { replicas: 0 } }, false),
  r('jetstream 6 replicas', { jetstream: { replicas: 6 } }, false),
  r('jetstream fractional replicas', { jetstream: { replicas: 1.5 } }, false),
  r('jetstream max age in days', { jetstream: { maxAge: '2d' } }, false),
  r('jetstream max age with a space', { jetstream: { maxAge: '1h 30m' } }, false),
  r('jetstream zero max bytes', { jetstream: { maxBytes: 0 } }, false),
  r('jetstream lowercase storage', { jetstream: { storage: 'file' } }, false),
  r('jetstream unknown retention', { jetstream: { retention: 'Forever' } }, false),
  r('unknown top-level field', {}, false, { extra: true }),
  // Members that are fine
  m('empty spec', {}, true),
  m('nkey', { nkey: key }, true),
  m('every access mode', { rooms: ['Publish', 'Subscribe', 'PublishSubscribe', 'Request', 'Respond'].map((access, i) => ({ room: `r${i}`, access })) }, true),
  m('same room in two namespaces', { rooms: [{ room: 'chat', access: 'Publish' }, { room: 'chat', namespace: 'other', access: 'Subscribe' }] }, true),
  m('same room with and without explicit namespace', { rooms: [{ room: 'chat', access: 'Publish' }, { room: 'chat', namespace: ns, access: 'Subscribe' }] }, true),
  m('dotted room name', { rooms: [{ room: 'a.b-c', access: 'Request' }] }, true),
  m('inbox prefix', { inboxPrefix: `_INBOX_${ns}_mine` }, true),
  m('deny lists', { deny: { publish: ['a.>', 'b.*'], subscribe: ['>'] } }, true),
  m('64 deny subjects', { deny: { publish: subjects(64) } }, true),
  m('consumers of a reader', { rooms: [{ room: 'log', access: 'Subscribe', consumers: ['history', 'work-1'] }] }, true),
  m('push consumers of a reader', { rooms: [{ room: 'log', access: 'Subscribe', pushConsumers: ['feed'], consumers: ['pull'] }] }, true),
  m('consumers of a publisher-subscriber', { rooms: [{ room: 'log', access: 'PublishSubscribe', consumers: ['h'] }] }, true),
  m('256 rooms', { rooms: names(256, 'room').map((room) => ({ room, access: 'Subscribe' })) }, true),
  // Members that are not
  m('short nkey', { nkey: 'UABC' }, false),
  m('account nkey', { nkey: `A${key.slice(1)}` }, false),
  m('lowercase nkey', { nkey: key.toLowerCase() }, false),
  m('unknown access mode', { rooms: [{ room: 'chat', access: 'Read' }] }, false),
  m('lowercase access mode', { rooms: [{ room: 'chat', access: 'publish' }] }, false),
  m('missing access', { rooms: [{ room: 'chat' }] }, false),
  m('missing room', { rooms: [{ access: 'Publish' }] }, false),
  // A room listed twice: rejected by a CEL rule or merged, as the schema says; either way both must agree.
  m('same room twice', { rooms: [{ room: 'chat', access: 'Publish' }, { room: 'chat', access: 'Subscribe' }] }, 'schema'),
  m('same room twice in another namespace', { rooms: [{ room: 'chat', namespace: 'o', access: 'Publish' }, { room: 'chat', namespace: 'o', access: 'Publish' }] }, 'schema'),
  m('uppercase room name', { rooms: [{ room: 'Chat', access: 'Publish' }] }, false),
  m('bad room namespace', { rooms: [{ room: 'chat', namespace: 'a.b', access: 'Publish' }] }, false),
  m('257 rooms', { rooms: names(257, 'room').map((room) => ({ room, access: 'Subscribe' })) }, false),
  m('inbox prefix with a dot', { inboxPrefix: '_INBOX.mine' }, false),
  m('shared inbox prefix', { inboxPrefix: '_INBOX' }, false),
  m('inbox prefix too long', { inboxPrefix: `_INBOX_${'x'.repeat(122)}` }, false),
  m('65 deny subjects', { deny: { publish: subjects(65) } }, false),
  m('duplicate deny subject', { deny: { subscribe: ['a', 'a'] } }, false),
  m('bad deny subject', { deny: { publish: ['a b'] } }, false),
  m('consumers of a publisher', { rooms: [{ room: 'log', access: 'Publish', consumers: ['h'] }] }, false),
  m('push consumers of a publisher', { rooms: [{ room: 'log', access: 'Publish', pushConsumers: ['h'] }] }, false),
  m('one name pull and push', { rooms: [{ room: 'log', access: 'Subscribe', consumers: ['h'], pushConsumers: ['h'] }] }, false),
  m('consumers of a responder', { rooms: [{ room: 'log', access: 'Respond', consumers: ['h'] }] }, false),
  m('consumer with an underscore', { rooms: [{ room: 'log', access: 'Subscribe', consumers: ['a_b'] }] }, false),
  m('consumer name too long', { rooms: [{ room: 'log', access: 'Subscribe', consumers: ['c'.repeat(33)] }] }, false),
  m('nine consumers', { rooms: [{ room: 'log', access: 'Subscribe', consumers: names(9, 'c') }] }, false),
  m('duplicate consumer', { rooms: [{ room: 'log', access: 'Subscribe', consumers: ['a', 'a'] }] }, false),
  m('unknown room field', { rooms: [{ room: 'chat', access: 'Publish', priority: 1 }] }, false),
  m('unknown deny field', { deny: { request: ['x'] } }, false),
  m('rooms not a list', { rooms: { room: 'chat', access: 'Publish' } }, false),
];

async function apiServerAccepts(c: Case): Promise<{ accepted: boolean; message: string }> {
  try {
    await objects.createNamespacedCustomObject({
      group: GROUP, version: VERSION, namespace: ns, plural: c.kind === 'Room' ? 'rooms' : 'members',
      body: c.body, dryRun: 'All', fieldValidation: 'Strict',
    });
    return { accepted: true, message: '' };
  } catch (e) {
    const status = statusOf(e);
    // 422 Invalid (schema, CEL) and 400 BadRequest (strict decoding): a verdict; anything else is a broken test.
    if (status !== 422 && status !== 400) throw e;
    return { accepted: false, message: messageOf(e) };
  }
}

beforeAll(async () => {
  await cp.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } }).catch((e) => {
    if (statusOf(e) !== 409) throw e;
  });
});

describe('the API server and validate.ts agree', () => {
  it('on a corpus of valid and invalid objects', async () => {
    expect(corpus.length).toBeGreaterThanOrEqual(40);
    expect(new Set(corpus.map((c) => c.name)).size).toBe(corpus.length);
    const results = await Promise.all(
      corpus.map(async (c) => {
        const errors = c.kind === 'Room' ? validateRoomObject(c.body) : validateMemberObject(c.body);
        const server = await apiServerAccepts(c);
        return { c, local: errors.length === 0, localMessage: formatErrors(errors), ...server };
      }),
    );
    const disagreements = results
      .filter((x) => x.local !== x.accepted)
      .map((x) => `${x.c.name}: API server ${x.accepted ? 'accepts' : `rejects (${x.message})`}, validate.ts ${x.local ? 'accepts' : `rejects (${x.localMessage})`}`);
    expect(disagreements).toEqual([]);
    // And the corpus says what its author meant.
    const mislabelled = results.filter((x) => x.c.valid !== 'schema' && x.accepted !== x.c.valid).map((x) => `${x.c.name}: ${x.message || 'accepted'}`);
    expect(mislabelled).toEqual([]);
    expect(results.filter((x) => x.accepted).length).toBeGreaterThanOrEqual(15);
    expect(results.filter((x) => !x.accepted).length).toBeGreaterThanOrEqual(25);
  });
});
