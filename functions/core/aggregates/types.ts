// The contract every aggregate implements: a mergeable accumulator with a compact encoding.
//
// Riffle aggregates the same events in three places — combined inside a mapper batch, merged
// into window state by the reducer, merged again after retries — so an aggregate must satisfy,
// for any split of the events into groups:  result(merge(fold(g1), fold(g2), ...)) = result(fold(all))
// (exactly for exact aggregates, within the documented error for sketches).

/** JSON-compatible value: what encode() produces and decode() accepts. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Aggregate<Acc = unknown, Out = unknown> {
  /** Kind name, e.g. 'count', 'mean', 'quantile'. */
  readonly kind: string;
  /** The mapped value field this aggregate reads; undefined for aggregates of whole events (count). */
  readonly field?: string;
  /** Human-readable bound on the encoded state size, e.g. '24 B', '≤ 12 KiB'. Documented per aggregate. */
  readonly stateSize: string;
  /** Upper bound in bytes of JSON.stringify(encode(acc)) for any acc (used to keep DynamoDB items < 400 KB). */
  readonly maxStateBytes: number;
  /** Relative error bound of result() for sketches (0 for exact aggregates). */
  readonly relativeError: number;
  /**
   * Optional pre-check of a value: the reason add() would reject it, or undefined when it is
   * acceptable. The mapper checks every value of an event before folding any of them, so an
   * event with one bad value is rejected whole instead of being half-counted.
   */
  check?(value: unknown): string | undefined;
  zero(): Acc;
  /**
   * Fold one value in. `value` is values[field] from the job's map output (undefined for count).
   * null/undefined values are skipped by field aggregates (an optional field that is absent).
   * A value of the wrong type throws a TypeError whose message is a reject reason.
   * May mutate and return `acc`.
   */
  add(acc: Acc, value: unknown, eventTime: number): Acc;
  /** Merge `b` into `a`. May mutate and return `a`; never mutates `b`. */
  merge(a: Acc, b: Acc): Acc;
  /** The output value written to results; must be JSON-serializable. */
  result(acc: Acc): Out;
  encode(acc: Acc): Json;
  decode(json: Json): Acc;
}

// Any aggregate, whatever its accumulator type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyAggregate = Aggregate<any, any>;
