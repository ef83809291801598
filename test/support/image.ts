// How the operator's image starts it: the Dockerfile's ENTRYPOINT, read from the file itself so that
// the chart's test and the benchmarks cannot drift from it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DOCKERFILE = fileURLToPath(new URL('../../Dockerfile', import.meta.url));

/** The ENTRYPOINT of the Dockerfile's last stage, e.g. ['node', '--max-semi-space-size=4', '/app/dist/main.js']. */
export function imageEntrypoint(): string[] {
  const lines = readFileSync(DOCKERFILE, 'utf8').split('\n').filter((l) => l.startsWith('ENTRYPOINT '));
  if (lines.length === 0) throw new Error(`no ENTRYPOINT in ${DOCKERFILE}`);
  return JSON.parse(lines.at(-1)!.slice('ENTRYPOINT '.length)) as string[];
}

/** The node flags the image starts the operator with (between `node` and the script). */
export function imageNodeFlags(): string[] {
  const entrypoint = imageEntrypoint();
  const script = entrypoint.findIndex((a) => a.endsWith('/dist/main.js'));
  if (entrypoint[0] !== 'node' || script < 0) throw new Error(`the image's ENTRYPOINT is not node <flags> .../dist/main.js: ${JSON.stringify(entrypoint)}`);
  return entrypoint.slice(1, script);
}
