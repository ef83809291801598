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

/** `path` is built only when asked for (undefined: the caller needs no paths, only whether it is valid). */
function validateAgainst(schema: Schema, value: unknown, path: string | undefined, errors: FieldError[] = []): FieldError[] {
  const before = errors.length;
  const type = schema.type as string | undefined;
  const actual = typeOf(value);
  if (type && actual !== type && !(type === 'number' && actual === 'integer')) {
    errors.push({ path: path ?? '', message: `must be of type ${type}, not ${actual}` });
    return errors;
  }
  if (type === 'string') checkString(schema, value as string, path, errors);
  else if (type === 'array') {
    const items = value as unknown[];
    const maxItems = schema.maxItems as number | undefined;
    if (maxItems !== undefined && items.length > maxItems) errors.push({ path: path ?? '', message: `must have at most ${maxItems} items` });
    if (schema['x-kubernetes-list-type'] === 'set' && hasDuplicates(items)) errors.push({ path: path ?? '', message: 'must not contain duplicates' });
    const itemSchema = schema.items as Schema | undefined;
    if (itemSchema) for (let i = 0; i < items.length; i++) validateAgainst(itemSchema, items[i], path === undefined ? path : `${path}[${i}]`, errors);
  } else if (type === 'object') {
    const obj = value as Record<string, unknown>;
    const properties = schema.properties as Record<string, Schema> | undefined;
    for (const key of (schema.required as string[] | undefined) ?? []) {
      if (obj[key] === undefined) errors.push({ path: join(path, key) ?? '', message: 'is required' });
    }
    if (properties) {
      for (const key in obj) {
        const child = obj[key];
        const childSchema = properties[key];
        if (!childSchema) errors.push({ path: join(path, key) ?? '', message: 'is not a known field' });
        else if (child !== undefined && !(key === 'metadata' && path === '')) validateAgainst(childSchema, child, join(path, key), errors);
      }
    }
  }
  // CEL rules run only on values that passed the structural checks, as in the API server.
  const rules = schema[CHECKS] as Rule<unknown>[] | undefined;
  if (rules && errors.length === before) {
    for (const rule of rules) if (!rule.check(value)) errors.push({ path: path ?? '', message: rule.message });
  }
  return errors;
}

function checkString(schema: Schema, s: string, path: string | undefined, errors: FieldError[]): void {
  const maxLength = schema.maxLength as number | undefined;
  if (maxLength !== undefined && s.length > maxLength) errors.push({ path: path ?? '', message: `must be at most ${maxLength} characters` });
  const pattern = schema.pattern as string | undefined;
  if (pattern && !regexOf(pattern).test(s)) errors.push({ path: path ?? '', message: `must match ${pattern}` });
  const enumValues = schema.enum as string[] | undefined;
  if (enumValues && !enumValues.includes(s)) errors.push({ path: path ?? '', message: `must be one of ${enumValues.join(', ')}` });
}

function hasDuplicates(items: unknown[]): boolean {
  const seen = new Set<unknown>();
  for (const item of items) {
    const key = typeof item === 'object' && item !== null ? JSON.stringify(item) : item;
    if (seen.has(key)) return true;
    seen.add(key);
  }
  return false;
}

const regexCache = new Map<string, RegExp>();
function regexOf(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) regexCache.set(pattern, (re = new RegExp(pattern)));
  return re;
}

const join = (path: string | undefined, key: string) => (path === undefined ? undefined : path ? `${path}.${key}` : key);

/** Validates a Room's spec only: what the compiler needs (status is the operator's own). */
export function validateRoomSpec(spec: unknown): FieldError[] {
  return validateWithPathsOnError(specSchemaOf(roomSchema), spec ?? {}, 'spec');
}

export function validateMemberSpec(spec: unknown): FieldError[] {
  return validateWithPathsOnError(specSchemaOf(memberSchema), spec ?? {}, 'spec');
}

/** The compiler validates every object on every run: build error paths only for invalid ones. */
function validateWithPathsOnError(schema: Schema, value: unknown, path: string): FieldError[] {
  const quick = validateAgainst(schema, value, undefined);
  return quick.length === 0 ? quick : validateAgainst(schema, value, path);
}

const specSchemaOf = (schema: Schema) => (schema.properties as Record<string, Schema>).spec as Schema;
