// A small Kubernetes REST client: JSON requests and streaming watches over node:https/http, with the
// authentication of a client-node KubeConfig (kubeconfig file or in-cluster service account).
// Small on purpose: the controller needs get/list/create/patch/delete and watch, with timeouts and
// aborts it controls (the watchdog), and errors that carry the API status.
import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: unknown[];
    deletionTimestamp?: string;
  };
  [field: string]: unknown;
}

export interface KubeList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

export class KubeError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

export const CONTENT_TYPE = {
  json: 'application/json',
  mergePatch: 'application/merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

/** Requests other than watches fail after this long instead of hanging on a dead connection. */
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export class KubeClient {
  private readonly server: URL;

  constructor(private readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { res } = await this.send(method, path, { timeoutMs: DEFAULT_REQUEST_TIMEOUT_MS, ...options });
    const text = await readAll(res);
    if ((res.statusCode ?? 0) >= 300) throw toKubeError(res.statusCode ?? 0, text, `${method} ${path}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  /** Returns undefined for 404 instead of throwing. */
  async getOptional<T>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (e) {
      if (e instanceof KubeError && e.status === 404) return undefined;
      throw e;
    }
  }

  /**
   * Streams watch events until the server ends the watch, `signal` aborts it, or the connection
   * fails. Resolves on a clean end; rejects with the error otherwise.
   */
  async watch(path: string, query: RequestOptions['query'], onEvent: (type: WatchEventType, object: KubeObject) => void, signal: AbortSignal): Promise<void> {
    const { res, req } = await this.send('GET', path, { query: { ...query, watch: true } }, signal);
    if ((res.statusCode ?? 0) >= 300) throw toKubeError(res.statusCode ?? 0, await readAll(res), `watch ${path}`);
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: res, crlfDelay: Infinity });
      const onAbort = () => {
        req.destroy();
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      lines.on('line', (line) => {
        if (!line.trim()) return;
        try {
          const event = JSON.parse(line) as { type: WatchEventType; object: KubeObject };
          onEvent(event.type, event.object);
        } catch (e) {
          reject(e);
          req.destroy();
        }
      });
      // readline re-emits input errors on itself: an aborted watch ends quietly, anything else fails it.
      const onError = (e: Error) => (signal.aborted ? resolve() : reject(e));
      res.on('error', onError);
      lines.on('error', onError);
      lines.on('close', () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  private async send(method: string, path: string, options: RequestOptions, signal?: AbortSignal): Promise<{ res: http.IncomingMessage; req: http.ClientRequest }> {
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const reqOptions: https.RequestOptions = {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      headers: {
        Accept: 'application/json',
        ...(body !== undefined && { 'Content-Type': options.contentType ?? CONTENT_TYPE.json, 'Content-Length': Buffer.byteLength(body) }),
      },
    };
    await this.kc.applyToHTTPSOptions(reqOptions);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(reqOptions, (res) => {
        resolve({ res, req });
      });
      req.on('error', reject);
      if (options.timeoutMs) req.setTimeout(options.timeoutMs, () => req.destroy(new Error(`${method} ${path}: timed out after ${options.timeoutMs} ms`)));
      if (signal) {
        if (signal.aborted) req.destroy(new Error('aborted'));
        else signal.addEventListener('abort', () => req.destroy(), { once: true });
      }
      if (body !== undefined) req.write(body);
      req.end();
    });
  }
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function toKubeError(status: number, text: string, what: string): KubeError {
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    return new KubeError(status, s.reason ?? 'Unknown', `${what}: ${status} ${s.message ?? text}`);
  } catch {
    return new KubeError(status, 'Unknown', `${what}: ${status} ${text.slice(0, 500)}`);
  }
}

/** API paths of the resources the operator uses. */
export const paths = {
  rooms: (ns?: string) => (ns ? `/apis/natsrooms.io/v1alpha1/namespaces/${ns}/rooms` : '/apis/natsrooms.io/v1alpha1/rooms'),
  members: (ns?: string) => (ns ? `/apis/natsrooms.io/v1alpha1/namespaces/${ns}/members` : '/apis/natsrooms.io/v1alpha1/members'),
  secrets: (ns?: string) => (ns ? `/api/v1/namespaces/${ns}/secrets` : '/api/v1/secrets'),
  pods: (ns: string) => `/api/v1/namespaces/${ns}/pods`,
  events: (ns: string) => `/api/v1/namespaces/${ns}/events`,
  leases: (ns: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
  statefulSets: (ns: string) => `/apis/apps/v1/namespaces/${ns}/statefulsets`,
};
