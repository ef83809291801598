// The rendered chart against a real kube-apiserver: `kubectl apply --dry-run=server` lets Kubernetes
// validate every field (strict field validation: an unknown or misplaced field fails), with default and
// non-default values and for deploy/. The pods of the operator and of the bundled NATS are also
// dry-run as Pods in a namespace that enforces the `restricted` Pod Security Standard.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { attachControlPlane } from '../platform/controlPlane.js';
import { REPO_ROOT, podSpec, template, type KubeManifest } from './helm.js';

const cp = attachControlPlane(inject('controlPlane'));
const id = randomBytes(3).toString('hex');
const ns = (name: string) => `h${id}-${name}`;
const scratch = mkdtempSync(join(tmpdir(), 'nro-helm-apply-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/enforce-version': 'latest',
  'pod-security.kubernetes.io/warn': 'restricted',
  'pod-security.kubernetes.io/warn-version': 'latest',
};

/** Creates namespaces for real (a dry-run cannot create the namespace its objects go to). */
async function createNamespaces(names: string[], labels: Record<string, string> = RESTRICTED): Promise<void> {
  const docs = names.map((name) => stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }));
  const res = await cp.kubectl(['apply', '-f', '-'], { input: docs.join('---\n') });
  expect(res.code, res.stderr).toBe(0);
  // What the service-account controller would do: the ServiceAccount admission plugin needs `default`.
  for (const name of names) {
    const sa = await cp.kubectl(['-n', name, 'create', 'serviceaccount', 'default']);
    if (sa.code !== 0) expect(sa.stderr).toMatch(/already exists/i);
  }
}

interface Applied {
  code: number;
  stdout: string;
  stderr: string;
  /** `kind/name` of each object the server accepted. */
  accepted: string[];
}

async function dryRunApply(text: string, extra: string[] = []): Promise<Applied> {
  const file = join(scratch, `${randomBytes(4).toString('hex')}.yaml`);
  writeFileSync(file, text);
  const res = await cp.kubectl(['apply', '--dry-run=server', '--validate=strict', '-o', 'name', '-f', file, ...extra], { timeoutMs: 60_000 });
  return { ...res, accepted: res.stdout.split('\n').filter(Boolean) };
}

/** Warnings other than kubectl's note about objects created without its last-applied annotation. */
function warnings(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '')
    .filter((l) => !l.includes('missing the kubectl.kubernetes.io/last-applied-configuration annotation'))
    .filter((l) => !l.includes('patched automatically'));
}

function expectAllAccepted(res: Applied, objects: KubeManifest[]): void {
  expect(res.code, res.stderr).toBe(0);
  expect(warnings(res.stderr)).toEqual([]);
  expect(res.accepted.length).toBe(objects.length);
}

/** The Pods a workload would create, for a dry-run under Pod Security admission. */
function podsOf(objects: KubeManifest[], namespace: string): KubeManifest[] {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
    .map((w) => {
      const { template, volumeClaimTemplates } = w.spec as { template: { metadata: { labels: Record<string, string> } }; volumeClaimTemplates?: { metadata: { name: string } }[] };
      const spec = podSpec(w) as { volumes?: unknown[] };
      // The StatefulSet controller adds a volume per claim template, as <claim>-<pod>.
      const claims = (volumeClaimTemplates ?? []).map((c) => ({ name: c.metadata.name, persistentVolumeClaim: { claimName: `${c.metadata.name}-${w.metadata.name}-0` } }));
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${w.metadata.name}-0`, namespace, labels: template.metadata.labels },
        // The operator's own ServiceAccount may not exist in the namespace of this dry-run.
        spec: { ...spec, volumes: [...(spec.volumes ?? []), ...claims], serviceAccountName: 'default' },
      };
    });
}

async function expectPodsRestricted(objects: KubeManifest[]): Promise<void> {
  const namespace = ns('pods');
  await createNamespaces([namespace]);
  const pods = podsOf(objects, namespace);
  expect(pods.length).toBeGreaterThan(0);
  const res = await dryRunApply(pods.map((p) => stringify(p)).join('---\n'));
  expect(res.code, res.stderr).toBe(0);
  expect(warnings(res.stderr)).toEqual([]);
  expect(res.accepted.sort()).toEqual(pods.map((p) => `pod/${p.metadata.name}`).sort());
}

describe('kubectl apply --dry-run=server of the rendered chart', () => {
  it('accepts every object rendered from the default values, CRDs included', async () => {
    const release = ns('rel');
    await createNamespaces([release]);
    const rendered = await template('nro', release, {}, ['--include-crds']);
    expect(rendered.objects.filter((o) => o.kind === 'CustomResourceDefinition').length).toBe(2);
    expectAllAccepted(await dryRunApply(rendered.text), rendered.objects);
    await expectPodsRestricted(rendered.objects);
  });

  it('accepts every object rendered from non-default values (attached NATS, watchNamespaces, restart, separate lease namespace)', async () => {
    const [release, a, b, messaging, leases] = ['rel2', 'team-a', 'team-b', 'messaging', 'leases'].map(ns);
    await createNamespaces([release!, a!, b!, messaging!, leases!]);
    const rendered = await template('nro', release!, {
      replicas: 3,
      image: { repository: 'example/nats-rooms-operator', tag: '1.2.3', pullPolicy: 'Always' },
      imagePullSecrets: [{ name: 'registry' }],
      watchNamespaces: [a, b],
      subjectRoots: { [a!]: ['orders', 'billing.eu'] },
      reloadStrategy: 'restart',
      defaultPermissions: { publish: ['public.>'], subscribe: ['time.now'] },
      leaderElection: { enabled: true, leaseName: 'rooms', leaseNamespace: leases },
      healthPort: 9090,
      metrics: { service: { enabled: true, port: 9090, annotations: { 'prometheus.io/scrape': 'true' } } },
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: 1, memory: '512Mi' } },
      podAnnotations: { team: 'platform' },
      podLabels: { tier: 'control' },
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'control', effect: 'NoSchedule' }],
      affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'app.kubernetes.io/component': 'operator' } } } }] } },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: { 'app.kubernetes.io/component': 'operator' } } }],
      serviceAccount: { create: true, name: 'rooms-operator', annotations: { owner: 'platform' } },
      nats: { bundled: false, namespace: messaging, selector: 'app.kubernetes.io/name=nats,app.kubernetes.io/instance=nats,app.kubernetes.io/component=nats', authSecretName: 'rooms-auth' },
    });
    const kinds = rendered.objects.map((o) => o.kind);
    expect(kinds).not.toContain('StatefulSet');
    expect(kinds).not.toContain('ClusterRole');
    expectAllAccepted(await dryRunApply(rendered.text), rendered.objects);
    await expectPodsRestricted(rendered.objects);
  });

  it('accepts the bundled NATS with the config-reloader sidecar and a NATS namespace of its own', async () => {
    const [release, natsNs] = ['rel3', 'nats3'].map(ns);
    await createNamespaces([release!, natsNs!]);
    const rendered = await template('nro', release!, { reloadStrategy: 'sidecar', nats: { namespace: natsNs, replicas: 1 } });
    expect(rendered.objects.find((o) => o.kind === 'StatefulSet')!.metadata.namespace).toBe(natsNs);
    expect(rendered.objects.some((o) => o.kind === 'PodDisruptionBudget')).toBe(false); // one replica: no PDB
    expectAllAccepted(await dryRunApply(rendered.text), rendered.objects);
    // shareProcessNamespace is allowed by `restricted`; the reloader is locked down like the server.
    await expectPodsRestricted(rendered.objects);
  });

  it('accepts deploy/ as `kubectl apply -f deploy/` would send it', async () => {
    // deploy/ creates its namespace itself; a dry-run cannot, so it must exist first.
    await createNamespaces(['nats-rooms-operator'], {});
    const res = await cp.kubectl(['apply', '--dry-run=server', '--validate=strict', '-o', 'name', '-f', join(REPO_ROOT, 'deploy')], { timeoutMs: 60_000 });
    expect(res.code, res.stderr).toBe(0);
    expect(warnings(res.stderr)).toEqual([]);
    const accepted = res.stdout.split('\n').filter(Boolean);
    expect(accepted).toContain('namespace/nats-rooms-operator');
    expect(accepted).toContain('customresourcedefinition.apiextensions.k8s.io/members.natsrooms.io');
    expect(accepted).toContain('deployment.apps/nats-rooms-operator');
    expect(accepted).toContain('statefulset.apps/nats');
  });

  it('rejects a misplaced field, so the checks above mean something', async () => {
    const release = ns('rel');
    await createNamespaces([release]);
    const rendered = await template('nro', release);
    const broken = rendered.objects.map((o) => (o.kind === 'Deployment' ? { ...o, spec: { ...(o.spec as object), replica: 2 } } : o));
    const res = await dryRunApply(broken.map((o) => stringify(o)).join('---\n'));
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/unknown field "spec.replica"/);
  });

  it('rejects a pod that breaks the restricted profile, so the Pod Security checks above mean something', async () => {
    const namespace = ns('pods');
    await createNamespaces([namespace]);
    const rendered = await template('nro', ns('rel'));
    const [pod] = podsOf(rendered.objects, namespace);
    const spec = pod!.spec as { containers: { securityContext?: unknown }[] };
    spec.containers[0]!.securityContext = { allowPrivilegeEscalation: true };
    const res = await dryRunApply(stringify(pod));
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/violates PodSecurity "restricted:latest"/);
  });
});
