// How long after the pokes the first server is first reloaded. Kubelet delivers a Secret some time
// after the pod is annotated (100-800 ms measured on a real node, 150-450 ms for the kubelet stand-in
// on a loaded machine). A reload made before the delivery starts re-reads the old files whole: at
// 10,000 members that is half a second lost before the retry. One made while the delivery is half done
// is refused in milliseconds (the shard guards, render.ts). So the wait follows where the last
// reloads found the delivery: later after a reload that found the old files (by half that reload's
// cost: a cheap reload says little), earlier after one that found the new files at once.

/** The wait when nothing is known, and the least it gets: about the quickest kubelet delivers. */
export const MIN_FIRST_RELOAD_MS = 100;
/** The most it gets: about kubelet's slowest delivery measured. */
export const MAX_FIRST_RELOAD_MS = 1000;

/** What a reload found on disk: the old files, a half-delivered generation (refused), or the new files. */
export type Found = 'old' | 'half' | 'new';

export class FirstReloadWait {
  private wait = MIN_FIRST_RELOAD_MS;

  get ms(): number {
    return Math.round(this.wait);
  }

  /**
   * The first server's reload made at the wait, or a later one that found the old files; started
   * `sincePokeMs` after the pokes, it took `tookMs`.
   */
  observe(sincePokeMs: number, tookMs: number, found: Found): void {
    // Where the delivery likely started: after an "old" reload (somewhere during it, when the retry
    // right after it finds the files), at a "half" one; a "new" one says only "earlier".
    const started = found === 'old' ? sincePokeMs + tookMs / 2 : found === 'half' ? sincePokeMs : MIN_FIRST_RELOAD_MS;
    if (found === 'old' && started <= this.wait) return;
    // Down slowly: below the delivery, the next reload pays a whole re-read of the old files.
    const weight = found === 'new' ? 0.1 : 0.5;
    this.wait = Math.min(MAX_FIRST_RELOAD_MS, Math.max(MIN_FIRST_RELOAD_MS, this.wait + (started - this.wait) * weight));
  }
}
