// /healthz (the process works), /readyz (caches synced: safe to lead), /metrics (Prometheus).
import http from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthChecks {
  healthy: () => boolean;
  ready: () => boolean;
  registry: Registry;
}

/** Listens on "host:port" or ":port"; resolves with the bound port. */
export function startHealthServer(addr: string, checks: HealthChecks): Promise<{ port: number; close: () => Promise<void> }> {
  const [host, portText] = addr.includes(':') ? [addr.slice(0, addr.lastIndexOf(':')), addr.slice(addr.lastIndexOf(':') + 1)] : ['', addr];
  const server = http.createServer((req, res) => {
    const reply = (code: number, body: string, type = 'text/plain') => {
      res.writeHead(code, { 'Content-Type': type });
      res.end(body);
    };
    if (req.url === '/healthz') return reply(checks.healthy() ? 200 : 500, checks.healthy() ? 'ok\n' : 'watches failing\n');
    if (req.url === '/readyz') return reply(checks.ready() ? 200 : 503, checks.ready() ? 'ok\n' : 'caches not synced\n');
    if (req.url === '/metrics') {
      checks.registry.metrics().then(
        (text) => reply(200, text, checks.registry.contentType),
        (e: Error) => reply(500, e.message),
      );
      return;
    }
    reply(404, 'not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(portText), host || undefined, () => {
      const { port } = server.address() as { port: number };
      resolve({ port, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}
