import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadKubeAccess } from '../../../src/kube/config.js';

const dir = mkdtempSync(join(tmpdir(), 'nro-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const b64 = (s: string) => Buffer.from(s).toString('base64');

function kubeconfig(name: string, user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      'current-context': 'ctx',
      contexts: [{ name: 'other', context: { cluster: 'c2', user: 'u2' } }, { name: 'ctx', context: { cluster: 'c1', user: 'u1' } }],
      clusters: [{ name: 'c2', cluster: { server: 'https://wrong:1' } }, { name: 'c1', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority-data': b64('CA'), ...cluster } }],
      users: [{ name: 'u2', user: { token: 'wrong' } }, { name: 'u1', user }],
    }),
  );
  return file;
}

async function signIn(env: NodeJS.ProcessEnv, serviceAccountDir?: string): Promise<{ server?: string; options: https.RequestOptions }> {
  const access = loadKubeAccess(env, serviceAccountDir);
  const options: https.RequestOptions = { headers: { Accept: 'application/json' } };
  await access.applyToHTTPSOptions(options);
  return { server: access.getCurrentCluster()?.server, options };
}

describe('loadKubeAccess', () => {
  it("takes the current context's cluster and a client certificate, inline or from files beside the kubeconfig", async () => {
    const inline = await signIn({ KUBECONFIG: kubeconfig('inline', { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') }) });
    expect(inline.server).toBe('https://127.0.0.1:6443');
    expect([String(inline.options.ca), String(inline.options.cert), String(inline.options.key)]).toEqual(['CA', 'CERT', 'KEY']);
    expect(inline.options.headers).toEqual({ Accept: 'application/json' });
    writeFileSync(join(dir, 'client.crt'), 'FILECERT');
    writeFileSync(join(dir, 'client.key'), 'FILEKEY');
    writeFileSync(join(dir, 'ca.crt'), 'FILECA');
    const files = await signIn({ KUBECONFIG: kubeconfig('files', { 'client-certificate': 'client.crt', 'client-key': 'client.key' }, { 'certificate-authority-data': undefined, 'certificate-authority': 'ca.crt', 'tls-server-name': 'api' }) });
    expect([String(files.options.ca), String(files.options.cert), String(files.options.key), files.options.servername]).toEqual(['FILECA', 'FILECERT', 'FILEKEY', 'api']);
  });

  it('signs in with a token or a token file, and takes the first kubeconfig of KUBECONFIG that exists', async () => {
    const token = await signIn({ KUBECONFIG: `${join(dir, 'missing')}:${kubeconfig('token', { token: 'T0K' }, { 'insecure-skip-tls-verify': true })}` });
    expect(token.options.headers).toEqual({ Accept: 'application/json', Authorization: 'Bearer T0K' });
    expect(token.options.rejectUnauthorized).toBe(false);
    writeFileSync(join(dir, 'token-file'), 'FROMFILE\n');
    expect((await signIn({ KUBECONFIG: kubeconfig('tokenfile', { tokenFile: 'token-file' }) })).options.headers).toMatchObject({ Authorization: 'Bearer FROMFILE' });
  });

  it("refuses exec credentials and a kubeconfig without a current cluster, saying why", () => {
    expect(() => loadKubeAccess({ KUBECONFIG: kubeconfig('exec', { exec: { command: 'aws' } }) })).toThrow(/exec and auth-provider credentials are not supported/);
    writeFileSync(join(dir, 'empty'), stringify({ apiVersion: 'v1', kind: 'Config', contexts: [] }));
    expect(() => loadKubeAccess({ KUBECONFIG: join(dir, 'empty') })).toThrow(/no current context/);
    expect(() => loadKubeAccess({ KUBECONFIG: join(dir, 'nope') })).toThrow(/none of the kubeconfig files/);
  });

  it("in a pod: the service account's token and CA, and the API server from the environment", async () => {
    const sa = join(dir, 'sa');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), 'SATOKEN');
    writeFileSync(join(sa, 'ca.crt'), 'SACA');
    const pod = await signIn({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443', HOME: dir }, sa);
    expect(pod.server).toBe('https://[fd00::1]:443');
    expect(String(pod.options.ca)).toBe('SACA');
    expect(pod.options.headers).toMatchObject({ Authorization: 'Bearer SATOKEN' });
  });
});
