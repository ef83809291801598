// Structural validation of Rooms and Members by interpreting the very schemas the CRDs are generated
// from: the same types, patterns, lengths, enums, set semantics and (through their TypeScript twins)
// CEL rules. What the API server would reject at admission, this rejects too; objects read from files
// (the offline `render` command) or from an older CRD therefore get the same answer as from a cluster.
import { CHECKS, memberSchema, roomSchema, type Rule } from './schema.js';

type Schema = Record<string | symbol, unknown>;

export interface FieldError {
  path: string;
  message: string;
}

export function validateRoomObject(obj: unknown): FieldError[] {
  return validateAgainst(roomSchema, obj, '');
}

export function validateMemberObject(obj: unknown): FieldError[] {
  return validateAgainst(memberSchema, obj, '');
}

export function formatErrors(errors: FieldError[]): string {
  return errors.map((e) => `${e.path || '<root>'}: ${e.message}`).join('; ');
}

function typeOf(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function validateAgainst(schema: Schema, value: unknown, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const fail = (message: string) => errors.push({ path, message });
  const type = schema.type as string | undefined;
  const actual = typeOf(value);
  if (type && actual !== type && !(type === 'number' && actual === 'integer')) {
    fail(`must be of type ${type}, not ${actual}`);
    return errors;
  }
  if (type === 'string') {
    const s = value as string;
    const maxLength = schema.maxLength as number | undefined;
    if (maxLength !== undefined && s.length > maxLength) fail(`must be at most ${maxLength} characters`);
    const pattern = schema.pattern as string | undefined;
    if (pattern && !regexOf(pattern).test(s)) fail(`must match ${pattern}`);
    const enumValues = schema.enum as string[] | undefined;
    if (enumValues && !enumValues.includes(s)) fail(`must be one of ${enumValues.join(', ')}`);
  }
  if (type === 'array') {
    const items = value as unknown[];
    const maxItems = schema.maxItems as number | undefined;
    if (maxItems !== undefined && items.length > maxItems) fail(`must have at most ${maxItems} items`);
    if (schema['x-kubernetes-list-type'] === 'set' && new Set(items.map((i) => JSON.stringify(i))).size !== items.length) {
      fail('must not contain duplicates');
    }
    const itemSchema = schema.items as Schema | undefined;
    if (itemSchema) items.forEach((item, i) => errors.push(...validateAgainst(itemSchema, item, `${path}[${i}]`)));
  }
  if (type === 'object') {
    const obj = value as Record<string, unknown>;
    const properties = schema.properties as Record<string, Schema> | undefined;
    for (const key of (schema.required as string[] | undefined) ?? []) {
      if (obj[key] === undefined) errors.push({ path: join(path, key), message: 'is required' });
    }
    if (properties) {
      for (const [key, child] of Object.entries(obj)) {
        const childSchema = properties[key];
        if (!childSchema) errors.push({ path: join(path, key), message: 'is not a known field' });
        else if (child !== undefined && !(key === 'metadata' && path === '')) {
          errors.push(...validateAgainst(childSchema, child, join(path, key)));
        }
      }
    }
  }
  // CEL rules run only on values that passed the structural checks, as in the API server.
  if (errors.length === 0) {
    for (const rule of (schema[CHECKS] as Rule<unknown>[] | undefined) ?? []) {
      if (!rule.check(value)) fail(rule.message);
    }
  }
  return errors;
}

const regexCache = new Map<string, RegExp>();
function regexOf(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) regexCache.set(pattern, (re = new RegExp(pattern)));
  return re;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** Validates a Room's spec only: what the compiler needs (status is the operator's own). */
export function validateRoomSpec(spec: unknown): FieldError[] {
  return validateAgainst(specSchemaOf(roomSchema), spec ?? {}, 'spec');
}

export function validateMemberSpec(spec: unknown): FieldError[] {
  return validateAgainst(specSchemaOf(memberSchema), spec ?? {}, 'spec');
}

const specSchemaOf = (schema: Schema) => (schema.properties as Record<string, Schema>).spec as Schema;
