// The probes: /healthz follows the watches, /readyz the caches, /metrics serves the registry.
import { Registry, Counter } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { startHealthServer } from '../../../src/controller/health.js';

describe('health server', () => {
  it('answers each probe from its check, and serves the metrics', async () => {
    const state = { healthy: true, ready: false };
    const registry = new Registry();
    new Counter({ name: 'probe_test_total', help: 'a test counter', registers: [registry] }).inc(3);
    const server = await startHealthServer('127.0.0.1:0', { healthy: () => state.healthy, ready: () => state.ready, registry });
    const get = async (path: string) => {
      const r = await fetch(`http://127.0.0.1:${server.port}${path}`);
      return `${r.status} ${(await r.text()).trim().split('\n').filter((l) => !l.startsWith('#')).join(' ')}`;
    };
    try {
      expect(await get('/healthz')).toBe('200 ok');
      expect(await get('/readyz')).toBe('503 caches not synced');
      state.ready = true;
      state.healthy = false;
      expect(await get('/readyz')).toBe('200 ok');
      expect(await get('/healthz')).toBe('500 watches failing');
      expect(await get('/metrics')).toBe('200 probe_test_total 3');
      expect(await get('/other')).toBe('404 not found');
    } finally {
      await server.close();
    }
  });
});
