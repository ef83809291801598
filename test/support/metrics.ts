// Reads the operator's Prometheus metrics from its health endpoint (tests and benchmarks).

/** The operator's /metrics page, as text. */
export async function metricsText(op: { healthPort: number }): Promise<string> {
  return (await fetch(`http://127.0.0.1:${op.healthPort}/metrics`)).text();
}

/** One metric value (0 when absent); `labels` as they appear between the braces, e.g. `kind="Member"`. */
export async function metric(op: { healthPort: number }, name: string, labels = ''): Promise<number> {
  return valueIn(await metricsText(op), name, labels);
}

/** One metric value in a /metrics page (0 when absent). */
export function valueIn(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `) || (!labels && l.startsWith(`${name} `)));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** Every sample of a labelled metric: its labels and value. */
export async function samples(op: { healthPort: number }, name: string): Promise<{ labels: Record<string, string>; value: number }[]> {
  return samplesIn(await metricsText(op), name);
}

/** Every sample of a labelled metric in a /metrics page. */
export function samplesIn(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labels = Object.fromEntries([...line.slice(name.length + 1, line.lastIndexOf('}')).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    out.push({ labels, value: Number(line.split(' ').pop()) });
  }
  return out;
}
