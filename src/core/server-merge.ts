// How an inventory write meets the stored server: a body in the input shape, or a record as GET returned it, is
// read into the input shape, merged over the stored server (fields not given are kept) and compared for a diff.
import { z } from 'zod';
import { RackhandError } from '../errors.js';
import { serverInputSchema, type ServerInput, type ServerRecord } from '../domain/server.js';

type Obj = Record<string, unknown>;
type Shape = Record<string, z.ZodType>;

/**
 * What a server record shows that is rackhand's own state, not inventory: accepted in a body (a record read
 * with GET may be sent back whole) and ignored. Keyed by the field holding them ('' for the record itself).
 */
export const READ_ONLY_SERVER_FIELDS: Readonly<Record<string, readonly string[]>> = {
  '': ['power', 'netboot', 'suspended', 'createdAt', 'updatedAt', 'created_at', 'updated_at'],
  bmc: ['passwordSet', 'password_set'],
  console: ['passwordSet', 'password_set'],
  interfaces: ['id'],
};

/** The body of an inventory write as documented (every field optional: a merge keeps what is not given). */
export const serverWriteSchema = z
  .object(serverInputSchema.shape)
  .partial()
  .describe(
    'A server in the input shape. Merge (default): fields not given keep their stored value; replace (mode=replace): they take their ' +
      'defaults. A record as GET returns it is accepted too: camelCase names are read as their snake_case input names and read-only ' +
      'fields (power, netboot, suspended, createdAt, updatedAt, passwordSet, interface ids) are ignored. Passwords are write-only: ' +
      'left out, the stored one is kept. null clears an optional field (owner_id, rack_position, os, bmc, console…). Arrays ' +
      '(interfaces, tags, groups, hardware) are replaced when given.',
  );

/**
 * The stored server merged with a write. `stored` undefined (a new server, or mode replace): the write alone.
 * Objects (bmc, console) merge field by field; arrays are replaced; null clears an optional field.
 */
export function mergeServerInput(stored: Obj | undefined, write: Obj): Obj {
  return mergeInto(stored, normaliseServerBody(write), shapeOf(serverInputSchema)!);
}

/**
 * A write body in the input shape: camelCase names as their snake_case field (rackPosition → rack_position),
 * read-only fields dropped. Unknown names stay, so validation names them.
 */
export function normaliseServerBody(body: Obj): Obj {
  const { billing, ...rest } = body;
  return normalise(isObj(billing) ? { ...billingFields(billing), ...rest } : body, shapeOf(serverInputSchema)!, '');
}

/** A stored server in the input shape (without its write-only passwords): what a merge starts from. */
export function recordToInput(record: ServerRecord): Obj {
  return fromRecord({ ...record, ...billingFields(record.billing) } as unknown as Obj, shapeOf(serverInputSchema)!);
}

/** The record keeps billing facts in one object; the input names them flat, as central's seed does. */
function billingFields(b: Obj | undefined): Obj {
  return isObj(b) ? { recurring: b.recurring, nextduedate: b.nextDueDate ?? b.nextduedate, billingcycle: b.billingCycle ?? b.billingcycle } : {};
}

export interface FieldChange {
  /** Dotted field name (bmc.host). */
  field: string;
  from: unknown;
  to: unknown;
}

/**
 * What a write changes, field by field (bmc and console by their own fields). Passwords are never shown: a given
 * one appears as changed when `secretChanged` says it differs from the stored one.
 */
export function diffServer(before: ServerInput | undefined, after: ServerInput, secretChanged: (field: 'bmc' | 'console') => boolean): FieldChange[] {
  const out: FieldChange[] = [];
  const b = (before ?? {}) as Obj;
  const a = after as Obj;
  for (const key of Object.keys(shapeOf(serverInputSchema)!)) {
    if (key === 'id') continue;
    const from = b[key];
    const to = a[key];
    if ((key === 'bmc' || key === 'console') && isObj(from) && isObj(to)) {
      for (const k of new Set([...Object.keys(from), ...Object.keys(to)])) {
        if (k === 'password') continue;
        if (!sameValue(from[k], to[k])) out.push({ field: `${key}.${k}`, from: from[k] ?? null, to: to[k] ?? null });
      }
    } else if (!sameValue(from, to)) {
      out.push({ field: key, from: withoutPassword(from) ?? null, to: withoutPassword(to) ?? null });
    }
    if ((key === 'bmc' || key === 'console') && isObj(to) && to.password !== undefined && secretChanged(key)) {
      out.push({ field: `${key}.password`, from: isObj(from) ? '(stored)' : '(none)', to: '(new value)' });
    }
  }
  return out;
}

// ---- the schema walk

/** What a field's schema holds, found once per schema: an object's shape, or an array's element shape. */
const kinds = new WeakMap<z.ZodType, { shape?: Shape; element?: Shape }>();

function kindOf(schema: z.ZodType | undefined): { shape?: Shape; element?: Shape } {
  if (!schema) return {};
  let k = kinds.get(schema);
  if (!k) {
    const s = unwrap(schema) as { _zod: { def: { type: string; element?: z.ZodType } }; shape?: Shape } | undefined;
    k = s?._zod.def.type === 'object' ? { shape: s.shape } : s?._zod.def.type === 'array' ? { element: kindOf(s._zod.def.element).shape } : {};
    kinds.set(schema, k);
  }
  return k;
}

/** The object shape a field's schema holds (through optional, default, nullable), if it is an object. */
const shapeOf = (schema: z.ZodType | undefined) => kindOf(schema).shape;

/** The element shape of an array-of-objects field (interfaces, tags, groups). */
const elementShapeOf = (schema: z.ZodType | undefined) => kindOf(schema).element;

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let s = schema as { _zod: { def: { type: string; innerType?: z.ZodType } } } | undefined;
  while (s && ['optional', 'nullable', 'default', 'prefault', 'readonly'].includes(s._zod.def.type)) s = s._zod.def.innerType as typeof s;
  return s as z.ZodType | undefined;
}

const accepts = (schema: z.ZodType, v: unknown) => schema.safeParse(v).success;

function normalise(body: Obj, shape: Shape, at: string): Obj {
  const readOnly = READ_ONLY_SERVER_FIELDS[at] ?? [];
  const out: Obj = {};
  for (const [k, v] of Object.entries(body)) {
    if (readOnly.includes(k)) continue;
    const name = k in shape ? k : snake(k) in shape ? snake(k) : k;
    if (name in out && !sameValue(out[name], v)) {
      throw new RackhandError('INVALID_INPUT', `${at ? `${at}.` : ''}${name}: given twice (as ${name} and ${k}) with different values`, { field: at ? `${at}.${name}` : name });
    }
    const inner = shapeOf(shape[name]);
    const element = elementShapeOf(shape[name]);
    if (inner && isObj(v)) out[name] = normalise(v, inner, name);
    else if (element && Array.isArray(v)) out[name] = v.map((e) => (isObj(e) ? normalise(e, element, name) : e));
    else out[name] = v;
  }
  return out;
}

function mergeInto(base: Obj | undefined, write: Obj, shape: Shape): Obj {
  const out: Obj = { ...(base ?? {}) };
  for (const [k, v] of Object.entries(write)) {
    const field = shape[k];
    const inner = shapeOf(field);
    const element = elementShapeOf(field);
    if (v === null && field && !accepts(field, null) && accepts(field, undefined)) delete out[k];
    else if (inner && isObj(v)) out[k] = mergeInto(isObj(out[k]) ? out[k] : undefined, v, inner);
    else if (element && Array.isArray(v)) out[k] = v.map((e) => (isObj(e) ? mergeInto(undefined, e, element) : e));
    else out[k] = v;
  }
  return out;
}

function fromRecord(record: Obj, shape: Shape): Obj {
  const out: Obj = {};
  for (const [k, field] of Object.entries(shape)) {
    const v = record[k] !== undefined ? record[k] : record[camel(k)];
    if (v === undefined || v === null) continue;
    const inner = shapeOf(field);
    const element = elementShapeOf(field);
    if (inner && isObj(v)) out[k] = fromRecord(v, inner);
    else if (element && Array.isArray(v)) out[k] = v.map((e) => (isObj(e) ? fromRecord(e, element) : e));
    else out[k] = v;
  }
  return out;
}

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function withoutPassword(v: unknown): unknown {
  if (!isObj(v) || !('password' in v)) return v;
  const { password: _p, ...rest } = v;
  return rest;
}

/** Equal as JSON, whatever the order of object keys (hardware components come in any order). */
function sameValue(a: unknown, b: unknown): boolean {
  return stable(a) === stable(b);
}

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (isObj(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}
