// (a) The real API server serves the CRDs from crds/ as a user would meet them: discovery, kubectl
// explain with the schema's descriptions, and CEL rules rejecting objects with the messages written in
// src/api/schema.ts. Also: the control plane's authentication, RBAC and service-account tokens work.
import { AuthenticationV1Api, CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { memberSchema, subjectRules } from '../../src/api/schema.js';
import { GROUP, VERSION } from '../../src/api/types.js';
import { waitFor } from '../support/processes.js';
import { member, room } from '../support/objects.js';
import { attachControlPlane } from './controlPlane.js';
import { messageOf, statusOf } from './kubeAccess.js';

const cp = attachControlPlane(inject('controlPlane'));
const namespace = 'platform-api';
const objects = cp.kubeConfig.makeApiClient(CustomObjectsApi);

/** The CEL rules on Member spec.rooms in src/api/schema.ts (the schema decides whether a room may be listed twice). */
function roomsRules(): { rule: string; message: string }[] {
  const spec = (memberSchema.properties as Record<string, Record<string, Record<string, Record<string, unknown>>>>).spec!;
  return (spec.properties!.rooms!['x-kubernetes-validations'] as { rule: string; message: string }[] | undefined) ?? [];
}

async function rejection(create: () => Promise<unknown>): Promise<{ status: number | undefined; message: string }> {
  try {
    await create();
  } catch (e) {
    return { status: statusOf(e), message: messageOf(e) };
  }
  throw new Error('the API server accepted it');
}

beforeAll(async () => {
  await cp.kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } }).catch((e) => {
    if (statusOf(e) !== 409) throw e;
  });
});

describe('the CRDs on a real API server', () => {
  it('serves Room and Member', async () => {
    const res = await cp.kubectl(['api-resources', `--api-group=${GROUP}`, '-o', 'name']);
    expect(res.stderr).toBe('');
    expect(res.stdout.split('\n').filter(Boolean).sort()).toEqual([`members.${GROUP}`, `rooms.${GROUP}`]);
  });

  it('explains room.spec with the descriptions from the schema', async () => {
    // The OpenAPI document of a new CRD is published a moment after it is Established.
    const out = await waitFor('kubectl explain room.spec', async () => {
      const res = await cp.kubectl(['explain', 'room.spec']);
      return res.code === 0 ? res.stdout : undefined;
    }, 20_000, 200);
    expect(out).toContain('What the room is and who may join it.');
    expect(out).toMatch(/subject\s+<string>/);
    expect(out).toContain('The NATS subject of the room.');
    expect(out).toMatch(/allowedNamespaces\s+<\[\]string>/);
    const members = await cp.kubectl(['explain', 'member.spec.rooms.access']);
    expect(members.stdout).toContain('Respond: subscribe to the subject and answer requests');
  });

  it('rejects a room subject in the inbox space with the CEL rule message', async () => {
    const { status, message } = await rejection(() =>
      objects.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'rooms', body: room(namespace, 'sneaky', { subject: '_INBOX.stolen' }) }),
    );
    expect(status).toBe(422);
    expect(message).toContain('spec.subject');
    expect(message).toContain(subjectRules[0]!.message);
  });

  it('treats a member that lists the same room twice as the schema says (a CEL rule rejects it, or it is accepted)', async () => {
    const body = member(namespace, 'twice', { rooms: [{ room: 'chat', access: 'Publish' }, { room: 'chat', access: 'Subscribe' }] });
    const create = () => objects.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'members', body, dryRun: 'All' });
    const rules = roomsRules();
    if (rules.length === 0) {
      await create(); // no rule on spec.rooms: listing a room twice is allowed
      return;
    }
    const { status, message } = await rejection(create);
    expect(status).toBe(422);
    expect(message).toContain('spec.rooms');
    expect(rules.some((r) => message.includes(r.message))).toBe(true);
  });

  it('stores a valid Room and serves its status subresource', async () => {
    const created = (await objects.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'rooms', body: room(namespace, 'lobby') })) as {
      metadata: { generation: number };
    };
    expect(created.metadata.generation).toBe(1);
    const patched = (await objects.replaceNamespacedCustomObjectStatus({
      group: GROUP, version: VERSION, namespace, plural: 'rooms', name: 'lobby',
      body: { ...created, status: { subject: `rooms.${namespace}.lobby`, memberCount: 0, observedGeneration: 1 } },
    })) as { status: { subject: string }; metadata: { generation: number } };
    expect(patched.status.subject).toBe(`rooms.${namespace}.lobby`);
    expect(patched.metadata.generation).toBe(1);
  });
});

describe('the control plane', () => {
  it('authenticates the non-admin user, who may do nothing until RBAC grants it', async () => {
    const asUser = cp.kubeConfigFor('user').makeApiClient(CustomObjectsApi);
    const list = () => asUser.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'rooms' });
    expect((await rejection(list)).status).toBe(403);

    const rbac = cp.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: { metadata: { name: 'room-reader' }, rules: [{ apiGroups: [GROUP], resources: ['rooms'], verbs: ['get', 'list', 'watch'] }] },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'room-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'room-reader' },
        subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: cp.users.user.name }],
      },
    });
    await waitFor('RBAC to let the user list rooms', async () => ((await list()) ? true : undefined), 10_000, 50);
    const res = await cp.kubectl(['auth', 'can-i', 'delete', 'rooms', '-n', namespace], { user: 'user' });
    expect(res.stdout.trim()).toBe('no');
  });

  it('issues service-account tokens the API server accepts (TokenRequest)', async () => {
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'operator' } } });
    const tr = await core.createNamespacedServiceAccountToken({ namespace, name: 'operator', body: { spec: { audiences: [], expirationSeconds: 600 } } });
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: cp.server, caFile: cp.caFile }],
      users: [{ name: 'sa', token: tr.status!.token }],
      contexts: [{ name: 'sa', cluster: 'c', user: 'sa' }],
      currentContext: 'sa',
    });
    const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe(`system:serviceaccount:${namespace}:operator`);
  });
});
