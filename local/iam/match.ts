// Pattern matching as IAM does it:
//  - actions: `service:Name` patterns with `*` and `?`, case-insensitive;
//  - resources and Arn* conditions: case-sensitive, `*` and `?`; an ARN pattern is matched one
//    colon-separated segment at a time (partition, service, region, account, resource), and a
//    `*` ending the pattern's last segment may run past colons (`arn:aws:s3:::bucket/*`,
//    `arn:aws:kinesis:*`);
//  - policy variables (`${aws:PrincipalArn}`, `${aws:username, 'default'}`, `${*}` `${?}` `${$}`)
//    substituted from the request context before matching (2012-10-17 policies only).
import type { RequestContext } from './context';
import { contextValues } from './context';

const cache = new Map<string, RegExp>();
const CACHE_LIMIT = 10_000;

/** `*` and `?` glob → anchored RegExp (cached: policies are matched on every request). */
function globRegExp(pattern: string, ignoreCase: boolean): RegExp {
  const cacheKey = `${ignoreCase ? 'i' : 's'}${pattern}`;
  let re = cache.get(cacheKey);
  if (!re) {
    const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]');
    re = new RegExp(`^${source}$`, ignoreCase ? 'i' : '');
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(cacheKey, re);
  }
  return re;
}

/** StringLike semantics: `*` and `?` wildcards, case-sensitive. */
export function globMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === value;
  return globRegExp(pattern, false).test(value);
}

/** An Action / NotAction entry against `service:Operation` (case-insensitive). */
export function actionMatches(pattern: string, action: string): boolean {
  if (pattern === '*') return true;
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern.toLowerCase() === action.toLowerCase();
  return globRegExp(pattern, true).test(action);
}

/** Splits an ARN into its five leading segments and the resource part (which keeps its colons). */
function arnSegments(arn: string): string[] | undefined {
  if (!arn.startsWith('arn:')) return undefined;
  const parts: string[] = [];
  let rest = arn;
  for (let i = 0; i < 5; i++) {
    const colon = rest.indexOf(':');
    if (colon < 0) {
      parts.push(rest);
      return parts;
    }
    parts.push(rest.slice(0, colon));
    rest = rest.slice(colon + 1);
  }
  parts.push(rest);
  return parts;
}

/** A Resource / NotResource entry (or an ArnLike value) against a resource ARN. */
export function arnMatches(pattern: string, arn: string): boolean {
  if (pattern === '*') return true;
  const p = arnSegments(pattern);
  const a = arnSegments(arn);
  if (!p || !a) return globMatch(pattern, arn);
  for (let i = 0; i < p.length; i++) {
    const segment = p[i] as string;
    const last = i === p.length - 1;
    if (last && p.length < a.length) {
      // A shorter pattern matches only if its last segment ends with `*`, which then runs on.
      return segment.endsWith('*') && globMatch(segment, a.slice(i).join(':'));
    }
    if (a[i] === undefined || !globMatch(segment, a[i] as string)) return false;
  }
  return p.length === a.length;
}

const VARIABLE = /\$\{([^}]*)\}/g;

/**
 * Substitutes policy variables in `text`; undefined when a variable has no value in the
 * request and no default (IAM then treats the element as not matching).
 */
export function substituteVariables(text: string, context: RequestContext): string | undefined {
  if (!text.includes('${')) return text;
  let missing = false;
  const out = text.replace(VARIABLE, (_whole, inner: string) => {
    const body = inner.trim();
    if (body === '*' || body === '?' || body === '$') return body;
    const withDefault = /^([^,]+),\s*'([^']*)'$/.exec(body);
    const key = (withDefault ? (withDefault[1] as string) : body).trim();
    const values = contextValues(context, key);
    if (values && values.length === 1) return values[0] as string;
    if (withDefault) return withDefault[2] as string;
    missing = true;
    return '';
  });
  return missing ? undefined : out;
}
