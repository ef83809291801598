// The chart's RBAC on a real API server with RBAC authorization:
// - what the operator's ServiceAccount may and may not do (kubectl auth can-i), cluster-wide and with
//   watchNamespaces;
// - that it is enough: the operator itself, signed in with a token of that ServiceAccount and configured
//   from the rendered Deployment's environment, serves the private-inbox example through a real NATS
//   cluster (the platform's pods and kubelet stand-in) until every Member is Ready, and again after a
//   change, without one forbidden request.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { createUser } from 'nkeys.js';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { compile } from '../../src/auth/compile.js';
import { render } from '../../src/auth/render.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { startOperator, type RunningOperator } from '../../src/operator.js';
import { attachControlPlane } from '../platform/controlPlane.js';
import { startNatsCluster, type NatsCluster } from '../platform/natsPods.js';
import { waitFor } from '../support/processes.js';
import { REPO_ROOT, containerEnv, one, podSpec, template, type KubeManifest } from './helm.js';

const cp = attachControlPlane(inject('controlPlane'));
const core = cp.kubeConfig.makeApiClient(CoreV1Api);
const objects = cp.kubeConfig.makeApiClient(CustomObjectsApi);
const id = randomBytes(3).toString('hex');
const ns = (name: string) => `r${id}-${name}`;
const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);
const cleanups: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function createNamespaces(names: string[]): Promise<void> {
  for (const name of names) {
    await core.createNamespace({ body: { metadata: { name } } }).catch((e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
  }
}

/** Applies the chart's ServiceAccount and RBAC objects for real; deletes the cluster-scoped ones afterwards. */
async function applyRbac(rendered: KubeManifest[]): Promise<void> {
  const rbac = rendered.filter((o) => RBAC_KINDS.has(o.kind));
  const res = await cp.kubectl(['apply', '-f', '-'], { input: rbac.map((o) => stringify(o)).join('---\n') });
  expect(res.code, res.stderr).toBe(0);
  for (const o of rbac.filter((o) => o.kind.startsWith('Cluster'))) {
    cleanups.push(() => cp.kubectl(['delete', o.kind.toLowerCase(), o.metadata.name, '--ignore-not-found']));
  }
}

/** `kubectl auth can-i` as the ServiceAccount: true for yes, false for no. */
async function can(sa: string, verb: string, resource: string, where: { namespace?: string; subresource?: string } = {}): Promise<boolean> {
  const args = ['auth', 'can-i', verb, resource, `--as=${sa}`];
  if (where.namespace) args.push('-n', where.namespace);
  else args.push('--all-namespaces');
  if (where.subresource) args.push(`--subresource=${where.subresource}`);
  const res = await cp.kubectl(args);
  const answer = res.stdout.trim();
  if (answer !== 'yes' && answer !== 'no') throw new Error(`kubectl ${args.join(' ')}: ${res.stdout}${res.stderr}`);
  return answer === 'yes';
}

type Check = [verb: string, resource: string, where: { namespace?: string; subresource?: string }];

async function expectAnswers(sa: string, allowed: Check[], denied: Check[]): Promise<void> {
  const describe = ([verb, resource, where]: Check) => `${verb} ${resource}${where.subresource ? `/${where.subresource}` : ''} in ${where.namespace ?? 'all namespaces'}`;
  const answers = await Promise.all([...allowed, ...denied].map(async (c) => [describe(c), await can(sa, ...c)] as const));
  expect(Object.fromEntries(answers)).toEqual(Object.fromEntries([...allowed.map((c) => [describe(c), true]), ...denied.map((c) => [describe(c), false])]));
}

describe('the operator ServiceAccount (kubectl auth can-i)', () => {
  it('cluster-wide: reads Rooms and Members everywhere, writes only what the operator writes', async () => {
    const [release, other] = [ns('cw'), ns('cw-other')];
    await createNamespaces([release!, other!]);
    const releaseName = `r${id}cw`;
    const rendered = await template(releaseName, release!, {});
    await applyRbac(rendered.objects);
    const sa = `system:serviceaccount:${release}:${releaseName}-nats-rooms-operator`;
    const nats = { namespace: release };
    await expectAnswers(
      sa,
      [
        ['list', 'rooms.natsrooms.io', {}],
        ['watch', 'members.natsrooms.io', {}],
        ['patch', 'rooms.natsrooms.io', { namespace: other, subresource: 'status' }],
        ['patch', 'rooms.natsrooms.io', { namespace: other }], // the stream finalizer
        ['patch', 'members.natsrooms.io', { namespace: other, subresource: 'status' }],
        ['list', 'secrets', {}],
        ['create', 'secrets', { namespace: other }],
        ['patch', 'secrets', { namespace: other }],
        ['delete', 'secrets', { namespace: other }],
        ['create', 'events', { namespace: other }],
        ['get', 'secrets/nats-rooms-auth', nats],
        ['watch', 'secrets/nats-rooms-auth', nats],
        ['patch', 'secrets/nats-rooms-auth', nats],
        ['list', 'pods', nats],
        ['watch', 'pods', nats],
        ['patch', 'pods', nats],
        ['get', 'secrets/nats-rooms-operator-system', nats],
        ['create', 'leases.coordination.k8s.io', nats],
        ['get', 'leases.coordination.k8s.io/nats-rooms-operator', nats],
        ['update', 'leases.coordination.k8s.io/nats-rooms-operator', nats],
      ],
      [
        ['create', 'pods', { namespace: release, subresource: 'exec' }],
        ['get', 'pods', { namespace: other }],
        ['delete', 'pods', nats],
        ['patch', 'statefulsets.apps', nats], // only with reloadStrategy=restart
        ['patch', 'members.natsrooms.io', { namespace: other }],
        ['create', 'members.natsrooms.io', { namespace: other }],
        ['delete', 'rooms.natsrooms.io', { namespace: other }],
        ['get', 'secrets', { namespace: other }],
        ['update', 'secrets', { namespace: other }],
        ['update', 'leases.coordination.k8s.io/some-other-lease', nats],
        ['delete', 'leases.coordination.k8s.io/nats-rooms-operator', nats],
        ['patch', 'configmaps', nats],
        ['create', 'clusterroles.rbac.authorization.k8s.io', {}],
        ['list', 'namespaces', {}],
      ],
    );
  });

  it('with watchNamespaces: nothing outside those namespaces but the NATS and release namespaces', async () => {
    const [release, watched, natsNs, other] = [ns('wn'), ns('wn-team'), ns('wn-nats'), ns('wn-other')];
    await createNamespaces([release!, watched!, natsNs!, other!]);
    const releaseName = `r${id}wn`;
    const rendered = await template(releaseName, release!, { watchNamespaces: [watched], reloadStrategy: 'restart', nats: { bundled: false, namespace: natsNs } });
    await applyRbac(rendered.objects);
    const sa = `system:serviceaccount:${release}:${releaseName}-nats-rooms-operator`;
    await expectAnswers(
      sa,
      [
        ['list', 'rooms.natsrooms.io', { namespace: watched }],
        ['create', 'secrets', { namespace: watched }],
        ['patch', 'members.natsrooms.io', { namespace: watched, subresource: 'status' }],
        ['patch', 'rooms.natsrooms.io', { namespace: watched }],
        // Server-side apply creates the auth Secret: that takes create, which cannot be narrowed by name.
        ['create', 'secrets', { namespace: natsNs }],
        ['patch', 'secrets/nats-rooms-auth', { namespace: natsNs }],
        ['patch', 'statefulsets.apps', { namespace: natsNs }],
        ['patch', 'pods', { namespace: natsNs }],
        ['create', 'secrets', { namespace: release }],
      ],
      [
        ['list', 'rooms.natsrooms.io', {}],
        ['list', 'secrets', {}],
        ['list', 'rooms.natsrooms.io', { namespace: other }],
        ['patch', 'rooms.natsrooms.io', { namespace: other }],
        ['create', 'secrets', { namespace: other }],
        ['list', 'secrets', { namespace: natsNs }], // only by name (the auth Secret)
        ['patch', 'secrets/other', { namespace: natsNs }],
        ['get', 'secrets/other', { namespace: release }],
        ['patch', 'pods', { namespace: other }],
        ['create', 'pods', { namespace: natsNs, subresource: 'exec' }],
      ],
    );
  });
});

describe('the operator, signed in as its ServiceAccount', () => {
  let cluster: NatsCluster | undefined;
  let operator: RunningOperator | undefined;
  const logLines: string[] = [];

  afterAll(async () => {
    await operator?.stop();
    await cluster?.stop();
  });

  it('serves the private-inbox example through real NATS servers with nothing but the chart RBAC', async () => {
    const [release, natsNs, demo] = [ns('live'), ns('live-nats'), ns('live-demo')];
    await createNamespaces([release!, natsNs!, demo!]);
    const releaseName = `r${id}live`;
    const labels = { 'app.kubernetes.io/name': 'nats', 'app.kubernetes.io/instance': 'nats', 'app.kubernetes.io/component': 'nats' };
    const rendered = await template(releaseName, release!, {
      replicas: 1,
      watchNamespaces: [demo],
      reloadStrategy: 'reload',
      debounceMs: 50,
      maxDelayMs: 300,
      nats: { bundled: false, namespace: natsNs, selector: Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',') },
    });
    await applyRbac(rendered.objects);
    const deployment = one(rendered.objects, 'Deployment');
    const saName = podSpec(deployment).serviceAccountName!;

    // The operator's system user, known in advance, so that the servers trust it from their first config
    // (in a cluster they would wait for the operator's first Secret; here they start with this one).
    const kp = createUser();
    await core.createNamespacedSecret({
      namespace: release!,
      body: { metadata: { name: 'nats-rooms-operator-system' }, type: 'Opaque', data: { 'nkey.seed': Buffer.from(kp.getSeed()).toString('base64') } },
    });
    await core.createNamespacedSecret({
      namespace: natsNs!,
      body: {
        metadata: { name: 'nats-rooms-auth' },
        type: 'Opaque',
        data: { 'auth.conf': Buffer.from(render(compile([], []).model, { systemUserKey: kp.getPublicKey() }).text).toString('base64') },
      },
    });
    // Kubelet would deliver a Secret change only after 10 minutes: the operator's pod poke must do it.
    cluster = await startNatsCluster(cp, { namespace: natsNs, replicas: 2, kubeletDelayMs: 600_000 });
    expect(cluster.labels).toEqual(labels);

    // A token of the ServiceAccount (TokenRequest), and a kubeconfig with nothing else in it.
    const token = await cp.kubectl(['-n', release!, 'create', 'token', saName, '--duration=1h']);
    expect(token.code, token.stderr).toBe(0);
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'cp', server: cp.server, caFile: cp.caFile, skipTLSVerify: false }],
      users: [{ name: 'operator', token: token.stdout.trim() }],
      contexts: [{ name: 'operator', cluster: 'cp', user: 'operator' }],
      currentContext: 'operator',
    });

    const operatorPod = { name: `${releaseName}-nats-rooms-operator-0`, namespace: release! };
    const env = { ...containerEnv(podSpec(deployment).containers[0]!, operatorPod.name, operatorPod.namespace), NRO_HEALTH_ADDR: '127.0.0.1:0' };
    const config = loadConfig([], env, 'unused');
    expect(config.watchNamespaces).toEqual([demo]);
    operator = await startOperator(config, kc, createLogger('info', {}, (line) => logLines.push(line)));

    // The example, moved into this test's namespace.
    const example = readFileSync(join(REPO_ROOT, 'examples', 'private-inbox', 'greet.yaml'), 'utf8');
    const docs = parseAllDocuments(example).map((d) => d.toJS() as KubeManifest);
    for (const d of docs) d.metadata.namespace = demo;
    const applied = await cp.kubectl(['apply', '-f', '-'], { input: docs.map((d) => stringify(d)).join('---\n') });
    expect(applied.code, applied.stderr).toBe(0);

    const readyGeneration = async (name: string): Promise<number | undefined> => {
      const m = (await objects.getNamespacedCustomObject({ group: 'natsrooms.io', version: 'v1alpha1', namespace: demo!, plural: 'members', name })) as {
        metadata: { generation: number };
        status?: { observedGeneration?: number; conditions?: { type: string; status: string }[] };
      };
      const ready = m.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
      return ready && m.status?.observedGeneration === m.metadata.generation ? m.metadata.generation : undefined;
    };
    const allReady = () =>
      waitFor('greeter, joe and pam to be Ready', async () => {
        const gens = await Promise.all(['greeter', 'joe', 'pam'].map(readyGeneration));
        return gens.every((g) => g !== undefined) ? gens : undefined;
      }, 45_000, 200).catch((e: Error) => {
        throw new Error(`${e.message}\noperator log:\n${logLines.slice(-30).join('')}`);
      });
    await allReady();

    // What that took: credentials Secrets in the Members' namespace, the auth Secret, the Lease.
    for (const name of ['greeter', 'joe', 'pam']) {
      const secret = await core.readNamespacedSecret({ namespace: demo!, name: `${name}-nats-credentials` });
      expect(Object.keys(secret.data ?? {}).sort()).toEqual(['inbox-prefix', 'nats-url', 'nkey.pub', 'nkey.seed']);
      expect(Buffer.from(secret.data!['inbox-prefix']!, 'base64').toString()).toBe(`_INBOX_${demo}_${name}`);
    }
    const auth = await core.readNamespacedSecret({ namespace: natsNs!, name: 'nats-rooms-auth' });
    const text = Buffer.from(auth.data!['auth.conf']!, 'base64').toString();
    for (const name of ['greeter', 'joe', 'pam']) expect(text).toContain(`# ${demo}/${name}`);
    const lease = await cp.kubectl(['-n', release!, 'get', 'lease', 'nats-rooms-operator', '-o', 'jsonpath={.spec.holderIdentity}']);
    expect(lease.stdout).toBe(operatorPod.name);
    // Every server got the new file from a poke (the stand-in's own sync is 10 minutes away).
    for (const pod of cluster.podNames) {
      const annotation = await cp.kubectl(['-n', natsNs!, 'get', 'pod', pod, '-o', 'jsonpath={.metadata.annotations.natsrooms\\.io/config-hash}']);
      expect(annotation.stdout).toMatch(/^[0-9a-f]{64}$/);
    }

    // A change rolls out the same way.
    const patched = await cp.kubectl(['-n', demo!, 'patch', 'member', 'pam', '--type=merge', '-p', JSON.stringify({ spec: { rooms: [{ room: 'greet', access: 'Respond' }] } })]);
    expect(patched.code, patched.stderr).toBe(0);
    const [, , pamGeneration] = await allReady();
    expect(pamGeneration).toBe(2);

    // The servers were reloaded over the system account, not by anyone else.
    expect(logLines.filter((l) => l.includes('"msg":"server enforces generation"')).length).toBeGreaterThanOrEqual(2 * cluster.podNames.length);
    const forbidden = logLines.filter((l) => /forbidden|: 403\b/i.test(l));
    expect(forbidden).toEqual([]);
  });
});
