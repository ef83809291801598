// JSON.parse gives every object its own copy of every string. In the cache of 10,000 Members that is
// 10,000 copies each of the apiVersion, the namespace, the access modes, the condition types, reasons,
// messages and times (a heap snapshot: about 5 MB of repeats at 10,000). The pool keeps one copy of
// each value that repeats across objects.

/** Values unique to one object (pooling them would only grow the pool), and a Secret's data, left as it is. */
const UNPOOLED_KEYS = new Set(['uid', 'name', 'resourceVersion', 'creationTimestamp', 'nkey', 'publicKey', 'data']);

/** Longer values are rarely shared (keys, seeds, config text). */
const MAX_POOLED_LENGTH = 128;

export class StringPool {
  private readonly pool = new Map<string, string>();

  /** The pool starts over when this full: values that keep repeating come back, the rest are let go. */
  constructor(private readonly maxEntries = 50_000) {}

  get size(): number {
    return this.pool.size;
  }

  /** The pooled copy of `value`. */
  intern(value: string): string {
    const pooled = this.pool.get(value);
    if (pooled !== undefined) return pooled;
    if (this.pool.size >= this.maxEntries) this.pool.clear();
    this.pool.set(value, value);
    return value;
  }

  /** Swaps, in place, the string values of a fresh JSON value for their pooled copies; returns it. */
  internValues<T>(value: T): T {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = this.pooled(value[i], undefined);
    } else if (typeof value === 'object' && value !== null) {
      const record = value as Record<string, unknown>;
      for (const key in record) record[key] = this.pooled(record[key], key);
    }
    return value;
  }

  private pooled(value: unknown, key: string | undefined): unknown {
    if (key !== undefined && UNPOOLED_KEYS.has(key)) return value;
    if (typeof value === 'string') return value.length <= MAX_POOLED_LENGTH ? this.intern(value) : value;
    return typeof value === 'object' ? this.internValues(value) : value;
  }
}
