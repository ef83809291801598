// Helpers for the chart tests: run the pinned helm, render the chart with given values, and pick objects
// out of the rendered stream.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { binary } from '../support/binaries.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const CHART = join(REPO_ROOT, 'helm', 'nats-rooms-operator');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 32 << 20, env: { ...process.env, ...opts.env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin?.end();
  });
}

/** Runs helm with a private, empty home (no repos, no plugins, no cache from the machine). */
export function helm(args: string[]): Promise<RunResult> {
  const home = mkdtempSync(join(tmpdir(), 'nro-helm-home-'));
  return run(binary('helm'), args, {
    env: { HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data'), KUBECONFIG: join(home, 'none') },
  }).finally(() => rmSync(home, { recursive: true, force: true }));
}

/** Writes values to a temp file; returns its path and a remover. */
export function valuesFile(values: unknown): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'nro-values-'));
  const path = join(dir, 'values.yaml');
  writeFileSync(path, stringify(values));
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface KubeManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface Rendered {
  /** helm's output, as is. */
  text: string;
  objects: KubeManifest[];
}

/** `helm template` of the chart; throws with helm's stderr when it fails. */
export async function template(release: string, namespace: string, values: unknown = {}, extraArgs: string[] = []): Promise<Rendered> {
  const file = valuesFile(values);
  try {
    const res = await helm(['template', release, CHART, '--namespace', namespace, '-f', file.path, ...extraArgs]);
    if (res.code !== 0) throw new Error(`helm template failed (${res.code}):\n${res.stderr}`);
    return { text: res.stdout, objects: parseManifests(res.stdout) };
  } finally {
    file.remove();
  }
}

export function parseManifests(text: string): KubeManifest[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`unparsable YAML from helm: ${d.errors.map((e) => e.message).join('; ')}`);
      return d.toJS() as KubeManifest | null;
    })
    .filter((o): o is KubeManifest => o !== null && typeof o === 'object');
}

export function find(objects: KubeManifest[], kind: string, name?: string): KubeManifest[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

export function one(objects: KubeManifest[], kind: string, name?: string): KubeManifest {
  const found = find(objects, kind, name);
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found[0]!;
}

export interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports?: { name?: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
  securityContext?: Record<string, unknown>;
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: unknown;
}

export interface PodSpec {
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string; items?: unknown }; configMap?: { name: string }; projected?: { sources: { secret?: { name: string; optional?: boolean } }[] } }[];
  securityContext?: Record<string, unknown>;
  serviceAccountName?: string;
  shareProcessNamespace?: boolean;
}

export function podSpec(workload: KubeManifest): PodSpec {
  return (workload.spec as { template: { spec: PodSpec } }).template.spec;
}

/**
 * The environment a container would see: literal values, and the downward-API fields a pod named
 * `podName` in `namespace` would get.
 */
export function containerEnv(container: Container, podName: string, namespace: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = podName;
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = namespace;
    else if (e.valueFrom === undefined) env[e.name] = '';
    else throw new Error(`unexpected env source for ${e.name}: ${JSON.stringify(e.valueFrom)}`);
  }
  return env;
}
