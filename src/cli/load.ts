// Reads Room and Member manifests from YAML files or directories, as `kubectl apply -f` would.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, type Member, type Room } from '../api/types.js';
import { formatErrors, validateMemberObject, validateRoomObject } from '../api/validate.js';

export interface Loaded {
  rooms: Room[];
  members: Member[];
  /** Problems that make a manifest unusable: bad YAML, unknown fields, duplicates. */
  problems: string[];
  /** Documents that are not Rooms or Members (left alone). */
  skipped: string[];
}

export function yamlFilesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((entry) => {
      const full = join(path, entry);
      if (statSync(full).isDirectory()) return yamlFilesUnder(full);
      return /\.ya?ml$/.test(entry) ? [full] : [];
    });
}

export function loadManifests(paths: readonly string[], defaultNamespace: string): Loaded {
  const loaded: Loaded = { rooms: [], members: [], problems: [], skipped: [] };
  const seen = new Set<string>();
  for (const file of paths.flatMap(yamlFilesUnder)) {
    const text = readFileSync(file, 'utf8');
    const docs = parseAllDocuments(text);
    for (const doc of Array.isArray(docs) ? docs : [docs]) {
      const where = `${file}:${text.slice(0, doc.range?.[0] ?? 0).split('\n').length}`;
      if (doc.errors.length > 0) {
        loaded.problems.push(`${where}: invalid YAML: ${doc.errors[0]!.message}`);
        continue;
      }
      const obj = doc.toJS() as Record<string, unknown> | null;
      if (obj === null || typeof obj !== 'object') continue;
      const kind = obj.kind;
      if (obj.apiVersion !== API_VERSION || (kind !== 'Room' && kind !== 'Member')) {
        loaded.skipped.push(`${where}: ${String(obj.apiVersion)} ${String(kind)}`);
        continue;
      }
      const meta = (obj.metadata ?? {}) as Record<string, unknown>;
      const withNamespace = { ...obj, metadata: { ...meta, namespace: meta.namespace ?? defaultNamespace } };
      const id = `${kind} ${String(withNamespace.metadata.namespace)}/${String(meta.name)}`;
      const errors = kind === 'Room' ? validateRoomObject(withNamespace) : validateMemberObject(withNamespace);
      if (errors.length > 0) {
        loaded.problems.push(`${where}: ${id}: ${formatErrors(errors)}`);
        continue;
      }
      if (seen.has(id)) {
        loaded.problems.push(`${where}: ${id} is defined more than once`);
        continue;
      }
      seen.add(id);
      if (kind === 'Room') loaded.rooms.push(withNamespace as unknown as Room);
      else loaded.members.push(withNamespace as unknown as Member);
    }
  }
  return loaded;
}
