// Writes the generated files: crds/*.yaml from src/api/schema.ts.
import { writeFileSync } from 'node:fs';
import { crdManifests } from '../src/api/crdManifests.js';

for (const [name, text] of Object.entries(crdManifests())) {
  writeFileSync(new URL(`../crds/${name}`, import.meta.url), text);
  console.log(`wrote crds/${name}`);
}
