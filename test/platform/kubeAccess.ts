// Ways into the test control plane besides client-node: kubectl with a kubeconfig, a raw GET with the
// admin token (for /livez and /readyz), kubeconfig files, and what a client-node error says.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { stringify } from 'yaml';
import { binary } from '../support/binaries.js';
import type { ControlPlaneInfo, KubectlResult } from './controlPlane.js';

export function kubectl(kubeconfigPath: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      binary('kubectl'),
      [`--kubeconfig=${kubeconfigPath}`, ...args],
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 << 20, env: { ...process.env, KUBECONFIG: kubeconfigPath } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin?.end();
  });
}

export function kubeconfigYaml(server: string, ca: string, user: string, token: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'nro', cluster: { server, 'certificate-authority-data': Buffer.from(ca).toString('base64') } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: `${user}@nro`, context: { cluster: 'nro', user, namespace: 'default' } }],
    'current-context': `${user}@nro`,
  });
}

/** A GET with the admin token outside client-node (for /livez and /readyz). */
export function rawGet(info: Pick<ControlPlaneInfo, 'server' | 'caFile' | 'tokens'>, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${info.server}${path}`,
      { method: 'GET', ca: readFileSync(info.caFile), headers: { Authorization: `Bearer ${info.tokens.admin}` }, timeout: 5000, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The API server's message in a client-node error (its Status body), or the error as text. */
export function messageOf(e: unknown): string {
  const body = (e as { body?: unknown } | undefined)?.body;
  try {
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: unknown } | undefined;
    if (typeof status?.message === 'string') return status.message;
  } catch {
    // not JSON
  }
  return String(e);
}

/** The HTTP status of a client-node error (ApiException.code), if any. */
export function statusOf(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
