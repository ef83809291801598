// deploy/ is generated from the chart by scripts/generate-deploy.sh: it must be exactly what the script
// writes today (so a chart change without regenerating fails here), and complete for a bare
// `kubectl apply -f deploy/`.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binary } from '../support/binaries.js';
import { REPO_ROOT, find, one, parseManifests, run, type KubeManifest } from './helm.js';

const DEPLOY = join(REPO_ROOT, 'deploy');
const yamlFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

let fresh: string;
let generation: { code: number; stdout: string; stderr: string };

beforeAll(async () => {
  fresh = mkdtempSync(join(tmpdir(), 'nro-deploy-'));
  generation = await run('bash', [join(REPO_ROOT, 'scripts', 'generate-deploy.sh'), fresh], { env: { HELM: binary('helm') } });
});

afterAll(() => rmSync(fresh, { recursive: true, force: true }));

describe('deploy/', () => {
  it('is what scripts/generate-deploy.sh generates from the chart (run it after changing the chart)', () => {
    expect(generation.code, generation.stderr).toBe(0);
    expect(yamlFiles(DEPLOY)).toEqual(yamlFiles(fresh));
    for (const f of yamlFiles(fresh)) {
      expect(readFileSync(join(DEPLOY, f), 'utf8'), `deploy/${f} is stale: run scripts/generate-deploy.sh`).toBe(readFileSync(join(fresh, f), 'utf8'));
    }
  });

  it('holds, in apply order, the Namespace, the CRDs, RBAC, the operator and the bundled NATS', () => {
    expect(yamlFiles(DEPLOY)).toEqual(['00-namespace.yaml', '01-crds.yaml', '02-rbac.yaml', '03-operator.yaml', '04-nats.yaml']);
    const kinds = (f: string) => parseManifests(readFileSync(join(DEPLOY, f), 'utf8')).map((o) => o.kind);
    expect(kinds('00-namespace.yaml')).toEqual(['Namespace']);
    expect(kinds('01-crds.yaml')).toEqual(['CustomResourceDefinition', 'CustomResourceDefinition']);
    expect(new Set(kinds('02-rbac.yaml'))).toEqual(new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']));
    expect(kinds('03-operator.yaml').sort()).toEqual(['Deployment', 'Service']);
    expect(kinds('04-nats.yaml').sort()).toEqual(['ConfigMap', 'PodDisruptionBudget', 'Service', 'Service', 'StatefulSet']);
  });

  it('puts every namespaced object in the namespace it creates, and carries the generated CRDs', () => {
    const all: KubeManifest[] = yamlFiles(DEPLOY).flatMap((f) => parseManifests(readFileSync(join(DEPLOY, f), 'utf8')));
    const ns = one(all, 'Namespace').metadata.name;
    expect(ns).toBe('nats-rooms-operator');
    const clusterScoped = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding']);
    for (const o of all.filter((o) => !clusterScoped.has(o.kind))) expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(ns);
    const crdNames = find(all, 'CustomResourceDefinition').map((c) => c.metadata.name).sort();
    expect(crdNames).toEqual(['members.natsrooms.io', 'rooms.natsrooms.io']);
    const fromTop = yamlFiles(join(REPO_ROOT, 'crds')).flatMap((f) => parseManifests(readFileSync(join(REPO_ROOT, 'crds', f), 'utf8')));
    expect(find(all, 'CustomResourceDefinition').sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))).toEqual(
      fromTop.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)),
    );
  });
});
