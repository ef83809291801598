// The in-memory copy of one kind of object, keyed by namespace/name. Objects are shared with every
// reader: never mutate them.
import type { KubeObject } from './types.js';

const keyOf = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;

export class ObjectStore<T extends KubeObject> {
  private readonly objects = new Map<string, T>();

  list(): T[] {
    return [...this.objects.values()];
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(keyOf(namespace, name));
  }

  get size(): number {
    return this.objects.size;
  }

  /** Replaces everything with a fresh list; true when anything differs (by resourceVersion). */
  replace(fresh: readonly T[]): boolean {
    const next = new Map(fresh.map((o) => [keyOf(o.metadata.namespace, o.metadata.name), o] as const));
    let changed = next.size !== this.objects.size;
    for (const [key, obj] of next) if (this.objects.get(key)?.metadata.resourceVersion !== obj.metadata.resourceVersion) changed = true;
    this.objects.clear();
    for (const [key, obj] of next) this.objects.set(key, obj);
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
