// The CRD manifests as YAML text, exactly as committed under crds/ (a test keeps them identical).
import { stringify } from 'yaml';
import { memberCrd, roomCrd } from './schema.js';

const HEADER = '# Generated from src/api/schema.ts by `npm run generate`. Do not edit by hand.\n';

const toYaml = (crd: object) => HEADER + stringify(JSON.parse(JSON.stringify(crd)), { lineWidth: 0 });

/** File name under crds/ -> content. */
export function crdManifests(): Record<string, string> {
  return { 'rooms.yaml': toYaml(roomCrd), 'members.yaml': toYaml(memberCrd) };
}
