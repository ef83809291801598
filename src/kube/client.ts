// A small Kubernetes REST client: JSON requests and streaming watches over node:https/http, signed in
// as a KubeAccess says (kubeconfig or in-cluster service account, see config.ts; tests pass
// client-node's KubeConfig, which has the same two methods).
//
// Why not client-node's own API clients and ListWatch (1.4, the last release that runs on Node 20):
// its requests carry no timeout, so one request on a dead connection waits forever (what the
// watchdog test met in this project before every request got one); and its ListWatch stops for good
// on any error other than 410 (kubernetes-client/javascript#1933, #2385), watches can stall without
// an error (#364, #596, #958), and a failed first list does not fail start(). The controller needs
// get/list/create/patch/delete and watch with timeouts and aborts it controls, and errors that carry
// the API status; that is all this is.
import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeAccess } from './config.js';
import type { KubeObject, WatchEventType } from './types.js';

export class KubeError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export const isNotFound = (e: unknown): boolean => e instanceof KubeError && e.status === 404;
/** 409: a create of a name that exists, or a write with a stale resourceVersion. */
export const isConflict = (e: unknown): boolean => e instanceof KubeError && e.status === 409;

/** The request's result, or undefined when the object is not there (404); other errors are thrown. */
export async function ignoreNotFound<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

export const CONTENT_TYPE = {
  json: 'application/json',
  mergePatch: 'application/merge-patch+json',
  jsonPatch: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

/** Requests other than watches fail after this long instead of hanging on a dead connection. */
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export class KubeClient {
  private readonly server: URL;

  constructor(private readonly kc: KubeAccess) {
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
  getOptional<T>(path: string): Promise<T | undefined> {
    return ignoreNotFound(this.get<T>(path));
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
