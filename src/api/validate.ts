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
  return validateAgainst(roomNode, obj, '');
}

export function validateMemberObject(obj: unknown): FieldError[] {
  return validateAgainst(memberNode, obj, '');
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

/**
 * A schema node as the checks below read it: what they need, taken out of the schema once and held in
 * the same shape for every node. The compiler validates every object on every run; reading
 * differently shaped schema objects, property by property, for every value was most of that cost.
 */
interface Node {
  type: string | undefined;
  maxLength: number | undefined;
  pattern: string | undefined;
  regex: RegExp | undefined;
  enumValues: string[] | undefined;
  maxItems: number | undefined;
  minimum: number | undefined;
  maximum: number | undefined;
  isSet: boolean;
  items: Node | undefined;
  required: string[];
  /** The schema's own properties, which decide what is a known field. */
  properties: Record<string, Schema> | undefined;
  children: Map<string, Node>;
  rules: Rule<unknown>[] | undefined;
}

function nodeOf(schema: Schema): Node {
  const pattern = schema.pattern as string | undefined;
  const properties = schema.properties as Record<string, Schema> | undefined;
  return {
    type: schema.type as string | undefined,
    maxLength: schema.maxLength as number | undefined,
    pattern,
    regex: pattern ? new RegExp(pattern) : undefined,
    enumValues: schema.enum as string[] | undefined,
    maxItems: schema.maxItems as number | undefined,
    minimum: schema.minimum as number | undefined,
    maximum: schema.maximum as number | undefined,
    isSet: schema['x-kubernetes-list-type'] === 'set',
    items: schema.items ? nodeOf(schema.items as Schema) : undefined,
    required: (schema.required as string[] | undefined) ?? [],
    properties,
    children: new Map(Object.entries(properties ?? {}).map(([key, child]) => [key, nodeOf(child)])),
    rules: schema[CHECKS] as Rule<unknown>[] | undefined,
  };
}

/** `path` is built only when asked for (undefined: the caller needs no paths, only whether it is valid). */
function validateAgainst(node: Node, value: unknown, path: string | undefined, errors: FieldError[] = []): FieldError[] {
  const before = errors.length;
  const type = node.type;
  const actual = typeOf(value);
  if (type && actual !== type && !(type === 'number' && actual === 'integer')) {
    errors.push({ path: path ?? '', message: `must be of type ${type}, not ${actual}` });
    return errors;
  }
  if (type === 'string') checkString(node, value as string, path, errors);
  else if (type === 'integer' || type === 'number') {
    const n = value as number;
    if (node.minimum !== undefined && n < node.minimum) errors.push({ path: path ?? '', message: `must be at least ${node.minimum}` });
    if (node.maximum !== undefined && n > node.maximum) errors.push({ path: path ?? '', message: `must be at most ${node.maximum}` });
  }
  else if (type === 'array') {
    const items = value as unknown[];
    const maxItems = node.maxItems;
    if (maxItems !== undefined && items.length > maxItems) errors.push({ path: path ?? '', message: `must have at most ${maxItems} items` });
    if (node.isSet && hasDuplicates(items)) errors.push({ path: path ?? '', message: 'must not contain duplicates' });
    const itemNode = node.items;
    if (itemNode) for (let i = 0; i < items.length; i++) validateAgainst(itemNode, items[i], path === undefined ? path : `${path}[${i}]`, errors);
  } else if (type === 'object') {
    const obj = value as Record<string, unknown>;
    const properties = node.properties;
    for (const key of node.required) {
      if (obj[key] === undefined) errors.push({ path: join(path, key) ?? '', message: 'is required' });
    }
    if (properties) {
      for (const key in obj) {
        const child = obj[key];
        const childNode = node.children.get(key);
        // Only the schema's own properties are known fields (not inherited names such as `toString`).
        if (!childNode) errors.push({ path: join(path, key) ?? '', message: 'is not a known field' });
        else if (child !== undefined && !(key === 'metadata' && path === '')) validateAgainst(childNode, child, join(path, key), errors);
      }
    }
  }
  // CEL rules run only on values that passed the structural checks, as in the API server.
  const rules = node.rules;
  if (rules && errors.length === before) {
    for (const rule of rules) if (!rule.check(value)) errors.push({ path: path ?? '', message: rule.message });
  }
  return errors;
}

function checkString(node: Node, s: string, path: string | undefined, errors: FieldError[]): void {
  const maxLength = node.maxLength;
  if (maxLength !== undefined && s.length > maxLength) errors.push({ path: path ?? '', message: `must be at most ${maxLength} characters` });
  if (node.regex && !node.regex.test(s)) errors.push({ path: path ?? '', message: `must match ${node.pattern}` });
  const enumValues = node.enumValues;
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

const join = (path: string | undefined, key: string) => (path === undefined ? undefined : path ? `${path}.${key}` : key);

const roomNode = nodeOf(roomSchema);
const memberNode = nodeOf(memberSchema);
const roomSpecNode = roomNode.children.get('spec')!;
const memberSpecNode = memberNode.children.get('spec')!;

/** Validates a Room's spec only: what the compiler needs (status is the operator's own). */
export function validateRoomSpec(spec: unknown): FieldError[] {
  return validateWithPathsOnError(roomSpecNode, spec ?? {}, 'spec');
}

export function validateMemberSpec(spec: unknown): FieldError[] {
  return validateWithPathsOnError(memberSpecNode, spec ?? {}, 'spec');
}

/** The compiler validates every object on every run: build error paths only for invalid ones. */
function validateWithPathsOnError(node: Node, value: unknown, path: string): FieldError[] {
  const quick = validateAgainst(node, value, undefined);
  return quick.length === 0 ? quick : validateAgainst(node, value, path);
}
