// Benchmarks print one JSON object per line: {"bench": "...", ...figures}.
export function report(figures: { bench: string } & Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

export function stats(samplesMs: number[]): { minMs: number; medianMs: number; p99Ms: number; maxMs: number } {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const round = (n: number) => +n.toFixed(2);
  return { minMs: round(sorted[0]!), medianMs: round(at(0.5)), p99Ms: round(at(0.99)), maxMs: round(sorted[sorted.length - 1]!) };
}
