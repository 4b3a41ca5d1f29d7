// The request context IAM evaluates conditions against: condition keys (case-insensitive, so
// stored lower-cased) → one or more string values. A key that is absent is absent — which the
// condition operators treat differently from an empty value (see conditions.ts).

export type RequestContext = ReadonlyMap<string, readonly string[]>;

/** Builds a context from `{ 'aws:RequestedRegion': 'us-east-1', 'dynamodb:LeadingKeys': ['a', 'b'] }`; undefined values are left out. */
export function requestContext(values: Readonly<Record<string, string | readonly string[] | undefined>>): RequestContext {
  const map = new Map<string, readonly string[]>();
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    map.set(key.toLowerCase(), typeof value === 'string' ? [value] : value);
  }
  return map;
}

/** Merges contexts; later ones win per key. */
export function mergeContexts(...contexts: readonly RequestContext[]): RequestContext {
  const map = new Map<string, readonly string[]>();
  for (const c of contexts) for (const [k, v] of c) map.set(k, v);
  return map;
}

export function contextValues(context: RequestContext, key: string): readonly string[] | undefined {
  return context.get(key.toLowerCase());
}
