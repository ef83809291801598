import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { crdManifests } from '../../src/api/crdManifests.js';
import { subjectRules } from '../../src/api/schema.js';
import { validateMemberObject, validateRoomObject } from '../../src/api/validate.js';
import { member, room } from '../support/objects.js';

describe('crds/', () => {
  it('holds exactly what src/api/schema.ts generates (run `npm run generate` after changing the API)', () => {
    const generated = crdManifests();
    expect(readdirSync(new URL('../../crds/', import.meta.url)).sort()).toEqual(Object.keys(generated).sort());
    for (const [name, text] of Object.entries(generated)) {
      expect(readFileSync(new URL(`../../crds/${name}`, import.meta.url), 'utf8'), name).toBe(text);
    }
  });

  it('carries every CEL rule the TypeScript validation checks', () => {
    const text = Object.values(crdManifests()).join('\n');
    for (const { rule, message } of subjectRules) {
      const yamlDocs = Object.values(crdManifests()).map((t) => JSON.stringify(parse(t)));
      expect(yamlDocs.some((d) => d.includes(JSON.stringify(rule).slice(1, -1)))).toBe(true);
      expect(text).toContain(message);
    }
  });
});

describe('structural validation', () => {
  it('reports unknown fields, wrong types, bad enums and patterns with their paths', () => {
    const bad = { ...member('t', 'm'), spec: { rooms: [{ room: 'r', access: 'Read' }], nkey: 42, extra: true } };
    const errors = validateMemberObject(bad).map((e) => `${e.path}: ${e.message}`);
    expect(errors).toEqual([
      'spec.rooms[0].access: must be one of Publish, Subscribe, PublishSubscribe, Request, Respond',
      'spec.nkey: must be of type string, not integer',
      'spec.extra: is not a known field',
    ]);
  });

  it('accepts the documented shapes', () => {
    expect(validateRoomObject(room('t', 'r', { subject: 'rooms.t.r.>', allowedNamespaces: ['a', 'b'], jetstream: { stream: 't_r' } }))).toEqual([]);
    expect(validateMemberObject(member('t', 'm', { rooms: [{ room: 'r', access: 'Request' }, { room: 'r', namespace: 'o', access: 'Respond' }], inboxPrefix: '_INBOX_t_x', deny: { publish: ['a.*'] } }))).toEqual([]);
  });

  it('treats list-type set fields as sets', () => {
    const errors = validateRoomObject(room('t', 'r', { allowedNamespaces: ['a', 'a'] }));
    expect(errors).toEqual([{ path: 'spec.allowedNamespaces', message: 'must not contain duplicates' }]);
  });
});

describe('unknown fields', () => {
  it('are unknown even when named like built-in object properties', () => {
    const errors = validateMemberObject({ ...member('t', 'm'), spec: { toString: 1, constructor: 2 } });
    expect(errors.map((e) => e.path)).toEqual(['spec.toString', 'spec.constructor']);
  });
});
