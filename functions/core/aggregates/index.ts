// The built-in aggregates, and AccumulatorSet: a job's named aggregates driven together
// (fold one event into all, merge, results, encode/decode) as the mapper and reducer need them.
import type { AnyAggregate, Json } from './types';

export type { Aggregate, AnyAggregate, Json } from './types';
export { count } from './count';
export { sum } from './sum';
export { min, max } from './minmax';
export { mean } from './mean';
export { variance, stddev } from './variance';
export { first, last } from './firstlast';
export { distinct } from './hll';
export { topK, type TopKEntry, type TopKOptions } from './topk';
export { quantile } from './quantile';

/** One accumulator per aggregate, in the order of AccumulatorSet.names (opaque to callers). */
export type Accumulators = unknown[];

export class AccumulatorSet {
  readonly names: readonly string[];
  private readonly aggregates: readonly AnyAggregate[];
  private readonly fields: readonly (string | undefined)[];
  private readonly checks: readonly (((value: unknown) => string | undefined) | undefined)[];
  /** Positions in add order: aggregates without check() first (see addAll). */
  private readonly addOrder: readonly number[];
  /** Upper bound in bytes of JSON.stringify(encodeAll(accs)), for the 400 KB DynamoDB item limit. */
  readonly maxStateBytes: number;

  constructor(aggregates: Record<string, AnyAggregate>) {
    this.names = Object.keys(aggregates);
    if (this.names.length === 0) throw new Error('aggregates: define at least one, e.g. { count: count() }');
    this.aggregates = this.names.map((name) => aggregates[name] as AnyAggregate);
    this.fields = this.aggregates.map((a) => a.field);
    this.checks = this.aggregates.map((a) => a.check?.bind(a));
    const unchecked = this.names.map((_, i) => i).filter((i) => !this.checks[i]);
    const checked = this.names.map((_, i) => i).filter((i) => this.checks[i]);
    this.addOrder = [...unchecked, ...checked];
    // {"name":state,...}: the states plus quotes, colon and comma per name (names escape to ≤ 6 B/char).
    this.maxStateBytes = this.aggregates.reduce((total, a, i) => total + a.maxStateBytes + 6 * (this.names[i] as string).length + 4, 2);
  }

  zeroAll(): Accumulators {
    return this.aggregates.map((a) => a.zero());
  }

  /**
   * Folds one event's mapped values into every accumulator — or into none: a value some aggregate
   * rejects throws a TypeError '<name>: <reason>' before any accumulator has changed. That is
   * guaranteed when all aggregates have check() (the built-ins do) or only one lacks it, which is
   * then added first.
   */
  addAll(accs: Accumulators, values: Record<string, unknown>, eventTime: number): Accumulators {
    const { aggregates, fields, checks } = this;
    for (let i = 0; i < aggregates.length; i++) {
      const check = checks[i];
      const field = fields[i];
      if (check && field !== undefined) {
        const reason = check(values[field]);
        if (reason !== undefined) throw new TypeError(`${this.names[i] as string}: ${reason}`);
      }
    }
    for (const i of this.addOrder) {
      const field = fields[i];
      accs[i] = (aggregates[i] as AnyAggregate).add(accs[i], field === undefined ? undefined : values[field], eventTime);
    }
    return accs;
  }

  /** Merges b into a (a may be mutated; b never is). */
  mergeAll(a: Accumulators, b: Accumulators): Accumulators {
    for (let i = 0; i < this.aggregates.length; i++) a[i] = (this.aggregates[i] as AnyAggregate).merge(a[i], b[i]);
    return a;
  }

  resultAll(accs: Accumulators): Record<string, Json> {
    return this.toRecord((a, i) => a.result(accs[i]) as Json);
  }

  encodeAll(accs: Accumulators): Record<string, Json> {
    return this.toRecord((a, i) => a.encode(accs[i]));
  }

  /** Inverse of encodeAll; throws naming the aggregate whose state is missing or malformed. */
  decodeAll(json: Record<string, Json>): Accumulators {
    return this.aggregates.map((a, i) => {
      const name = this.names[i] as string;
      const state = json[name];
      if (state === undefined) {
        throw new Error(`aggregate '${name}' (${a.kind}): no state in ${JSON.stringify(Object.keys(json))}; was the job's aggregates changed?`);
      }
      try {
        return a.decode(state);
      } catch (err) {
        throw new Error(`aggregate '${name}': ${(err as Error).message}`, { cause: err });
      }
    });
  }

  private toRecord(f: (aggregate: AnyAggregate, i: number) => Json): Record<string, Json> {
    const out: Record<string, Json> = {};
    for (let i = 0; i < this.aggregates.length; i++) out[this.names[i] as string] = f(this.aggregates[i] as AnyAggregate, i);
    return out;
  }
}
