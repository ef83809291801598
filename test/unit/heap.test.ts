import { describe, expect, it } from 'vitest';
import { heapGrowingFlag } from '../../src/heap.js';

describe('heapGrowingFlag', () => {
  it('sets a growing factor of 1.3 by default', () => {
    expect(heapGrowingFlag([])).toBe('--heap-growing-percent=30');
  });
  it('leaves one chosen on the command line alone', () => {
    expect(heapGrowingFlag(['--heap-growing-percent=80'])).toBeUndefined();
    expect(heapGrowingFlag(['--heap_growing_percent=80'])).toBeUndefined();
    expect(heapGrowingFlag(['--max-old-space-size=512'])).toBe('--heap-growing-percent=30');
  });
});
