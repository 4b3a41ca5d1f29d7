// CloudFormation intrinsic functions and conditions, resolved against a deployment context:
// Ref (resources, parameters, pseudo parameters), Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select,
// Fn::Split, Fn::If / Fn::Equals / Fn::And / Fn::Or / Fn::Not / Condition, Fn::FindInMap,
// Fn::Base64, Fn::GetAZs, Fn::ImportValue, Fn::ToJsonString, Fn::Length. Pure: the deployer
// supplies `ref`/`getAtt` for resources; `references()` finds what a value depends on.

/** AWS::NoValue: the property (or list element) is removed. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

export class IntrinsicError extends Error {
  constructor(message: string, readonly at: string) {
    super(`${message} (at ${at || '<root>'})`);
    this.name = 'IntrinsicError';
  }
}

export interface ResolveContext {
  readonly region: string;
  readonly accountId: string;
  readonly stackName: string;
  readonly partition?: string;
  readonly urlSuffix?: string;
  readonly stackId?: string;
  /** Parameter values (defaults already applied). */
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly mappings?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
  /** Evaluates a named condition (the template's Conditions section). */
  condition(name: string): boolean;
  /** The physical ID of a resource (what Ref returns). */
  ref(logicalId: string): unknown;
  getAtt(logicalId: string, attribute: string): unknown;
  /** Fn::ImportValue: an export of a stack deployed earlier. */
  importValue?(name: string): unknown;
}

type Json = unknown;

const PSEUDO = ['AWS::Region', 'AWS::AccountId', 'AWS::Partition', 'AWS::StackName', 'AWS::StackId', 'AWS::URLSuffix', 'AWS::NoValue', 'AWS::NotificationARNs'];

function pseudo(name: string, ctx: ResolveContext): Json | undefined {
  switch (name) {
    case 'AWS::Region':
      return ctx.region;
    case 'AWS::AccountId':
      return ctx.accountId;
    case 'AWS::Partition':
      return ctx.partition ?? 'aws';
    case 'AWS::StackName':
      return ctx.stackName;
    case 'AWS::StackId':
      return ctx.stackId ?? `arn:${ctx.partition ?? 'aws'}:cloudformation:${ctx.region}:${ctx.accountId}:stack/${ctx.stackName}/00000000-0000-0000-0000-000000000000`;
    case 'AWS::URLSuffix':
      return ctx.urlSuffix ?? 'amazonaws.com';
    case 'AWS::NoValue':
      return NO_VALUE;
    case 'AWS::NotificationARNs':
      return [];
    default:
      return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The single `Fn::*` / `Ref` / `Condition` key of an intrinsic object, if it is one. */
function intrinsicKey(v: Record<string, unknown>): string | undefined {
  const keys = Object.keys(v);
  if (keys.length !== 1) return undefined;
  const k = keys[0] as string;
  return k === 'Ref' || k === 'Condition' || k.startsWith('Fn::') ? k : undefined;
}

function asString(v: Json, what: string, at: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new IntrinsicError(`${what} must resolve to a string, got ${JSON.stringify(v)}`, at);
}

function asList(v: Json, what: string, at: string): Json[] {
  if (Array.isArray(v)) return v;
  throw new IntrinsicError(`${what} must resolve to a list, got ${JSON.stringify(v)}`, at);
}

/** Resolves every intrinsic in `value`; AWS::NoValue entries are dropped from objects and lists. */
export function resolveValue(value: Json, ctx: ResolveContext, at = ''): Json {
  if (Array.isArray(value)) {
    const out: Json[] = [];
    value.forEach((v, i) => {
      const r = resolveValue(v, ctx, `${at}[${i}]`);
      if (r !== NO_VALUE) out.push(r);
    });
    return out;
  }
  if (!isObject(value)) return value;
  const fn = intrinsicKey(value);
  if (fn) return resolveIntrinsic(fn, value[fn], ctx, `${at}.${fn}`);
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(value)) {
    const r = resolveValue(v, ctx, at ? `${at}.${k}` : k);
    if (r !== NO_VALUE) out[k] = r;
  }
  return out;
}

function resolveIntrinsic(fn: string, arg: Json, ctx: ResolveContext, at: string): Json {
  switch (fn) {
    case 'Ref': {
      const name = asString(arg, 'Ref', at);
      const p = pseudo(name, ctx);
      if (p !== undefined) return p;
      if (name in ctx.parameters) return ctx.parameters[name];
      return ctx.ref(name);
    }
    case 'Fn::GetAtt': {
      let id: string;
      let attr: string;
      if (typeof arg === 'string') {
        const dot = arg.indexOf('.');
        if (dot < 0) throw new IntrinsicError(`Fn::GetAtt "${arg}" needs LogicalId.Attribute`, at);
        id = arg.slice(0, dot);
        attr = arg.slice(dot + 1);
      } else {
        const list = asList(arg, 'Fn::GetAtt', at);
        id = asString(resolveValue(list[0], ctx, at), 'Fn::GetAtt logical ID', at);
        attr = asString(resolveValue(list[1], ctx, at), 'Fn::GetAtt attribute', at);
      }
      return ctx.getAtt(id, attr);
    }
    case 'Fn::Join': {
      const [delim, list] = asList(arg, 'Fn::Join', at);
      const d = asString(resolveValue(delim, ctx, at), 'Fn::Join delimiter', at);
      const items = asList(resolveValue(list, ctx, at), 'Fn::Join list', at);
      return items.map((x) => asString(x, 'Fn::Join element', at)).join(d);
    }
    case 'Fn::Sub':
      return sub(arg, ctx, at);
    case 'Fn::Select': {
      const [index, list] = asList(arg, 'Fn::Select', at);
      const i = Number(resolveValue(index, ctx, at));
      const items = asList(resolveValue(list, ctx, at), 'Fn::Select list', at);
      if (!Number.isInteger(i) || i < 0 || i >= items.length) throw new IntrinsicError(`Fn::Select index ${String(index)} out of range (${items.length} items)`, at);
      return items[i];
    }
    case 'Fn::Split': {
      const [delim, source] = asList(arg, 'Fn::Split', at);
      const d = asString(resolveValue(delim, ctx, at), 'Fn::Split delimiter', at);
      return asString(resolveValue(source, ctx, at), 'Fn::Split source', at).split(d);
    }
    case 'Fn::If': {
      const [cond, yes, no] = asList(arg, 'Fn::If', at);
      return resolveValue(ctx.condition(asString(cond, 'Fn::If condition', at)) ? yes : no, ctx, at);
    }
    case 'Fn::Equals':
    case 'Fn::And':
    case 'Fn::Or':
    case 'Fn::Not':
    case 'Condition':
      return evaluateCondition({ [fn]: arg }, ctx, at);
    case 'Fn::FindInMap': {
      const [map, top, second, opts] = asList(arg, 'Fn::FindInMap', at);
      const m = ctx.mappings?.[asString(resolveValue(map, ctx, at), 'map name', at)];
      const row = m?.[asString(resolveValue(top, ctx, at), 'top-level key', at)];
      const v = row?.[asString(resolveValue(second, ctx, at), 'second-level key', at)];
      if (v !== undefined) return v;
      if (isObject(opts) && 'DefaultValue' in opts) return resolveValue(opts['DefaultValue'], ctx, at);
      throw new IntrinsicError(`Fn::FindInMap: no entry ${JSON.stringify(arg)}`, at);
    }
    case 'Fn::Base64':
      return Buffer.from(asString(resolveValue(arg, ctx, at), 'Fn::Base64', at)).toString('base64');
    case 'Fn::GetAZs': {
      const r = resolveValue(arg, ctx, at);
      const region = typeof r === 'string' && r !== '' ? r : ctx.region;
      return ['a', 'b', 'c'].map((z) => `${region}${z}`);
    }
    case 'Fn::ImportValue': {
      const name = asString(resolveValue(arg, ctx, at), 'Fn::ImportValue', at);
      const v = ctx.importValue?.(name);
      if (v === undefined) throw new IntrinsicError(`Fn::ImportValue: no stack deployed so far exports "${name}"`, at);
      return v;
    }
    case 'Fn::ToJsonString':
      return JSON.stringify(resolveValue(arg, ctx, at));
    case 'Fn::Length':
      return asList(resolveValue(arg, ctx, at), 'Fn::Length', at).length;
    default:
      throw new IntrinsicError(`${fn} is not supported by the local deployer`, at);
  }
}

function sub(arg: Json, ctx: ResolveContext, at: string): string {
  let template: string;
  let vars: Record<string, Json> = {};
  if (typeof arg === 'string') template = arg;
  else {
    const [t, v] = asList(arg, 'Fn::Sub', at);
    template = asString(t, 'Fn::Sub template', at);
    if (isObject(v)) vars = v;
  }
  return template.replace(/\$\{([^}]*)\}/g, (whole, inner: string) => {
    if (inner.startsWith('!')) return `\${${inner.slice(1)}}`; // ${!Literal} → ${Literal}
    const name = inner.trim();
    if (name in vars) return asString(resolveValue(vars[name], ctx, at), `Fn::Sub variable ${name}`, at);
    const p = pseudo(name, ctx);
    if (p !== undefined && p !== NO_VALUE) return asString(p, name, at);
    if (name in ctx.parameters) return asString(ctx.parameters[name], name, at);
    const dot = name.indexOf('.');
    if (dot > 0) return asString(ctx.getAtt(name.slice(0, dot), name.slice(dot + 1)), `\${${name}}`, at);
    if (!name) return whole;
    return asString(ctx.ref(name), `\${${name}}`, at);
  });
}

/** Evaluates a condition expression (Fn::Equals/And/Or/Not, Condition, or a literal boolean). */
export function evaluateCondition(expr: Json, ctx: ResolveContext, at = ''): boolean {
  if (typeof expr === 'boolean') return expr;
  if (expr === 'true' || expr === 'false') return expr === 'true';
  if (!isObject(expr)) throw new IntrinsicError(`condition must be an object, got ${JSON.stringify(expr)}`, at);
  const fn = intrinsicKey(expr);
  const arg = fn ? expr[fn] : undefined;
  switch (fn) {
    case 'Condition':
      return ctx.condition(asString(arg, 'Condition', at));
    case 'Fn::Equals': {
      const [a, b] = asList(arg, 'Fn::Equals', at);
      return JSON.stringify(normalize(resolveValue(a, ctx, at))) === JSON.stringify(normalize(resolveValue(b, ctx, at)));
    }
    case 'Fn::And':
      return asList(arg, 'Fn::And', at).every((c) => evaluateCondition(c, ctx, at));
    case 'Fn::Or':
      return asList(arg, 'Fn::Or', at).some((c) => evaluateCondition(c, ctx, at));
    case 'Fn::Not': {
      const [c] = asList(arg, 'Fn::Not', at);
      return !evaluateCondition(c, ctx, at);
    }
    default:
      throw new IntrinsicError(`unsupported condition function ${fn ?? JSON.stringify(expr)}`, at);
  }
}

function normalize(v: Json): Json {
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
}

/**
 * Logical IDs a value refers to (Ref, Fn::GetAtt, and ${Name} / ${Name.Attr} in Fn::Sub),
 * excluding pseudo parameters and template parameters. Used to order resource creation.
 */
export function references(value: Json, parameters: ReadonlySet<string> = new Set()): Set<string> {
  const out = new Set<string>();
  const add = (name: string) => {
    if (!PSEUDO.includes(name) && !parameters.has(name)) out.add(name);
  };
  const walk = (v: Json, subVars: ReadonlySet<string>) => {
    if (Array.isArray(v)) return v.forEach((x) => walk(x, subVars));
    if (!isObject(v)) return;
    const fn = intrinsicKey(v);
    if (fn === 'Ref' && typeof v[fn] === 'string') return add(v[fn]);
    if (fn === 'Fn::GetAtt') {
      const a = v[fn];
      if (typeof a === 'string') add(a.split('.')[0] ?? a);
      else if (Array.isArray(a) && typeof a[0] === 'string') add(a[0]);
      else walk(a, subVars);
      return;
    }
    if (fn === 'Fn::Sub') {
      const a = v[fn];
      const template = typeof a === 'string' ? a : Array.isArray(a) && typeof a[0] === 'string' ? a[0] : '';
      const vars = Array.isArray(a) && isObject(a[1]) ? a[1] : {};
      for (const m of template.matchAll(/\$\{([^}!][^}]*)\}/g)) {
        const name = (m[1] ?? '').trim();
        if (!(name in vars)) add(name.split('.')[0] ?? name);
      }
      walk(vars, subVars);
      return;
    }
    for (const x of Object.values(v)) walk(x, subVars);
  };
  walk(value, new Set());
  return out;
}
