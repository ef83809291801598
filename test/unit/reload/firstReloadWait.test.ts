import { describe, expect, it } from 'vitest';
import { FirstReloadWait, MAX_FIRST_RELOAD_MS, MIN_FIRST_RELOAD_MS } from '../../../src/reload/firstReloadWait.js';

describe('FirstReloadWait', () => {
  it('starts at the least wait and stays there while the first reload finds the new files', () => {
    const wait = new FirstReloadWait();
    expect(wait.ms).toBe(MIN_FIRST_RELOAD_MS);
    for (let i = 0; i < 5; i++) wait.observe(MIN_FIRST_RELOAD_MS, 600, 'new');
    expect(wait.ms).toBe(MIN_FIRST_RELOAD_MS);
  });

  it('waits longer after a costly reload that found the old files, hardly longer after a cheap one', () => {
    const costly = new FirstReloadWait();
    costly.observe(100, 600, 'old');
    // Delivery started somewhere in the 600 ms reload: about 400 ms; the wait moves half-way there.
    expect(costly.ms).toBe(250);
    const cheap = new FirstReloadWait();
    cheap.observe(100, 4, 'old');
    expect(cheap.ms).toBe(101);
  });

  it('settles where the delivery starts, and comes back down when delivery gets quicker', () => {
    // Kubelet starts writing 300 ms after the pokes and is done at 350. A reload of the old or the new
    // files costs 600 ms; a half-delivered generation is refused in 25.
    const found = (at: number, start: number, end: number) => (at < start ? 'old' : at < end ? 'half' : 'new');
    const cost = { old: 600, half: 25, new: 600 };
    const wait = new FirstReloadWait();
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) {
      const f = found(wait.ms, 300, 350);
      seen.push(f);
      wait.observe(wait.ms, cost[f], f);
    }
    expect(seen.filter((f) => f === 'old').length).toBeLessThanOrEqual(2);
    expect(seen.slice(-3)).toEqual(['half', 'half', 'half']);
    expect(wait.ms).toBeGreaterThanOrEqual(300);
    expect(wait.ms).toBeLessThan(350);
    // Now kubelet is done within 100 ms: the first reloads find the new files, and the wait comes down.
    for (let i = 0; i < 20; i++) wait.observe(wait.ms, 600, found(wait.ms, 80, 100));
    expect(wait.ms).toBeLessThan(140);
  });

  it('never waits longer than kubelet\'s slowest delivery', () => {
    const wait = new FirstReloadWait();
    for (let i = 0; i < 20; i++) wait.observe(wait.ms, 5000, 'old');
    expect(wait.ms).toBe(MAX_FIRST_RELOAD_MS);
  });
});
