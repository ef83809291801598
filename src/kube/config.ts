// Where the API server is and how to sign in to it, read without @kubernetes/client-node (importing it
// alone took 72 MB of the operator's memory). The same order as kubectl and client-node: $KUBECONFIG
// (its first file that exists), else ~/.kube/config, else the pod's service account (its token read
// again as kubelet rotates it). A kubeconfig user may use a token, a token file or a client
// certificate; exec and auth-provider plugins are not supported (the operator runs in a pod).
import { existsSync, readFileSync } from 'node:fs';
import type https from 'node:https';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';

/** What KubeClient needs of a kubeconfig (client-node's KubeConfig has the same two methods). */
export interface KubeAccess {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(options: https.RequestOptions): Promise<void>;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** kubelet rotates projected tokens well before they expire; reading again every minute keeps up. */
const TOKEN_REREAD_MS = 60_000;

export function loadKubeAccess(env: NodeJS.ProcessEnv = process.env, serviceAccountDir = SERVICE_ACCOUNT_DIR): KubeAccess {
  const files = (env.KUBECONFIG ?? '').split(':').filter(Boolean);
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  const file = files.find((f) => existsSync(f)) ?? (files.length === 0 && existsSync(home) ? home : undefined);
  if (file) return fromKubeconfig(file);
  if (env.KUBERNETES_SERVICE_HOST && existsSync(join(serviceAccountDir, 'token'))) return inCluster(env, serviceAccountDir);
  throw new Error(files.length > 0 ? `none of the kubeconfig files in KUBECONFIG exists (${files.join(':')})` : 'no kubeconfig (KUBECONFIG, ~/.kube/config) and not in a pod');
}

function inCluster(env: NodeJS.ProcessEnv, dir: string): KubeAccess {
  const host = env.KUBERNETES_SERVICE_HOST!;
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`;
  const ca = readFileSync(join(dir, 'ca.crt'));
  const token = rereadingFile(join(dir, 'token'));
  return {
    getCurrentCluster: () => ({ server }),
    applyToHTTPSOptions: async (o) => {
      o.ca = ca;
      o.headers = { ...o.headers, Authorization: `Bearer ${token()}` };
    },
  };
}

interface NamedCluster {
  name: string;
  cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string; 'insecure-skip-tls-verify'?: boolean; 'tls-server-name'?: string };
}
interface NamedUser {
  name: string;
  user?: {
    token?: string;
    tokenFile?: string;
    'client-certificate-data'?: string;
    'client-key-data'?: string;
    'client-certificate'?: string;
    'client-key'?: string;
    exec?: unknown;
    'auth-provider'?: unknown;
  };
}
interface Kubeconfig {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user?: string } }[];
  clusters?: NamedCluster[];
  users?: NamedUser[];
}

function fromKubeconfig(file: string): KubeAccess {
  const doc = parse(readFileSync(file, 'utf8')) as Kubeconfig;
  const where = `kubeconfig ${file}`;
  const context = doc.contexts?.find((c) => c.name === doc['current-context'])?.context ?? (doc.contexts?.length === 1 ? doc.contexts[0]!.context : undefined);
  if (!context) throw new Error(`${where}: no current context`);
  const cluster = doc.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`${where}: no cluster ${context.cluster} with a server`);
  const user = doc.users?.find((u) => u.name === context.user)?.user ?? {};
  if (user.exec || user['auth-provider']) throw new Error(`${where}: exec and auth-provider credentials are not supported; use a token or a client certificate`);
  const path = (p: string) => (isAbsolute(p) ? p : join(dirname(file), p));
  const data = (inline: string | undefined, ref: string | undefined) => (inline ? Buffer.from(inline, 'base64') : ref ? readFileSync(path(ref)) : undefined);
  const ca = data(cluster['certificate-authority-data'], cluster['certificate-authority']);
  const cert = data(user['client-certificate-data'], user['client-certificate']);
  const key = data(user['client-key-data'], user['client-key']);
  const token = user.token ? () => user.token! : user.tokenFile ? rereadingFile(path(user.tokenFile)) : undefined;
  return {
    getCurrentCluster: () => ({ server: cluster.server }),
    applyToHTTPSOptions: async (o) => {
      if (ca) o.ca = ca;
      if (cert) o.cert = cert;
      if (key) o.key = key;
      if (cluster['insecure-skip-tls-verify']) o.rejectUnauthorized = false;
      if (cluster['tls-server-name']) o.servername = cluster['tls-server-name'];
      if (token) o.headers = { ...o.headers, Authorization: `Bearer ${token()}` };
    },
  };
}

/** A file's trimmed content, read again once it is a minute old. */
function rereadingFile(file: string): () => string {
  let value = '';
  let readAt = -Infinity;
  return () => {
    if (performance.now() - readAt > TOKEN_REREAD_MS) {
      value = readFileSync(file, 'utf8').trim();
      readAt = performance.now();
    }
    return value;
  };
}
