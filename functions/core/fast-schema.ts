// A per-job fast path for the schema check, the mapper's costliest step after JSON.parse: the
// job's zod schema is compiled once into a plain validator that returns the same value zod's
// safeParse would (a fresh object with the schema's keys in schema order, unknown keys stripped)
// or says "not sure". Only then does zod run — so an invalid event still gets zod's exact reason,
// and any schema construct the compiler does not know (refinements, transforms, defaults,
// catchall, coercion, …) makes the whole schema fall back to zod. Soundness rule: the fast path
// may only accept what zod accepts, with the same output; it may send anything to zod.
//
// Hand-written rather than a library: the validator has to mirror zod 4's own semantics exactly
// (strip mode, `key in input` for optional keys, `.length` of strings, finite numbers), which a
// generic JSON-schema compiler would not; zod's own JIT still allocates a parse context and
// result objects per event. The property test test/unit/fast-schema.property.test.ts checks the
// agreement on generated events.
import type { ZodType } from 'zod';

/** What a compiled validator returns for a value it cannot vouch for (invalid, or unsure). */
export const UNSURE: unique symbol = Symbol('unsure');
export type FastValidator = (value: unknown) => unknown;

/** The minimal view of zod 4 internals the compiler reads (`schema._zod.def`). */
interface ZodDefLike {
  type: string;
  checks?: { _zod: { def: { check: string; [k: string]: unknown } } }[];
  coerce?: boolean;
  shape?: Record<string, { _zod: ZodInternals }>;
  catchall?: unknown;
  innerType?: { _zod: ZodInternals };
  options?: { _zod: ZodInternals }[];
  values?: unknown[];
  entries?: Record<string, unknown>;
}
interface ZodInternals {
  def: ZodDefLike;
  optin?: string;
  optout?: string;
}

const compiled = new WeakMap<object, FastValidator | null>();

/**
 * The job schema's validator: `(value) => output | UNSURE`, or undefined when the schema uses
 * something the compiler does not model (then every event goes through zod, as before).
 * Cached per schema object.
 */
export function fastValidator(schema: ZodType<unknown>): FastValidator | undefined {
  const cached = compiled.get(schema);
  if (cached !== undefined) return cached ?? undefined;
  let fn: FastValidator | null = null;
  try {
    const internals = (schema as unknown as { _zod?: ZodInternals })._zod;
    fn = internals ? (compileNode(internals) ?? null) : null;
  } catch {
    fn = null; // an unexpected internal layout (another zod version): stay with zod
  }
  compiled.set(schema, fn);
  return fn ?? undefined;
}

// Names on Object.prototype: zod's `key in input` is true for them on any object, which the fast
// path would have to mirror for optional keys; such schemas simply stay with zod.
const PROTOTYPE_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

function compileNode(z: ZodInternals): FastValidator | undefined {
  const def = z.def;
  if (def.coerce) return undefined;
  switch (def.type) {
    case 'string':
      return compileString(def);
    case 'number':
      return compileNumber(def);
    case 'boolean':
      return def.checks?.length ? undefined : (v) => (typeof v === 'boolean' ? v : UNSURE);
    case 'literal': {
      const values = def.values ?? [];
      if (def.checks?.length || !values.every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x))) return undefined;
      return (v) => (values.includes(v) && !(typeof v === 'number' && Number.isNaN(v)) ? v : UNSURE);
    }
    case 'enum': {
      const values = Object.values(def.entries ?? {});
      if (def.checks?.length || !values.every((x) => typeof x === 'string' || typeof x === 'number')) return undefined;
      const set = new Set<unknown>(values);
      return (v) => (set.has(v) && !(typeof v === 'number' && !Number.isFinite(v)) ? v : UNSURE);
    }
    case 'optional': {
      const inner = def.innerType && !def.checks?.length ? compileNode(def.innerType._zod) : undefined;
      return inner && ((v) => (v === undefined ? undefined : inner(v)));
    }
    case 'nullable': {
      const inner = def.innerType && !def.checks?.length ? compileNode(def.innerType._zod) : undefined;
      return inner && ((v) => (v === null ? null : inner(v)));
    }
    case 'union':
      return compileUnion(def);
    case 'object':
      return compileObject(def);
    default:
      return undefined;
  }
}

function compileString(def: ZodDefLike): FastValidator | undefined {
  let min = 0;
  let max = Infinity;
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (d.check === 'min_length' && typeof d.minimum === 'number') min = Math.max(min, d.minimum);
    else if (d.check === 'max_length' && typeof d.maximum === 'number') max = Math.min(max, d.maximum);
    else if (d.check === 'length_equals' && typeof d.length === 'number') {
      min = Math.max(min, d.length);
      max = Math.min(max, d.length);
    } else return undefined;
  }
  return (v) => (typeof v === 'string' && v.length >= min && v.length <= max ? v : UNSURE);
}

function compileNumber(def: ZodDefLike): FastValidator | undefined {
  // Bounds as "v must be > lo (or ≥)" and "v must be < hi (or ≤)"; zod 4 rejects NaN and ±Infinity.
  let lo = -Infinity;
  let loInclusive = true;
  let hi = Infinity;
  let hiInclusive = true;
  let safeInt = false;
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (d.check === 'greater_than' && typeof d.value === 'number') {
      if (d.value > lo || (d.value === lo && !d.inclusive)) {
        lo = d.value;
        loInclusive = d.inclusive === true;
      }
    } else if (d.check === 'less_than' && typeof d.value === 'number') {
      if (d.value < hi || (d.value === hi && !d.inclusive)) {
        hi = d.value;
        hiInclusive = d.inclusive === true;
      }
    } else if (d.check === 'number_format' && d.format === 'safeint') {
      safeInt = true;
    } else return undefined;
  }
  return (v) => {
    if (typeof v !== 'number' || v - v !== 0) return UNSURE; // not a number, NaN or ±Infinity
    if (loInclusive ? !(v >= lo) : !(v > lo)) return UNSURE;
    if (hiInclusive ? !(v <= hi) : !(v < hi)) return UNSURE;
    if (safeInt && !Number.isSafeInteger(v)) return UNSURE;
    return v;
  };
}

function compileUnion(def: ZodDefLike): FastValidator | undefined {
  if (def.checks?.length || !def.options) return undefined;
  const options: FastValidator[] = [];
  for (const option of def.options) {
    const fn = compileNode(option._zod);
    if (!fn) return undefined;
    options.push(fn);
  }
  // zod returns the first option that accepts; the fast path tries them in the same order.
  return (v) => {
    for (let i = 0; i < options.length; i++) {
      const out = (options[i] as FastValidator)(v);
      if (out !== UNSURE) return out;
    }
    return UNSURE;
  };
}

function compileObject(def: ZodDefLike): FastValidator | undefined {
  if (def.checks?.length || def.catchall !== undefined || !def.shape) return undefined;
  const keys = Object.keys(def.shape);
  const validators: FastValidator[] = [];
  const optional: boolean[] = [];
  for (const key of keys) {
    if (PROTOTYPE_NAMES.has(key)) return undefined;
    const child = (def.shape[key] as { _zod: ZodInternals })._zod;
    const fn = compileNode(child);
    if (!fn) return undefined;
    // Only plain optional(): the key may be absent and then stays absent in the output.
    const isOptional = child.optin === 'optional' && child.optout === 'optional';
    if (!isOptional && (child.optin !== undefined || child.optout !== undefined)) return undefined;
    validators.push(fn);
    optional.push(isOptional);
  }
  const n = keys.length;
  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return UNSURE;
    const input = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = keys[i] as string;
      const value = input[key];
      if (value === undefined) {
        if (!optional[i]) return UNSURE;
        // zod keeps a present-but-undefined key (JSON never produces one) and omits an absent one.
        if (key in input) out[key] = undefined;
        continue;
      }
      const result = (validators[i] as FastValidator)(value);
      if (result === UNSURE) return UNSURE;
      out[key] = result;
    }
    return out;
  };
}
