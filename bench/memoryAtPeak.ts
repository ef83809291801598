// Where the operator's memory goes at its peak: its own /metrics (prom-client's process and V8 heap
// gauges) read every second, and the reading with the highest resident size kept. The kernel's
// high-water mark (processCost.ts) is the figure; this says what it is made of, within a second.
import { metricsText, samplesIn, valueIn } from '../test/support/metrics.js';

const PREFIX = 'nats_rooms_operator_';
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

export interface MemoryAtPeak {
  rssMb: number;
  /** V8's heap: committed, and live (in use) at the reading. */
  heapTotalMb: number;
  heapUsedMb: number;
  /** Memory of ArrayBuffers and Buffers, outside the heap. */
  externalMb: number;
  /** Committed size of each V8 heap space (new, old, large_object, code, ...). */
  spacesMb: Record<string, number>;
  /** What none of the above holds: node and V8 themselves, their threads' stacks, malloc. */
  otherMb: number;
}

/** Reads the operator's memory every `periodMs` until stop(), which returns the reading at the highest RSS. */
export function memoryAtPeak(op: { healthPort: number }, periodMs = 1000): { stop(): Promise<MemoryAtPeak | undefined> } {
  let peak: MemoryAtPeak | undefined;
  let stopped = false;
  const read = async () => {
    const text = await metricsText(op).catch(() => undefined);
    if (!text) return;
    const rss = valueIn(text, `${PREFIX}process_resident_memory_bytes`);
    if (peak && mb(rss) <= peak.rssMb) return;
    const heapTotal = valueIn(text, `${PREFIX}nodejs_heap_size_total_bytes`);
    const external = valueIn(text, `${PREFIX}nodejs_external_memory_bytes`);
    peak = {
      rssMb: mb(rss),
      heapTotalMb: mb(heapTotal),
      heapUsedMb: mb(valueIn(text, `${PREFIX}nodejs_heap_size_used_bytes`)),
      externalMb: mb(external),
      spacesMb: Object.fromEntries(samplesIn(text, `${PREFIX}nodejs_heap_space_size_total_bytes`).map((s) => [s.labels.space!, mb(s.value)])),
      otherMb: mb(rss - heapTotal - external),
    };
  };
  const loop = (async () => {
    while (!stopped) {
      await read();
      await new Promise((r) => setTimeout(r, periodMs));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return peak;
    },
  };
}
