// The reflector's list/watch loop against a scripted API on a fake clock: pages, resume from the
// last resourceVersion, relist on 410 Gone and after the relist interval, backoff after failures,
// synced only after a list succeeded, and the watchdog for a silent watch.
import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../../../src/kube/client.js';
import { Reflector, type ReflectorOptions } from '../../../src/kube/reflector.js';
import type { KubeObject, WatchEventType } from '../../../src/kube/types.js';
import { silentLogger } from '../../../src/log.js';
import { FakeClock, settle } from '../../support/fakeClock.js';

const obj = (name: string, resourceVersion: string, generation = 1): KubeObject => ({ metadata: { name, namespace: 'ns', resourceVersion, generation } });

interface OpenWatch {
  resourceVersion: string;
  emit(type: WatchEventType, object: KubeObject | Record<string, unknown>): void;
  end(): void;
  fail(error: Error): void;
  aborted: boolean;
}

/** An API whose lists return `objects` (in pages of two) and whose watches the test drives. */
class ScriptedApi {
  objects: KubeObject[] = [];
  listVersion = '10';
  lists = 0;
  listFailures = 0;
  watches: OpenWatch[] = [];

  get current(): OpenWatch {
    return this.watches.at(-1)!;
  }

  client(): KubeClient {
    return {
      get: async (_path: string, query: { continue?: string }) => {
        if (this.listFailures > 0) {
          this.listFailures--;
          throw new Error('connection refused');
        }
        const from = Number(query.continue ?? 0);
        if (from === 0) this.lists++;
        const items = this.objects.slice(from, from + 2);
        const more = from + 2 < this.objects.length;
        return { items, metadata: { resourceVersion: this.listVersion, ...(more && { continue: String(from + 2) }) } };
      },
      watch: (_path: string, query: { resourceVersion: string }, onEvent: (t: WatchEventType, o: KubeObject) => void, signal: AbortSignal) =>
        new Promise<void>((resolve, reject) => {
          const w: OpenWatch = {
            resourceVersion: query.resourceVersion,
            aborted: false,
            emit: (t, o) => {
              try {
                onEvent(t, o as KubeObject);
              } catch (e) {
                reject(e);
              }
            },
            end: resolve,
            fail: reject,
          };
          signal.addEventListener('abort', () => {
            w.aborted = true;
            resolve();
          });
          this.watches.push(w);
        }),
    } as unknown as KubeClient;
  }
}

function setup(options: Partial<ReflectorOptions> = {}) {
  const api = new ScriptedApi();
  const clock = new FakeClock(0);
  let changes = 0;
  const reflector = new Reflector<KubeObject>(api.client(), {
    name: 'test',
    path: '/api/v1/namespaces/ns/things',
    onChange: () => changes++,
    log: silentLogger,
    relistIntervalMs: 60_000,
    watchTimeoutSeconds: 300,
    stallTimeoutMs: 10_000,
    clock,
    ...options,
  });
  return { api, clock, reflector, changes: () => changes };
}

describe('Reflector', () => {
  it('lists every page, is synced only then, and watches from the list resourceVersion', async () => {
    const { api, clock, reflector, changes } = setup();
    api.objects = [obj('a', '1'), obj('b', '2'), obj('c', '3')];
    reflector.start();
    await clock.advance(0);
    expect(reflector.synced).toBe(true);
    expect(reflector.list().map((o) => o.metadata.name)).toEqual(['a', 'b', 'c']);
    expect(changes()).toBe(1);
    expect(api.current.resourceVersion).toBe('10');
    await reflector.stop();
  });

  it('applies watch events, keeps the last resourceVersion (bookmarks too), and filters irrelevant updates', async () => {
    const { api, clock, reflector, changes } = setup({ isRelevantUpdate: (a, b) => a.metadata.generation !== b.metadata.generation });
    api.objects = [obj('a', '1')];
    reflector.start();
    await clock.advance(0);
    api.current.emit('ADDED', obj('b', '11'));
    api.current.emit('MODIFIED', obj('a', '12', 1)); // status only: no reconcile
    expect(changes()).toBe(2);
    api.current.emit('MODIFIED', obj('a', '13', 2));
    api.current.emit('DELETED', obj('b', '14'));
    api.current.emit('BOOKMARK', { metadata: { name: '', resourceVersion: '20' } });
    expect(changes()).toBe(4);
    expect(reflector.list().map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`)).toEqual(['a@13']);
    api.current.end(); // the server's watch timeout: resume, no list
    await clock.advance(0);
    expect(api.lists).toBe(1);
    expect(api.current.resourceVersion).toBe('20');
    await reflector.stop();
  });

  it('relists at once on 410 Gone, without counting a failure', async () => {
    const { api, clock, reflector } = setup();
    api.objects = [obj('a', '1')];
    reflector.start();
    await clock.advance(0);
    api.objects = [obj('a', '1'), obj('z', '30')];
    api.listVersion = '30';
    api.current.emit('ERROR', { code: 410, message: 'too old resource version' });
    await clock.advance(0);
    expect(api.lists).toBe(2);
    expect(reflector.failures).toBe(0);
    expect(reflector.list().map((o) => o.metadata.name)).toEqual(['a', 'z']);
    expect(api.current.resourceVersion).toBe('30');
    await reflector.stop();
  });

  it('relists after the relist interval, and only then', async () => {
    const { api, clock, reflector } = setup({ stallTimeoutMs: 600_000 });
    reflector.start();
    await clock.advance(0);
    await clock.advance(30_000);
    api.current.end();
    await clock.advance(0);
    expect(api.lists).toBe(1);
    await clock.advance(31_000);
    api.current.end();
    await clock.advance(0);
    expect(api.lists).toBe(2);
    expect(api.watches).toHaveLength(3);
    await reflector.stop();
  });

  it('backs off after failures, stays unsynced until a list works, and reports each error', async () => {
    const errors: unknown[] = [];
    const { api, clock, reflector } = setup({ onError: (e) => errors.push(e) });
    api.listFailures = 3;
    reflector.start();
    await clock.advance(0);
    expect(reflector.synced).toBe(false);
    expect(reflector.failures).toBe(1);
    // Backoff 200 ms * 2^failures with jitter (x0.5-1): the third retry comes by 0.4 + 0.8 + 1.6 s.
    await clock.advance(2800);
    expect(errors).toHaveLength(3);
    expect(reflector.synced).toBe(true);
    expect(api.lists).toBe(1);
    await settle();
    expect(reflector.failures).toBe(3); // reset only when a watch ends well
    api.current.end();
    await clock.advance(0);
    expect(reflector.failures).toBe(0);
    await reflector.stop();
  });

  it('aborts a watch that brings nothing for the stall timeout and starts over', async () => {
    const { api, clock, reflector } = setup();
    reflector.start();
    await clock.advance(0);
    const first = api.current;
    await clock.advance(9_999);
    expect(first.aborted).toBe(false);
    first.emit('BOOKMARK', { metadata: { name: '', resourceVersion: '11' } }); // feeds the watchdog
    await clock.advance(9_999);
    expect(first.aborted).toBe(false);
    await clock.advance(1);
    expect(first.aborted).toBe(true);
    expect(reflector.failures).toBe(1);
    await clock.advance(1000);
    expect(api.watches.length).toBe(2);
    expect(api.current.resourceVersion).toBe('11');
    await reflector.stop();
  });

  it('stop() ends a backoff at once', async () => {
    const { api, clock, reflector } = setup();
    api.listFailures = 100;
    reflector.start();
    await clock.advance(0);
    await reflector.stop();
    expect(api.lists).toBe(0);
  });
});
