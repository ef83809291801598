// The Helm chart, offline: helm lint --strict, what it renders with default and non-default values, that
// every operator flag is wired to a value (checked by feeding the rendered env to the operator's own
// loadConfig), that the schema rejects bad values, and that its crds/ are the generated ones.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, usage, type OperatorConfig } from '../../src/config.js';
import { imageEntrypoint } from '../support/image.js';
import { CHART, REPO_ROOT, containerEnv, find, helm, one, podSpec, template, valuesFile, type KubeManifest } from './helm.js';

const RELEASE = 'rooms';
const NAMESPACE = 'rooms-system';

/** Values that differ from every default, to see each one reach the operator. */
const NON_DEFAULT = {
  replicas: 3,
  image: { repository: 'example/nats-rooms-operator', tag: '9.9.9', pullPolicy: 'Always' },
  watchNamespaces: ['team-a', 'team-b'],
  subjectRoots: { 'team-b': ['shipping'], 'team-a': ['orders', 'billing.eu'] },
  namespaceBudgets: { '*': { members: 2000 }, 'team-a': { members: 20000, rooms: 100, bytes: 8000000 } },
  jetstreamLimits: { '*': { file: 10737418240 }, 'team-a': { memory: 1048576, streams: 200, consumers: 5000 } },
  reloadStrategy: 'sidecar',
  pokePods: false,
  serverTimeoutMs: 30000,
  rolloutParallelism: 2,
  account: 'CHAT',
  defaultPermissions: { publish: ['public.>'], subscribe: ['public.>', 'time.now'] },
  clientUrl: 'tls://nats.example.internal:4222',
  logLevel: 'debug',
  debounceMs: 50,
  maxDelayMs: 500,
  resyncIntervalMs: 60000,
  streamResyncMs: 15000,
  leaderElection: { enabled: true, leaseName: 'rooms-lease', leaseNamespace: 'leases', leaseDurationSeconds: 30, renewDeadlineMs: 20000, retryPeriodMs: 4000 },
  systemSecretName: 'rooms-system-user',
  healthPort: 9090,
  nats: { bundled: false, namespace: 'messaging', selector: 'app=my-nats,tier=servers', authSecretName: 'rooms-auth', authSecretKey: 'rooms.conf', authShards: 2 },
  maxSecretBytes: 500000,
};

function operatorContainer(objects: KubeManifest[]) {
  const deployment = one(objects, 'Deployment');
  const spec = podSpec(deployment);
  expect(spec.containers.map((c) => c.name)).toEqual(['operator']);
  return { deployment, spec, container: spec.containers[0]! };
}

/** What the operator would configure itself with, started in a pod of this Deployment. */
function configFromDeployment(objects: KubeManifest[], namespace: string): OperatorConfig {
  const { container } = operatorContainer(objects);
  return loadConfig([], containerEnv(container, 'operator-pod-0', namespace), 'unused-hostname');
}

function rulesOf(role: KubeManifest): { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }[] {
  return role.rules as never;
}

describe('helm lint', () => {
  it('passes --strict with the default values', async () => {
    const res = await helm(['lint', '--strict', CHART]);
    expect(res.stdout + res.stderr).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(res.code).toBe(0);
  });

  it('passes --strict with non-default values', async () => {
    const values = valuesFile(NON_DEFAULT);
    try {
      const res = await helm(['lint', '--strict', CHART, '-f', values.path]);
      expect(res.code, res.stdout + res.stderr).toBe(0);
    } finally {
      values.remove();
    }
  });
});

describe('the default values', () => {
  it('render the operator, its RBAC, the metrics Service and a bundled 3-server NATS cluster', async () => {
    const { objects } = await template(RELEASE, NAMESPACE);
    const names = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort();
    expect(names).toEqual(
      [
        `ClusterRole//${RELEASE}-nats-rooms-operator`,
        `ClusterRoleBinding//${RELEASE}-nats-rooms-operator`,
        `ConfigMap/${NAMESPACE}/nats-config`,
        `Deployment/${NAMESPACE}/${RELEASE}-nats-rooms-operator`,
        `PodDisruptionBudget/${NAMESPACE}/nats`,
        `Role/${NAMESPACE}/${RELEASE}-nats-rooms-operator`,
        `Role/${NAMESPACE}/${RELEASE}-nats-rooms-operator-leader-election`,
        `Role/${NAMESPACE}/${RELEASE}-nats-rooms-operator-nats`,
        `RoleBinding/${NAMESPACE}/${RELEASE}-nats-rooms-operator`,
        `RoleBinding/${NAMESPACE}/${RELEASE}-nats-rooms-operator-leader-election`,
        `RoleBinding/${NAMESPACE}/${RELEASE}-nats-rooms-operator-nats`,
        `Service/${NAMESPACE}/${RELEASE}-nats-rooms-operator-metrics`,
        `Service/${NAMESPACE}/nats`,
        `Service/${NAMESPACE}/nats-headless`,
        `ServiceAccount/${NAMESPACE}/${RELEASE}-nats-rooms-operator`,
        `StatefulSet/${NAMESPACE}/nats`,
      ].sort(),
    );
    // No CRDs in the templates (they are in crds/), and no Namespace unless asked for.
    expect(find(objects, 'CustomResourceDefinition')).toEqual([]);
    expect(find(objects, 'Namespace')).toEqual([]);
  });

  it('run the image\'s ENTRYPOINT (`node <flags> dist/main.js`) with `run` as 2 replicas with probes on /healthz and /readyz and a locked-down container', async () => {
    const { objects } = await template(RELEASE, NAMESPACE);
    const { deployment, spec, container } = operatorContainer(objects);
    expect((deployment.spec as { replicas: number }).replicas).toBe(2);
    expect(container.image).toBe('nats-rooms-operator:0.1.0');
    expect(container.command).toEqual(imageEntrypoint());
    expect(container.args).toEqual(['run']);
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.resources).toBeTruthy();
    expect(container.securityContext).toEqual({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.serviceAccountName).toBe(`${RELEASE}-nats-rooms-operator`);
  });

  it('configure the operator for the bundled NATS, with the operator defaults everywhere else', async () => {
    const { objects } = await template(RELEASE, NAMESPACE);
    const config = configFromDeployment(objects, NAMESPACE);
    // The operator's own defaults, for a pod in NAMESPACE: the chart must not drift from them.
    const defaults = loadConfig([], { POD_NAME: 'operator-pod-0', POD_NAMESPACE: NAMESPACE }, 'unused-hostname');
    expect(config).toEqual({
      ...defaults,
      // What the chart decides: the bundled NATS in the release namespace.
      natsNamespace: NAMESPACE,
      natsSelector: `app.kubernetes.io/component=nats,app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/name=nats`,
      clientUrl: `nats://nats.${NAMESPACE}.svc:4222`,
      leaseNamespace: NAMESPACE,
      operatorNamespace: NAMESPACE,
    } satisfies OperatorConfig);
    expect(config).toMatchObject({ reloadStrategy: 'reload', leaderElection: true, identity: 'operator-pod-0', watchNamespaces: [], healthAddr: ':8080' });
  });

  it('select the bundled NATS pods with the operator selector, and give them what the operator needs', async () => {
    const { objects } = await template(RELEASE, NAMESPACE);
    const config = configFromDeployment(objects, NAMESPACE);
    const sts = one(objects, 'StatefulSet', 'nats');
    const stsSpec = sts.spec as { replicas: number; serviceName: string; template: { metadata: { labels: Record<string, string> } } };
    expect(stsSpec.replicas).toBe(3);
    expect(stsSpec.serviceName).toBe('nats-headless');
    const podLabels = stsSpec.template.metadata.labels;
    for (const term of config.natsSelector.split(',')) {
      const [k, v] = term.split('=');
      expect(podLabels[k!], term).toBe(v);
    }
    const spec = podSpec(sts);
    const nats = spec.containers.find((c) => c.name === 'nats')!;
    expect(spec.containers.map((c) => c.name)).toEqual(['nats']); // no reloader with reloadStrategy=reload
    expect(spec.shareProcessNamespace).toBeUndefined();
    expect(nats.image).toMatch(/^nats:2\.(1[1-9]|[2-9]\d)/);
    expect(nats.ports?.map((p) => [p.name, p.containerPort])).toEqual([['nats', 4222], ['cluster', 6222], ['monitor', 8222]]);
    expect(nats.env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    expect(nats.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    // The auth Secret and its shards as a whole directory (kubelet never updates subPath mounts).
    const authVolume = spec.volumes!.find((v) => v.projected)!;
    expect(authVolume.projected!.sources).toEqual([
      { secret: { name: config.authSecretName } },
      ...Array.from({ length: config.authShards }, (_, i) => ({ secret: { name: `${config.authSecretName}-${i + 1}`, optional: true } })),
    ]);
    const authMount = nats.volumeMounts!.find((m) => m.name === authVolume.name)!;
    expect(authMount).toEqual({ name: authVolume.name, mountPath: '/etc/nats-auth', readOnly: true });
    expect(nats.volumeMounts!.every((m) => m.subPath === undefined)).toBe(true);
    expect(nats.volumeMounts!.find((m) => m.mountPath === '/etc/nats-config')).toBeTruthy();
    expect(nats.args).toEqual(['--config', '/etc/nats-config/nats.conf']);

    const conf = (one(objects, 'ConfigMap', 'nats-config').data as Record<string, string>)['nats.conf']!;
    expect(conf).toContain('server_name: $POD_NAME');
    expect(conf).toContain('http_port: 8222');
    expect(conf).toContain('include "../nats-auth/auth.conf"');
    for (let i = 0; i < 3; i++) expect(conf).toContain(`"nats://nats-${i}.nats-headless.${NAMESPACE}.svc:6222"`);

    // The client Service is `nats`, the host of every credentials Secret's nats-url.
    const client = one(objects, 'Service', 'nats');
    expect(config.clientUrl).toBe(`nats://${client.metadata.name}.${NAMESPACE}.svc:4222`);
    expect((client.spec as { ports: unknown[] }).ports).toEqual([{ name: 'nats', port: 4222, targetPort: 'nats', protocol: 'TCP', appProtocol: 'tcp' }]);
    const headless = one(objects, 'Service', 'nats-headless').spec as { clusterIP: string; publishNotReadyAddresses: boolean };
    expect(headless.clusterIP).toBe('None');
    expect(headless.publishNotReadyAddresses).toBe(true);
  });

  it('grant least privilege: cluster-wide only Rooms, Members, their status, credentials Secrets and Events', async () => {
    const { objects } = await template(RELEASE, NAMESPACE);
    expect(rulesOf(one(objects, 'ClusterRole'))).toEqual([
      { apiGroups: ['natsrooms.io'], resources: ['rooms', 'members'], verbs: ['list', 'watch'] },
      { apiGroups: ['natsrooms.io'], resources: ['rooms'], verbs: ['patch'] },
      { apiGroups: ['natsrooms.io'], resources: ['rooms/status', 'members/status'], verbs: ['patch'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['list', 'watch', 'create', 'patch', 'delete'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    ]);
    expect(rulesOf(one(objects, 'Role', `${RELEASE}-nats-rooms-operator-nats`))).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['nats-rooms-auth'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: Array.from({ length: loadConfig([], {}).authShards }, (_, i) => `nats-rooms-auth-${i + 1}`), verbs: ['get', 'patch', 'delete'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    ]);
    expect(rulesOf(one(objects, 'Role', `${RELEASE}-nats-rooms-operator`))).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['nats-rooms-operator-system'], verbs: ['get'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
    expect(rulesOf(one(objects, 'Role', `${RELEASE}-nats-rooms-operator-leader-election`))).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['nats-rooms-operator'], verbs: ['get', 'update'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    ]);
    for (const role of [...find(objects, 'ClusterRole'), ...find(objects, 'Role')]) {
      for (const rule of rulesOf(role)) {
        expect(rule.resources.join(), `${role.metadata.name}`).not.toMatch(/exec|attach|portforward|proxy|\*/);
        expect(rule.verbs).not.toContain('*');
      }
    }
  });
});

describe('non-default values', () => {
  it('reach the operator as the flags they stand for', async () => {
    const { objects } = await template(RELEASE, NAMESPACE, NON_DEFAULT);
    const { deployment, container } = operatorContainer(objects);
    expect((deployment.spec as { replicas: number }).replicas).toBe(3);
    expect(container.image).toBe('example/nats-rooms-operator:9.9.9');
    expect(configFromDeployment(objects, NAMESPACE)).toEqual({
      natsNamespace: 'messaging',
      natsSelector: 'app=my-nats,tier=servers',
      authSecretName: 'rooms-auth',
      authSecretKey: 'rooms.conf',
      authShards: 2,
      maxSecretBytes: 500000,
      watchNamespaces: ['team-a', 'team-b'],
      account: 'CHAT',
      extraSubjectRoots: { 'team-a': ['orders', 'billing.eu'], 'team-b': ['shipping'] },
      budgets: { default: { members: 2000 }, perNamespace: { 'team-a': { members: 20000, rooms: 100, bytes: 8000000 } } },
      jetstreamLimits: { default: { maxFile: 10737418240 }, perNamespace: { 'team-a': { maxMemory: 1048576, maxStreams: 200, maxConsumers: 5000 } } },
      defaultPublish: ['public.>'],
      defaultSubscribe: ['public.>', 'time.now'],
      clientUrl: 'tls://nats.example.internal:4222',
      reloadStrategy: 'sidecar',
      pokePods: false,
      serverTimeoutMs: 30000,
      rolloutParallelism: 2,
      healthAddr: ':9090',
      leaderElection: true,
      leaseName: 'rooms-lease',
      leaseNamespace: 'leases',
      leaseDurationSeconds: 30,
      renewDeadlineMs: 20000,
      retryPeriodMs: 4000,
      operatorNamespace: NAMESPACE,
      systemSecretName: 'rooms-system-user',
      identity: 'operator-pod-0',
      logLevel: 'debug',
      debounceMs: 50,
      maxDelayMs: 500,
      resyncIntervalMs: 60000,
      streamResyncMs: 15000,
    } satisfies OperatorConfig);
    expect(container.ports).toEqual([{ name: 'http', containerPort: 9090, protocol: 'TCP' }]);
  });

  it('set every environment variable the operator reads', async () => {
    const documented = [...usage().matchAll(/\[\$([A-Z_]+)\]/g)].map((m) => m[1]!);
    expect(documented.length).toBeGreaterThan(15);
    for (const values of [{}, NON_DEFAULT]) {
      const { objects } = await template(RELEASE, NAMESPACE, values);
      const names = (operatorContainer(objects).container.env ?? []).map((e) => e.name);
      expect(names.sort()).toEqual([...new Set(documented)].sort());
    }
  });

  it('leave out the bundled NATS, and with watchNamespaces use one Role per namespace and no ClusterRole', async () => {
    const { objects } = await template(RELEASE, NAMESPACE, NON_DEFAULT);
    expect(find(objects, 'StatefulSet')).toEqual([]);
    expect(find(objects, 'ConfigMap')).toEqual([]);
    expect(find(objects, 'ClusterRole')).toEqual([]);
    expect(find(objects, 'ClusterRoleBinding')).toEqual([]);
    const memberRoles = find(objects, 'Role', `${RELEASE}-nats-rooms-operator-members`);
    expect(memberRoles.map((r) => r.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    const bindings = find(objects, 'RoleBinding', `${RELEASE}-nats-rooms-operator-members`);
    expect(bindings.map((r) => r.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    for (const b of bindings) {
      expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: `${RELEASE}-nats-rooms-operator`, namespace: NAMESPACE }]);
    }
    // The NATS namespace: the auth Secret by name, and create (server-side apply creates it, and no
    // ClusterRole covers that any more).
    const natsRole = one(objects, 'Role', `${RELEASE}-nats-rooms-operator-nats`);
    expect(natsRole.metadata.namespace).toBe('messaging');
    expect(rulesOf(natsRole)).toContainEqual({ apiGroups: [''], resources: ['secrets'], resourceNames: ['rooms-auth'], verbs: ['get', 'list', 'watch', 'patch'] });
    expect(rulesOf(natsRole)).toContainEqual({ apiGroups: [''], resources: ['secrets'], verbs: ['create'] });
    expect(rulesOf(natsRole).some((r) => r.resources.includes('statefulsets'))).toBe(false);
    // pokePods=false: the operator never patches a pod.
    expect(rulesOf(natsRole)).toContainEqual({ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] });
    expect(one(objects, 'Role', `${RELEASE}-nats-rooms-operator-leader-election`).metadata.namespace).toBe('leases');
    expect(rulesOf(one(objects, 'Role', `${RELEASE}-nats-rooms-operator`))).toContainEqual({
      apiGroups: [''],
      resources: ['secrets'],
      resourceNames: ['rooms-system-user'],
      verbs: ['get'],
    });
  });

  it('add the config-reloader sidecar to the bundled NATS with reloadStrategy=sidecar', async () => {
    const { objects } = await template(RELEASE, NAMESPACE, { reloadStrategy: 'sidecar' });
    const spec = podSpec(one(objects, 'StatefulSet'));
    expect(spec.shareProcessNamespace).toBe(true);
    expect(spec.containers.map((c) => c.name)).toEqual(['nats', 'reloader']);
    const reloader = spec.containers[1]!;
    expect(reloader.args).toEqual(['-pid', '/var/run/nats/nats.pid', '-config', '/etc/nats-config/nats.conf', '-config', '/etc/nats-auth/auth.conf']);
    expect(reloader.volumeMounts!.map((m) => m.mountPath).sort()).toEqual(['/etc/nats-auth', '/etc/nats-config', '/var/run/nats']);
    expect((one(objects, 'ConfigMap').data as Record<string, string>)['nats.conf']).toContain('pid_file: "/var/run/nats/nats.pid"');
  });

  it('run JetStream in the bundled NATS: a claim per server by default, an emptyDir or none on request', async () => {
    const confOf = (objects: KubeManifest[]) => (one(objects, 'ConfigMap', 'nats-config').data as Record<string, string>)['nats.conf']!;
    const dataMount = (objects: KubeManifest[]) => podSpec(one(objects, 'StatefulSet')).containers[0]!.volumeMounts!.find((m) => m.name === 'data');
    const byDefault = (await template(RELEASE, NAMESPACE)).objects;
    expect(confOf(byDefault)).toContain('jetstream {\n  store_dir: "/data/jetstream"\n  max_memory_store: 256M\n  max_file_store: 8G\n}');
    expect(dataMount(byDefault)).toEqual({ name: 'data', mountPath: '/data' });
    const sts = one(byDefault, 'StatefulSet').spec as { volumeClaimTemplates: { metadata: { name: string }; spec: { resources: { requests: { storage: string } }; storageClassName?: string } }[] };
    expect(sts.volumeClaimTemplates.map((c) => [c.metadata.name, c.spec.resources.requests.storage, c.spec.storageClassName])).toEqual([['data', '10Gi', undefined]]);
    expect((podSpec(one(byDefault, 'StatefulSet')).securityContext as { fsGroup?: number }).fsGroup).toBe(1000);

    const scratch = (await template(RELEASE, NAMESPACE, { nats: { jetstream: { storage: { type: 'emptyDir' } } } })).objects;
    expect((one(scratch, 'StatefulSet').spec as { volumeClaimTemplates?: unknown }).volumeClaimTemplates).toBeUndefined();
    expect(podSpec(one(scratch, 'StatefulSet')).volumes!.find((v) => v.name === 'data')).toEqual({ name: 'data', emptyDir: {} });

    const classed = (await template(RELEASE, NAMESPACE, { nats: { jetstream: { storage: { size: '50Gi', storageClassName: 'fast' } } } })).objects;
    expect((one(classed, 'StatefulSet').spec as typeof sts).volumeClaimTemplates[0]!.spec).toMatchObject({ storageClassName: 'fast', resources: { requests: { storage: '50Gi' } } });

    const off = (await template(RELEASE, NAMESPACE, { nats: { jetstream: { enabled: false } } })).objects;
    expect(confOf(off)).not.toContain('jetstream');
    expect(dataMount(off)).toBeUndefined();
  });

  it('let the operator patch StatefulSets only with reloadStrategy=restart', async () => {
    const { objects } = await template(RELEASE, NAMESPACE, { reloadStrategy: 'restart' });
    expect(rulesOf(one(objects, 'Role', `${RELEASE}-nats-rooms-operator-nats`))).toContainEqual({ apiGroups: ['apps'], resources: ['statefulsets'], verbs: ['patch'] });
    expect(configFromDeployment(objects, NAMESPACE).reloadStrategy).toBe('restart');
  });

  it('drop the leader-election Role without leader election, and refuse several replicas then', async () => {
    const { objects } = await template(RELEASE, NAMESPACE, { replicas: 1, leaderElection: { enabled: false } });
    expect(find(objects, 'Role', `${RELEASE}-nats-rooms-operator-leader-election`)).toEqual([]);
    expect(configFromDeployment(objects, NAMESPACE).leaderElection).toBe(false);
    await expect(template(RELEASE, NAMESPACE, { replicas: 2, leaderElection: { enabled: false } })).rejects.toThrow(/needs leaderElection.enabled/);
  });

  it('use the official NATS chart selector by default when NATS is not bundled', async () => {
    const { objects } = await template(RELEASE, NAMESPACE, { nats: { bundled: false, namespace: 'nats' } });
    const config = configFromDeployment(objects, NAMESPACE);
    expect(config.natsSelector).toBe('app.kubernetes.io/name=nats,app.kubernetes.io/component=nats');
    expect(config.clientUrl).toBe('nats://nats.nats.svc:4222');
    expect(config.natsNamespace).toBe('nats');
  });

  it('render Namespaces with createNamespace, including a separate bundled NATS namespace', async () => {
    const { objects } = await template(RELEASE, NAMESPACE, { createNamespace: true, nats: { namespace: 'messaging' } });
    expect(find(objects, 'Namespace').map((n) => n.metadata.name)).toEqual([NAMESPACE, 'messaging']);
    expect(one(objects, 'StatefulSet').metadata.namespace).toBe('messaging');
    expect(configFromDeployment(objects, NAMESPACE).clientUrl).toBe('nats://nats.messaging.svc:4222');
  });
});

describe('values.schema.json', () => {
  const rejects = async (values: unknown, pattern: RegExp) => {
    await expect(template(RELEASE, NAMESPACE, values)).rejects.toThrow(pattern);
  };

  it('rejects unknown keys, at the top and inside', async () => {
    await rejects({ replica: 2 }, /replica/);
    await rejects({ nats: { bundeld: true } }, /bundeld/);
    await rejects({ leaderElection: { enable: true } }, /enable/);
  });

  it('rejects values of the wrong type or outside their range', async () => {
    await rejects({ reloadStrategy: 'signal' }, /reloadStrategy/);
    await rejects({ logLevel: 'verbose' }, /logLevel/);
    await rejects({ replicas: '2' }, /replicas/);
    await rejects({ watchNamespaces: 'team-a' }, /watchNamespaces/);
    await rejects({ watchNamespaces: ['Team_A'] }, /watchNamespaces/);
    await rejects({ subjectRoots: { 'team-a': ['orders.*'] } }, /subjectRoots/);
    await rejects({ namespaceBudgets: { 'team-a': { members: -1 } } }, /namespaceBudgets/);
    await rejects({ namespaceBudgets: { 'Team_A': { members: 1 } } }, /Team_A/);
    await rejects({ healthPort: 70000 }, /healthPort/);
    await rejects({ nats: { bundled: 1 } }, /bundled/);
    await rejects({ clientUrl: 'http://nats:4222' }, /clientUrl/);
  });
});

describe('crds/', () => {
  it('holds the same files as the top-level crds/', () => {
    const top = join(REPO_ROOT, 'crds');
    const chart = join(CHART, 'crds');
    const list = (dir: string) => readdirSync(dir).filter((f) => !f.startsWith('.')).sort();
    expect(list(chart)).toEqual(list(top));
    for (const f of list(top)) expect(readFileSync(join(chart, f), 'utf8'), f).toBe(readFileSync(join(top, f), 'utf8'));
  });
});
