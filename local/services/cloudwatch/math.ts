// GetMetricData on the embedded cloud: metric stats and the part of CloudWatch metric math that
// Riffle's stack and console use — arithmetic (+ - * / ^), comparisons (1/0), AND/OR, IF, FILL,
// SUM/AVG/MIN/MAX (over an array: per timestamp; over one series: a scalar), ABS, RATE, METRICS()
// and SEARCH('{Namespace,dim,…} MetricName="x" dim="v"', 'Stat', period). Hand-written: no
// library implements CloudWatch's expression language, and only this subset is needed (anything
// else is rejected with the name of what is unsupported, never evaluated wrongly).
import { CloudWatchInputError, isStatistic, type Dimension, type MetricStore, type SeriesPoints } from './metrics';

export interface MetricStat {
  readonly Metric: { readonly Namespace?: string; readonly MetricName?: string; readonly Dimensions?: readonly Dimension[] };
  readonly Period: number;
  readonly Stat: string;
  readonly Unit?: string;
}

export interface MetricDataQuery {
  readonly Id: string;
  readonly MetricStat?: MetricStat;
  readonly Expression?: string;
  readonly Label?: string;
  readonly ReturnData?: boolean;
  readonly Period?: number;
}

export interface MetricDataResult {
  readonly Id: string;
  readonly Label: string;
  /** Epoch ms, ascending. */
  readonly Timestamps: number[];
  readonly Values: number[];
  readonly StatusCode: 'Complete';
}

interface Series extends SeriesPoints {
  readonly label: string;
}
type Value = { kind: 'scalar'; value: number } | { kind: 'series'; series: Series } | { kind: 'array'; items: Series[] };

type Node =
  | { t: 'num'; v: number }
  | { t: 'str'; v: string }
  | { t: 'id'; v: string }
  | { t: 'call'; name: string; args: Node[] }
  | { t: 'list'; items: Node[] }
  | { t: 'neg'; e: Node }
  | { t: 'bin'; op: string; l: Node; r: Node };

const bad = (message: string): CloudWatchInputError => new CloudWatchInputError('ValidationError', message);

function tokenize(src: string): string[] {
  const tokens: string[] = [];
  const re = /\s*(?:(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|([A-Za-z_][A-Za-z0-9_]*)|(>=|<=|==|!=|[-+*/^()<>,[\]]))/y;
  let i = 0;
  while (i < src.length) {
    if (/^\s*$/.test(src.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m) throw bad(`Unsupported character in the expression at position ${i}: ${src.slice(i, i + 10)}`);
    tokens.push((m[1] ?? m[2] ?? m[3] ?? m[4]) as string);
    i = re.lastIndex;
  }
  return tokens;
}

function parse(src: string): Node {
  const tokens = tokenize(src);
  let pos = 0;
  const peek = (): string | undefined => tokens[pos];
  const take = (expected?: string): string => {
    const t = tokens[pos++];
    if (t === undefined || (expected !== undefined && t !== expected)) throw bad(`Syntax error in the expression "${src}": expected ${expected ?? 'more'}, got ${t ?? 'the end'}`);
    return t;
  };
  const binary = (ops: readonly string[], next: () => Node) => (): Node => {
    let l = next();
    while (ops.includes((peek() ?? '').toUpperCase())) {
      const op = take().toUpperCase();
      l = { t: 'bin', op, l, r: next() };
    }
    return l;
  };
  const primary = (): Node => {
    const t = take();
    if (t === '(') {
      const e = or();
      take(')');
      return e;
    }
    if (t === '[') {
      const items: Node[] = [];
      while (peek() !== ']') {
        items.push(or());
        if (peek() === ',') take(',');
      }
      take(']');
      return { t: 'list', items };
    }
    if (t === '-') return { t: 'neg', e: power() };
    if (/^\d/.test(t)) return { t: 'num', v: Number(t) };
    if (t.startsWith("'") || t.startsWith('"')) return { t: 'str', v: t.slice(1, -1).replace(/\\(.)/g, '$1') };
    if (peek() === '(') {
      take('(');
      const args: Node[] = [];
      while (peek() !== ')') {
        args.push(or());
        if (peek() === ',') take(',');
        else if (peek() !== ')') take(')');
      }
      take(')');
      return { t: 'call', name: t.toUpperCase(), args };
    }
    return { t: 'id', v: t };
  };
  const power: () => Node = () => {
    const base = primary();
    if (peek() === '^') {
      take();
      return { t: 'bin', op: '^', l: base, r: power() };
    }
    return base;
  };
  const mul = binary(['*', '/'], power);
  const add = binary(['+', '-'], mul);
  const cmp = binary(['>', '<', '>=', '<=', '==', '!='], add);
  const and = binary(['AND'], cmp);
  const or = binary(['OR'], and);
  const tree = or();
  if (pos < tokens.length) throw bad(`Syntax error in the expression "${src}" at "${tokens[pos]}"`);
  return tree;
}

interface EvalContext {
  readonly store: MetricStore;
  readonly startMs: number;
  readonly endMs: number;
  readonly periodS: number;
  readonly resolve: (id: string) => Value;
  readonly metricStats: () => Series[];
}

function apply(op: string, a: number, b: number): number {
  switch (op) {
    case '+':
      return a + b;
    case '-':
      return a - b;
    case '*':
      return a * b;
    case '/':
      return a / b;
    case '^':
      return a ** b;
    case '>':
      return a > b ? 1 : 0;
    case '<':
      return a < b ? 1 : 0;
    case '>=':
      return a >= b ? 1 : 0;
    case '<=':
      return a <= b ? 1 : 0;
    case '==':
      return a === b ? 1 : 0;
    case '!=':
      return a !== b ? 1 : 0;
    case 'AND':
      return a !== 0 && b !== 0 ? 1 : 0;
    case 'OR':
      return a !== 0 || b !== 0 ? 1 : 0;
    default:
      throw bad(`Unsupported operator ${op}`);
  }
}

function mapSeries(s: Series, f: (v: number, t: number) => number | undefined, label = s.label): Series {
  const timestamps: number[] = [];
  const values: number[] = [];
  s.timestamps.forEach((t, i) => {
    const v = f(s.values[i] as number, t);
    if (v !== undefined && !Number.isNaN(v)) {
      timestamps.push(t);
      values.push(v);
    }
  });
  return { label, timestamps, values };
}

const lookup = (s: Series): Map<number, number> => new Map(s.timestamps.map((t, i) => [t, s.values[i] as number]));

/** Applies f per item of arrays, so every function and operator works on SEARCH results too. */
function lift(v: Value, f: (s: Series) => Series): Value {
  if (v.kind === 'series') return { kind: 'series', series: f(v.series) };
  if (v.kind === 'array') return { kind: 'array', items: v.items.map(f) };
  return v;
}

function combine(op: string, a: Value, b: Value): Value {
  if (a.kind === 'scalar' && b.kind === 'scalar') return { kind: 'scalar', value: apply(op, a.value, b.value) };
  if (a.kind === 'scalar') return lift(b, (s) => mapSeries(s, (v) => apply(op, a.value, v)));
  if (b.kind === 'scalar') return lift(a, (s) => mapSeries(s, (v) => apply(op, v, b.value)));
  if (a.kind === 'array' || b.kind === 'array') {
    if (a.kind === 'array' && b.kind === 'series') return lift(a, (s) => pair(op, s, b.series));
    if (b.kind === 'array' && a.kind === 'series') return lift(b, (s) => pair(op, a.series, s));
    throw bad('Operators between two arrays of time series are not supported');
  }
  return { kind: 'series', series: pair(op, a.series, b.series) };
}

/** Only timestamps both series have (CloudWatch treats the others as missing). */
function pair(op: string, a: Series, b: Series): Series {
  const other = lookup(b);
  return mapSeries(a, (v, t) => (other.has(t) ? apply(op, v, other.get(t) as number) : undefined), `${a.label} ${op} ${b.label}`);
}

function grid(ctx: EvalContext): number[] {
  const p = ctx.periodS * 1000;
  const out: number[] = [];
  for (let t = Math.ceil(ctx.startMs / p) * p; t < ctx.endMs; t += p) out.push(t);
  return out;
}

function scalarOf(v: Value, what: string): number {
  if (v.kind !== 'scalar') throw bad(`${what} must be a number`);
  return v.value;
}

function search(ctx: EvalContext, query: string, stat: string, periodS: number): Value {
  const m = /^\s*\{([^}]*)\}(.*)$/.exec(query);
  if (!m) throw bad(`SEARCH needs a schema: SEARCH('{Namespace,DimensionName,…} MetricName="…"', 'Sum', 300); got '${query}'`);
  const [namespace, ...dimNames] = (m[1] as string).split(',').map((s) => s.trim().replace(/^"|"$/g, ''));
  const terms = [...(m[2] as string).matchAll(/([A-Za-z0-9_.-]+)\s*=\s*"([^"]*)"|"([^"]*)"|(\S+)/g)];
  const items: Series[] = [];
  for (const id of ctx.store.list({ namespace: namespace as string })) {
    const names = id.dimensions.map((d) => d.Name);
    if (names.length !== dimNames.length || !dimNames.every((n) => names.includes(n))) continue;
    const value = (key: string) => (key === 'MetricName' ? id.name : id.dimensions.find((d) => d.Name === key)?.Value);
    const ok = terms.every((t) =>
      t[1] !== undefined ? value(t[1]) === t[2] : [id.name, ...id.dimensions.map((d) => d.Value)].some((v) => v.includes((t[3] ?? t[4]) as string)),
    );
    if (!ok) continue;
    const points = ctx.store.points(id, stat, periodS, ctx.startMs, ctx.endMs);
    items.push({ ...points, label: [id.name, ...id.dimensions.map((d) => d.Value)].join(' ') });
  }
  return { kind: 'array', items };
}

function reduceSeries(name: string, values: number[]): number {
  if (values.length === 0) return NaN;
  switch (name) {
    case 'SUM':
      return values.reduce((a, b) => a + b, 0);
    case 'AVG':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'MIN':
      return Math.min(...values);
    default:
      return Math.max(...values);
  }
}

function call(ctx: EvalContext, name: string, args: Node[]): Value {
  const arg = (i: number): Value => {
    const n = args[i];
    if (!n) throw bad(`${name} needs more arguments`);
    return evaluate(ctx, n);
  };
  const str = (i: number): string => {
    const n = args[i];
    if (n?.t !== 'str') throw bad(`argument ${i + 1} of ${name} must be a quoted string`);
    return n.v;
  };
  switch (name) {
    case 'METRICS':
      return { kind: 'array', items: ctx.metricStats() };
    case 'SEARCH': {
      const stat = str(1);
      if (!isStatistic(stat)) throw bad(`SEARCH: the statistic ${stat} is not supported`);
      return search(ctx, str(0), stat, args[2] ? scalarOf(arg(2), 'the SEARCH period') : ctx.periodS);
    }
    case 'FILL': {
      const target = arg(0);
      const fill = arg(1);
      const times = grid(ctx);
      return lift(target, (s) => {
        const have = lookup(s);
        const with_ = fill.kind === 'scalar' ? undefined : lookup(fill.kind === 'series' ? fill.series : (fill.items[0] ?? { label: '', timestamps: [], values: [] }));
        const values = times.map((t) => have.get(t) ?? (with_ ? with_.get(t) : (fill as { value: number }).value));
        const keep = values.map((v) => v !== undefined);
        return { label: s.label, timestamps: times.filter((_, i) => keep[i]), values: values.filter((v): v is number => v !== undefined) };
      });
    }
    case 'IF': {
      const cond = arg(0);
      const yes = arg(1);
      const no: Value | undefined = args[2] ? arg(2) : undefined;
      const at = (v: Value | undefined, t: number): number | undefined =>
        v === undefined ? undefined : v.kind === 'scalar' ? v.value : v.kind === 'series' ? lookup(v.series).get(t) : undefined;
      if (cond.kind === 'scalar') return cond.value !== 0 ? yes : (no ?? { kind: 'array', items: [] });
      return lift(cond, (s) => mapSeries(s, (c, t) => (c !== 0 ? at(yes, t) : at(no, t))));
    }
    case 'ABS':
      return lift(arg(0), (s) => mapSeries(s, (v) => Math.abs(v)));
    case 'RATE':
      return lift(arg(0), (s) => {
        const out: Series = { label: s.label, timestamps: [], values: [] };
        for (let i = 1; i < s.timestamps.length; i++) {
          out.timestamps.push(s.timestamps[i] as number);
          out.values.push(((s.values[i] as number) - (s.values[i - 1] as number)) / (((s.timestamps[i] as number) - (s.timestamps[i - 1] as number)) / 1000));
        }
        return out;
      });
    case 'SUM':
    case 'AVG':
    case 'MIN':
    case 'MAX': {
      const v = arg(0);
      if (v.kind === 'scalar') return v;
      if (v.kind === 'series') return { kind: 'scalar', value: reduceSeries(name, v.series.values) };
      const byTime = new Map<number, number[]>();
      for (const s of v.items) s.timestamps.forEach((t, i) => byTime.set(t, [...(byTime.get(t) ?? []), s.values[i] as number]));
      const times = [...byTime.keys()].sort((a, b) => a - b);
      return { kind: 'series', series: { label: name, timestamps: times, values: times.map((t) => reduceSeries(name, byTime.get(t) as number[])) } };
    }
    default:
      throw bad(`The function ${name} is not supported by the embedded cloud's metric math (supported: IF, FILL, SUM, AVG, MIN, MAX, ABS, RATE, METRICS, SEARCH)`);
  }
}

function evaluate(ctx: EvalContext, node: Node): Value {
  switch (node.t) {
    case 'num':
      return { kind: 'scalar', value: node.v };
    case 'str':
      throw bad(`A string ("${node.v}") can only be an argument of SEARCH`);
    case 'id':
      return ctx.resolve(node.v);
    case 'neg':
      return combine('*', { kind: 'scalar', value: -1 }, evaluate(ctx, node.e));
    case 'list': {
      const items: Series[] = [];
      for (const n of node.items) {
        const v = evaluate(ctx, n);
        if (v.kind === 'scalar') throw bad('An array may hold time series only');
        items.push(...(v.kind === 'series' ? [v.series] : v.items));
      }
      return { kind: 'array', items };
    }
    case 'call':
      return call(ctx, node.name, node.args);
    case 'bin':
      return combine(node.op, evaluate(ctx, node.l), evaluate(ctx, node.r));
  }
}

/** GetMetricData over the store: every query with ReturnData (default true), in query order. */
export function getMetricData(store: MetricStore, queries: readonly MetricDataQuery[], startMs: number, endMs: number): MetricDataResult[] {
  if (!(endMs > startMs)) throw bad('The parameter StartTime must be less than the parameter EndTime.');
  const byId = new Map<string, MetricDataQuery>();
  for (const q of queries) {
    if (!/^[a-z][A-Za-z0-9_]*$/.test(q.Id)) throw bad(`Invalid metric data query Id "${q.Id}": it must start with a lowercase letter and hold only letters, digits and _`);
    if (byId.has(q.Id)) throw bad(`Duplicate metric data query Id "${q.Id}"`);
    if ((q.MetricStat === undefined) === (q.Expression === undefined)) throw bad(`Query "${q.Id}" must have exactly one of MetricStat and Expression`);
    byId.set(q.Id, q);
  }
  const done = new Map<string, Value>();
  const busy = new Set<string>();
  const statPeriods = queries.flatMap((q) => (q.MetricStat ? [q.MetricStat.Period] : []));
  const defaultPeriod = statPeriods.length ? Math.min(...statPeriods) : 60;

  const statSeries = (q: MetricDataQuery): Series => {
    const ms = q.MetricStat as MetricStat;
    if (!ms.Metric.Namespace || !ms.Metric.MetricName) throw bad(`Query "${q.Id}": MetricStat.Metric needs Namespace and MetricName`);
    if (!(ms.Period >= 1)) throw bad(`Query "${q.Id}": Period must be at least 1 second`);
    const id = { namespace: ms.Metric.Namespace, name: ms.Metric.MetricName, dimensions: ms.Metric.Dimensions ?? [] };
    return { ...store.points(id, ms.Stat, ms.Period, startMs, endMs), label: q.Label ?? ms.Metric.MetricName };
  };
  const resolve = (id: string): Value => {
    const known = done.get(id);
    if (known) return known;
    const q = byId.get(id);
    if (!q) throw bad(`The expression references "${id}", which is not the Id of a query in this request`);
    if (busy.has(id)) throw bad(`Circular reference through "${id}"`);
    busy.add(id);
    let value: Value;
    if (q.MetricStat) value = { kind: 'series', series: statSeries(q) };
    else {
      const ctx: EvalContext = {
        store,
        startMs,
        endMs,
        periodS: q.Period ?? defaultPeriod,
        resolve,
        metricStats: () => queries.filter((x) => x.MetricStat).map((x) => statSeries(x)),
      };
      value = evaluate(ctx, parse(q.Expression as string));
    }
    busy.delete(id);
    done.set(id, value);
    return value;
  };

  const results: MetricDataResult[] = [];
  for (const q of queries) {
    const v = resolve(q.Id);
    if (q.ReturnData === false) continue;
    const list: Series[] =
      v.kind === 'scalar' ? [{ label: q.Label ?? q.Id, timestamps: [startMs], values: [v.value] }] : v.kind === 'series' ? [v.series] : v.items;
    for (const s of list) {
      const keep = s.values.map((x) => Number.isFinite(x));
      results.push({
        Id: q.Id,
        Label: v.kind === 'array' ? s.label : (q.Label ?? (q.MetricStat ? s.label : q.Id)),
        Timestamps: s.timestamps.filter((_, i) => keep[i]),
        Values: s.values.filter((_, i) => keep[i]),
        StatusCode: 'Complete',
      });
    }
  }
  return results;
}
