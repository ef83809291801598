// The REST client against a local HTTP server: JSON in and out, API errors as KubeError with the
// Status's reason and message, a request that gets no answer fails at its timeout, and a watch
// streams events until the server ends it or the caller aborts.
import http from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ignoreNotFound, isConflict, isNotFound, KubeClient, KubeError } from '../../../src/kube/client.js';
import type { KubeObject, WatchEventType } from '../../../src/kube/types.js';

let server: http.Server;
let client: KubeClient;
const seen: { method: string; url: string; type?: string; body: string }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, type: req.headers['content-type'], body });
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === '/ok') return res.end(JSON.stringify({ metadata: { name: 'a' } }));
      if (url.pathname === '/missing') {
        res.writeHead(404);
        return res.end(JSON.stringify({ kind: 'Status', reason: 'NotFound', message: 'secrets "x" not found' }));
      }
      if (url.pathname === '/conflict') {
        res.writeHead(409);
        return res.end(JSON.stringify({ kind: 'Status', reason: 'Conflict', message: 'the object has been modified' }));
      }
      if (url.pathname === '/proxy-error') {
        res.writeHead(502);
        return res.end('<html>bad gateway</html>');
      }
      if (url.pathname === '/silent') return; // never answers
      if (url.pathname === '/watch') {
        res.writeHead(200);
        res.write(`${JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', resourceVersion: '1' } } })}\n\n`);
        res.write(`${JSON.stringify({ type: 'MODIFIED', object: { metadata: { name: 'a', resourceVersion: '2' } } })}\n`);
        if (url.searchParams.get('end') === 'yes') res.end();
        return;
      }
      res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  const { port } = server.address() as { port: number };
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  client = new KubeClient(kc);
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('KubeClient', () => {
  it('sends JSON with the query and parses the answer', async () => {
    const got = await client.request<KubeObject>('PATCH', '/ok', { query: { fieldManager: 'me', force: true, skipped: undefined }, body: { a: 1 }, contentType: 'application/merge-patch+json' });
    expect(got.metadata.name).toBe('a');
    expect(seen.at(-1)).toEqual({ method: 'PATCH', url: '/ok?fieldManager=me&force=true', type: 'application/merge-patch+json', body: '{"a":1}' });
  });

  it('turns API errors into KubeError with the Status reason, and tells 404 and 409 apart', async () => {
    const missing = await client.get('/missing').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(KubeError);
    expect(missing).toMatchObject({ status: 404, reason: 'NotFound', message: 'GET /missing: 404 secrets "x" not found' });
    expect(isNotFound(missing)).toBe(true);
    expect(isConflict(await client.request('PUT', '/conflict').catch((e: unknown) => e))).toBe(true);
    expect(await client.getOptional('/missing')).toBeUndefined();
    await expect(ignoreNotFound(client.request('PUT', '/conflict'))).rejects.toThrow(/409 the object has been modified/);
    await expect(client.get('/proxy-error')).rejects.toMatchObject({ status: 502, reason: 'Unknown', message: 'GET /proxy-error: 502 <html>bad gateway</html>' });
  });

  it('fails a request that gets no answer at its timeout', async () => {
    const started = Date.now();
    await expect(client.request('GET', '/silent', { timeoutMs: 200 })).rejects.toThrow('GET /silent: timed out after 200 ms');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('streams watch events until the server ends the watch, skipping blank lines', async () => {
    const events: string[] = [];
    await client.watch('/watch', { end: 'yes' }, (t: WatchEventType, o) => events.push(`${t} ${o.metadata.resourceVersion}`), new AbortController().signal);
    expect(events).toEqual(['ADDED 1', 'MODIFIED 2']);
    expect(seen.at(-1)!.url).toBe('/watch?end=yes&watch=true');
  });

  it('ends a watch quietly when aborted, and with the error when a handler throws', async () => {
    const abort = new AbortController();
    const events: string[] = [];
    await client.watch('/watch', {}, (t) => {
      events.push(t);
      if (events.length === 2) abort.abort();
    }, abort.signal);
    expect(events).toEqual(['ADDED', 'MODIFIED']);
    await expect(client.watch('/watch', {}, () => { throw new Error('handler failed'); }, new AbortController().signal)).rejects.toThrow('handler failed');
    await expect(client.watch('/missing', {}, () => undefined, new AbortController().signal)).rejects.toMatchObject({ status: 404 });
  });
});
