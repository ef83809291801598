// How the operator's JavaScript heap grows. Its live heap is small (about 60 MB at 10,000 members)
// but it allocates in bursts: each compile of the whole config, each page of a list. V8 then grows the
// old generation up to four times what survived the last full collection before collecting again, so
// the process sat at several times its live size (peak 347 MB at 10,000 members). A growing factor of
// 1.3 keeps it near what it holds, for a few more full collections.
import { setFlagsFromString } from 'node:v8';

const HEAP_GROWING_FLAG = '--heap-growing-percent';
const HEAP_GROWING_PERCENT = 30;

/** The flag to set, unless node was started with a growing factor (NODE_OPTIONS cannot carry one). */
export function heapGrowingFlag(execArgv: readonly string[]): string | undefined {
  const given = execArgv.some((a) => a.replace(/_/g, '-').startsWith(HEAP_GROWING_FLAG));
  return given ? undefined : `${HEAP_GROWING_FLAG}=${HEAP_GROWING_PERCENT}`;
}

/** V8 reads this flag at every full collection, so setting it once started still takes effect. */
export function tuneHeapGrowth(): void {
  const flag = heapGrowingFlag(process.execArgv);
  if (flag) setFlagsFromString(flag);
}
