// The in-memory copy of one kind of object, keyed by namespace/name. Objects are shared with every
// reader: never mutate them.
import type { KubeObject } from './types.js';

const keyOf = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;

export class ObjectStore<T extends KubeObject> {
  private objects = new Map<string, T>();

  list(): T[] {
    return [...this.objects.values()];
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(keyOf(namespace, name));
  }

  get size(): number {
    return this.objects.size;
  }

  /**
   * Replaces everything with a fresh list; true when anything differs (by resourceVersion). An object
   * at the same resourceVersion stays the one already held: a periodic relist then leaves every cache
   * that follows object identity (compile, render, statuses) as warm as it was.
   */
  replace(fresh: readonly T[]): boolean {
    const next = new Map<string, T>();
    let changed = false;
    for (const o of fresh) {
      const key = keyOf(o.metadata.namespace, o.metadata.name);
      const held = this.objects.get(key);
      const same = held !== undefined && held.metadata.resourceVersion === o.metadata.resourceVersion;
      if (!same) changed = true;
      next.set(key, same ? held : o);
    }
    if (next.size !== this.objects.size) changed = true;
    this.objects = next;
    return changed;
  }

  /** Applies one watch event; returns the object as it was before. */
  apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T): T | undefined {
    const key = keyOf(object.metadata.namespace, object.metadata.name);
    const before = this.objects.get(key);
    if (type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, object);
    return before;
  }
}
