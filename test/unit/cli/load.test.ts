// Manifests as `kubectl apply -f` reads them: directories in name order, several documents per file,
// the default namespace for objects without one, and a clear problem (file and line) for what the
// API server would refuse, while other kinds are left alone.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadManifests, yamlFilesUnder } from '../../../src/cli/load.js';

const dir = mkdtempSync(join(tmpdir(), 'nro-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const room = (name: string, ns?: string) => `apiVersion: natsrooms.io/v1alpha1\nkind: Room\nmetadata: {name: ${name}${ns ? `, namespace: ${ns}` : ''}}\nspec: {}\n`;

describe('loadManifests', () => {
  it('reads directories recursively in name order, only YAML files', () => {
    const root = join(dir, 'tree');
    mkdirSync(join(root, 'b'), { recursive: true });
    writeFileSync(join(root, 'b', 'x.yaml'), room('second'));
    writeFileSync(join(root, 'a.yml'), room('first'));
    writeFileSync(join(root, 'notes.txt'), 'not a manifest');
    expect(yamlFilesUnder(root).map((f) => f.slice(root.length))).toEqual(['/a.yml', '/b/x.yaml']);
    expect(loadManifests([root], 'default').rooms.map((r) => r.metadata.name)).toEqual(['first', 'second']);
  });

  it('gives objects without a namespace the default one, and skips other kinds', () => {
    const file = join(dir, 'mixed.yaml');
    writeFileSync(file, `${room('r')}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n${room('s', 'team')}`);
    const loaded = loadManifests([file], 'demo');
    expect(loaded.rooms.map((r) => `${r.metadata.namespace}/${r.metadata.name}`)).toEqual(['demo/r', 'team/s']);
    expect(loaded.skipped).toEqual([`${file}:5: v1 ConfigMap`]);
    expect(loaded.problems).toEqual([]);
  });

  it('reports bad YAML, invalid objects and duplicates with file and line, and keeps the good ones', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [room('ok'), 'key: [unclosed\n', `apiVersion: natsrooms.io/v1alpha1\nkind: Member\nmetadata: {name: m}\nspec: {rooms: [{room: r, access: Shout}]}\n`, room('ok')].join('---\n'),
    );
    const loaded = loadManifests([file], 'default');
    expect(loaded.rooms.map((r) => r.metadata.name)).toEqual(['ok']);
    expect(loaded.members).toEqual([]);
    expect(loaded.problems).toHaveLength(3);
    expect(loaded.problems[0]).toMatch(/bad\.yaml:\d+: invalid YAML/);
    expect(loaded.problems[1]).toMatch(/bad\.yaml:\d+: Member default\/m: .*access/);
    expect(loaded.problems[2]).toMatch(/bad\.yaml:\d+: Room default\/ok is defined more than once/);
  });
});
