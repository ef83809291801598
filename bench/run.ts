// `npm run bench [-- name...]`: runs the named benchmarks (default: all) and prints JSON lines.
import { benchCompile } from './compile.js';
import { benchBurst, benchPropagation, benchPropagation10k, benchScale } from './platformBench.js';
import { benchNodePropagation } from './nodeBench.js';

const benches: Record<string, () => Promise<void>> = {
  compile: benchCompile,
  propagation: benchPropagation,
  'propagation-10k': benchPropagation10k,
  scale: benchScale,
  burst: benchBurst,
  'node-propagation': benchNodePropagation,
};

/** Run only when named: propagation-10k applies 10,000 Members and takes about five minutes, scale
 * 50,000; node-propagation starts a real node (test/e2e/node/, root only). */
const OPT_IN = new Set(['propagation-10k', 'scale', 'node-propagation']);

const wanted = process.argv.slice(2);
for (const name of wanted.length > 0 ? wanted : Object.keys(benches).filter((b) => !OPT_IN.has(b))) {
  const bench = benches[name];
  if (!bench) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  await bench();
}
process.exit(0);
