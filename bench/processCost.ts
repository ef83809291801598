// What a process costs, read from /proc (Linux): its CPU seconds so far (user + system), its peak
// resident memory (VmHWM, the kernel's high-water mark, so no sample can miss a peak), and its CPU
// share over a quiet interval.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) in parentheses: utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

export function peakRssMb(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Math.round(Number(kb) / 1024);
}

/** Percent of one core the process used over `ms` of wall time. */
export async function cpuPercentOver(pid: number, ms: number): Promise<number> {
  const before = cpuSeconds(pid);
  const started = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return +((100 * (cpuSeconds(pid) - before)) / ((performance.now() - started) / 1000)).toFixed(2);
}

/**
 * The figures every platform benchmark reports for the operator process. `windows` > 1 measures the
 * idle CPU over that many intervals in a row (`operatorIdleCpuPercentByWindow`): V8 collects and
 * shrinks the heap for a while after activity stops (its memory reducer), which the first interval
 * holds and the later ones show gone.
 */
export async function operatorCost(
  pid: number,
  idleMs: number,
  windows = 1,
): Promise<{ operatorPeakRssMb: number; operatorCpuSeconds: number; operatorIdleCpuPercent: number; idleMs: number; operatorIdleCpuPercentByWindow?: number[] }> {
  const operatorCpuSeconds = +cpuSeconds(pid).toFixed(1);
  const byWindow: number[] = [];
  for (let i = 0; i < windows; i++) byWindow.push(await cpuPercentOver(pid, idleMs));
  return { operatorPeakRssMb: peakRssMb(pid), operatorCpuSeconds, operatorIdleCpuPercent: byWindow[0]!, idleMs, ...(windows > 1 && { operatorIdleCpuPercentByWindow: byWindow }) };
}
