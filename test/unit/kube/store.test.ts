// The reflector's store: a list replaces everything and says whether anything differs (by
// resourceVersion); watch events apply one by one and hand back what was there before.
import { describe, expect, it } from 'vitest';
import { ObjectStore } from '../../../src/kube/store.js';

const obj = (name: string, resourceVersion: string, namespace?: string) => ({ metadata: { name, resourceVersion, ...(namespace && { namespace }) } });

describe('ObjectStore', () => {
  it('tells a relist that changed nothing from one that did', () => {
    const store = new ObjectStore();
    expect(store.replace([obj('a', '1', 'x'), obj('a', '1', 'y')])).toBe(true);
    expect(store.replace([obj('a', '1', 'y'), obj('a', '1', 'x')])).toBe(false);
    expect(store.replace([obj('a', '2', 'x'), obj('a', '1', 'y')])).toBe(true);
    expect(store.replace([obj('a', '2', 'x')])).toBe(true);
    expect(store.size).toBe(1);
    expect(store.get('y', 'a')).toBeUndefined();
  });

  it('keeps the object it holds when a relist brings it at the same resourceVersion, and takes a newer one', () => {
    const store = new ObjectStore();
    const [x, y] = [obj('a', '1', 'x'), obj('a', '1', 'y')];
    store.replace([x, y]);
    expect(store.replace([obj('a', '1', 'x'), obj('a', '2', 'y')])).toBe(true);
    expect(store.get('x', 'a')).toBe(x);
    expect(store.get('y', 'a')).not.toBe(y);
    expect(store.get('y', 'a')?.metadata.resourceVersion).toBe('2');
  });

  it('applies events and returns the previous object; cluster-scoped and namespaced names do not collide', () => {
    const store = new ObjectStore();
    expect(store.apply('ADDED', obj('n', '1'))).toBeUndefined();
    expect(store.apply('ADDED', obj('n', '2', 'ns'))).toBeUndefined();
    expect(store.apply('MODIFIED', obj('n', '3'))?.metadata.resourceVersion).toBe('1');
    expect(store.apply('DELETED', obj('n', '4', 'ns'))?.metadata.resourceVersion).toBe('2');
    expect(store.list().map((o) => o.metadata.resourceVersion)).toEqual(['3']);
  });
});
