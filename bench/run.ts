// `npm run bench [-- name...]`: runs the named benchmarks (default: all) and prints JSON lines.
import { benchCompile } from './compile.js';
import { benchBurst, benchPropagation } from './platformBench.js';

const benches: Record<string, () => Promise<void>> = {
  compile: benchCompile,
  propagation: benchPropagation,
  burst: benchBurst,
};

const wanted = process.argv.slice(2);
for (const name of wanted.length > 0 ? wanted : Object.keys(benches)) {
  const bench = benches[name];
  if (!bench) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(benches).join(', ')}`);
    process.exit(2);
  }
  await bench();
}
process.exit(0);
