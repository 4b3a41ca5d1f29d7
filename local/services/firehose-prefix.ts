// Firehose S3 prefix expressions and object names, as AWS evaluates them (pure functions;
// firehose-config.ts compiles them at CreateDeliveryStream time to validate, firehose-buffers.ts
// renders them when a partition buffer opens). Covers `!{timestamp:<Java DateTimeFormatter pattern>}` (UTC),
// `!{firehose:random-string}`, `!{firehose:error-output-type}`, `!{partitionKeyFromQuery:name}`;
// `!{partitionKeyFromLambda:…}` is recognised and rejected (no Lambda processors locally).
import { randomBytes, randomUUID } from 'node:crypto';

/** A prefix or pattern AWS would reject, or one the local emulator cannot evaluate. */
export class PrefixError extends Error {
  override readonly name = 'PrefixError';
}

type DatePart = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'field'; readonly letter: string; readonly count: number };

export interface DateFormat {
  readonly pattern: string;
  format(epochMs: number): string;
}

export type PrefixPart =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'timestamp'; readonly format: DateFormat }
  | { readonly kind: 'random-string' }
  | { readonly kind: 'error-output-type' }
  | { readonly kind: 'partitionKeyFromQuery'; readonly key: string };

export interface CompiledPrefix {
  readonly source: string;
  readonly parts: readonly PrefixPart[];
  readonly hasExpressions: boolean;
  /** partitionKeyFromQuery keys, in order of first use. */
  readonly queryKeys: readonly string[];
  readonly usesErrorOutputType: boolean;
}

export interface RenderContext {
  /** Approximate arrival time of the oldest record in the object (AWS's rule for `timestamp`). */
  readonly timestampMs: number;
  readonly partitionKeys?: Readonly<Record<string, string>>;
  readonly errorOutputType?: string;
  readonly randomString?: () => string;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Max pattern letter counts (Java's DateTimeFormatter rejects more: "Too many pattern letters"). */
const MAX_LETTERS: Record<string, number> = { y: 19, u: 19, M: 5, L: 5, d: 2, D: 3, H: 2, h: 2, k: 2, K: 2, m: 2, s: 2, S: 9, E: 5, a: 1 };

/** Compiles the subset of Java's DateTimeFormatter patterns a Firehose prefix needs, evaluated in UTC. */
export function compileDateFormat(pattern: string): DateFormat {
  const parts: DatePart[] = [];
  let i = 0;
  while (i < pattern.length) {
    const c = pattern.charAt(i);
    if (c === "'") {
      // Quoted literal; '' is a single quote (inside or outside quotes).
      if (pattern.charAt(i + 1) === "'") {
        parts.push({ kind: 'text', text: "'" });
        i += 2;
        continue;
      }
      let j = i + 1;
      let text = '';
      for (;;) {
        if (j >= pattern.length) throw new PrefixError(`invalid timestamp pattern ${JSON.stringify(pattern)}: unterminated quote`);
        if (pattern.charAt(j) === "'") {
          if (pattern.charAt(j + 1) === "'") {
            text += "'";
            j += 2;
            continue;
          }
          break;
        }
        text += pattern.charAt(j);
        j++;
      }
      parts.push({ kind: 'text', text });
      i = j + 1;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      let j = i;
      while (pattern.charAt(j) === c) j++;
      const count = j - i;
      const max = MAX_LETTERS[c];
      if (max === undefined) {
        throw new PrefixError(
          `timestamp pattern ${JSON.stringify(pattern)} uses the letter '${c}', which the local Firehose does not ` +
            `implement (supported: y u M L d D H h k K m s S E a and quoted text)`,
        );
      }
      if (count > max) throw new PrefixError(`invalid timestamp pattern ${JSON.stringify(pattern)}: too many pattern letters: ${c}`);
      parts.push({ kind: 'field', letter: c, count });
      i = j;
      continue;
    }
    if ('[]{}#'.includes(c)) throw new PrefixError(`timestamp pattern ${JSON.stringify(pattern)}: '${c}' is reserved (optional sections are not supported)`);
    parts.push({ kind: 'text', text: c });
    i++;
  }
  return { pattern, format: (epochMs) => parts.map((p) => (p.kind === 'text' ? p.text : formatField(p.letter, p.count, new Date(epochMs)))).join('') };
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

function formatField(letter: string, count: number, d: Date): string {
  switch (letter) {
    case 'y':
    case 'u': {
      const year = d.getUTCFullYear();
      // Java: exactly two letters is the two-digit "reduced" year; otherwise pad to the count.
      return count === 2 ? pad(year % 100, 2) : pad(year, count);
    }
    case 'M':
    case 'L': {
      const month = d.getUTCMonth();
      const name = MONTHS[month] ?? '';
      if (count === 3) return name.slice(0, 3);
      if (count === 4) return name;
      if (count === 5) return name.charAt(0);
      return pad(month + 1, count);
    }
    case 'd':
      return pad(d.getUTCDate(), count);
    case 'D': {
      const startOfYear = Date.UTC(d.getUTCFullYear(), 0, 1);
      return pad(Math.floor((d.getTime() - startOfYear) / 86_400_000) + 1, count);
    }
    case 'H':
      return pad(d.getUTCHours(), count);
    case 'k':
      return pad(d.getUTCHours() === 0 ? 24 : d.getUTCHours(), count);
    case 'K':
      return pad(d.getUTCHours() % 12, count);
    case 'h':
      return pad(d.getUTCHours() % 12 === 0 ? 12 : d.getUTCHours() % 12, count);
    case 'm':
      return pad(d.getUTCMinutes(), count);
    case 's':
      return pad(d.getUTCSeconds(), count);
    case 'S':
      // Fraction of second, truncated to `count` digits (millisecond precision, zero-filled beyond).
      return pad(d.getUTCMilliseconds(), 3).padEnd(count, '0').slice(0, count);
    case 'E': {
      const name = DAYS[d.getUTCDay()] ?? '';
      if (count === 4) return name;
      if (count === 5) return name.charAt(0);
      return name.slice(0, 3);
    }
    case 'a':
      return d.getUTCHours() < 12 ? 'AM' : 'PM';
    default:
      throw new PrefixError(`unsupported pattern letter ${letter}`);
  }
}

/** Parses and validates a prefix; `which` names it in errors (Prefix / ErrorOutputPrefix). */
export function compilePrefix(source: string, which = 'Prefix'): CompiledPrefix {
  const parts: PrefixPart[] = [];
  const queryKeys: string[] = [];
  let hasExpressions = false;
  let usesErrorOutputType = false;
  let i = 0;
  let literal = '';
  while (i < source.length) {
    const start = source.indexOf('!{', i);
    if (start < 0) {
      literal += source.slice(i);
      break;
    }
    literal += source.slice(i, start);
    const end = source.indexOf('}', start);
    if (end < 0) throw new PrefixError(`${which} ${JSON.stringify(source)}: unterminated expression starting at offset ${start}`);
    const body = source.slice(start + 2, end);
    const colon = body.indexOf(':');
    const namespace = colon < 0 ? body : body.slice(0, colon);
    const value = colon < 0 ? '' : body.slice(colon + 1);
    if (literal) {
      parts.push({ kind: 'literal', text: literal });
      literal = '';
    }
    hasExpressions = true;
    switch (namespace) {
      case 'timestamp':
        if (!value) throw new PrefixError(`${which} ${JSON.stringify(source)}: !{timestamp:} needs a pattern`);
        parts.push({ kind: 'timestamp', format: compileDateFormat(value) });
        break;
      case 'firehose':
        if (value === 'random-string') parts.push({ kind: 'random-string' });
        else if (value === 'error-output-type') {
          parts.push({ kind: 'error-output-type' });
          usesErrorOutputType = true;
        } else throw new PrefixError(`${which} ${JSON.stringify(source)}: unknown firehose expression !{firehose:${value}} (valid: random-string, error-output-type)`);
        break;
      case 'partitionKeyFromQuery':
        if (!/^[A-Za-z0-9_-]+$/.test(value)) throw new PrefixError(`${which} ${JSON.stringify(source)}: invalid partition key name ${JSON.stringify(value)}`);
        parts.push({ kind: 'partitionKeyFromQuery', key: value });
        if (!queryKeys.includes(value)) queryKeys.push(value);
        break;
      case 'partitionKeyFromLambda':
        throw new PrefixError(
          `${which} ${JSON.stringify(source)}: !{partitionKeyFromLambda:${value}} is not supported by the local cloud ` +
            `(Firehose Lambda processors do not run locally); use MetadataExtraction (JQ) and !{partitionKeyFromQuery:…}`,
        );
      default:
        throw new PrefixError(`${which} ${JSON.stringify(source)}: unknown expression namespace ${JSON.stringify(namespace)}`);
    }
    i = end + 1;
  }
  if (literal) parts.push({ kind: 'literal', text: literal });
  return { source, parts, hasExpressions, queryKeys, usesErrorOutputType };
}

/** `!{timestamp:yyyy/MM/dd/HH}/` — what AWS appends to a prefix that has no expressions. */
const DEFAULT_TIME_PATTERN = compileDateFormat('yyyy/MM/dd/HH');

/**
 * The effective data prefix: AWS appends `yyyy/MM/dd/HH/` to a prefix without expressions
 * (including an empty one); a prefix with expressions is used as written.
 */
export function effectiveDataPrefix(prefix: CompiledPrefix): CompiledPrefix {
  if (prefix.hasExpressions) return prefix;
  return {
    ...prefix,
    parts: [...prefix.parts, { kind: 'timestamp', format: DEFAULT_TIME_PATTERN }, { kind: 'literal', text: '/' }],
  };
}

/**
 * The effective error prefix: without expressions, AWS appends `<error-output-type>/yyyy/MM/dd/HH/`
 * (so an unset ErrorOutputPrefix yields e.g. `processing-failed/2024/01/31/23/`).
 */
export function effectiveErrorPrefix(prefix: CompiledPrefix): CompiledPrefix {
  if (prefix.hasExpressions) return prefix;
  return {
    ...prefix,
    usesErrorOutputType: true,
    parts: [
      ...prefix.parts,
      { kind: 'error-output-type' },
      { kind: 'literal', text: '/' },
      { kind: 'timestamp', format: DEFAULT_TIME_PATTERN },
      { kind: 'literal', text: '/' },
    ],
  };
}

/** 11 random alphanumeric characters, like AWS's `!{firehose:random-string}`. */
export function randomString(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const bytes = randomBytes(11);
  let out = '';
  for (const b of bytes) out += alphabet.charAt(b % alphabet.length);
  return out;
}

export function renderPrefix(prefix: CompiledPrefix, ctx: RenderContext): string {
  let out = '';
  for (const part of prefix.parts) {
    switch (part.kind) {
      case 'literal':
        out += part.text;
        break;
      case 'timestamp':
        out += part.format.format(ctx.timestampMs);
        break;
      case 'random-string':
        out += (ctx.randomString ?? randomString)();
        break;
      case 'error-output-type':
        if (ctx.errorOutputType === undefined) throw new PrefixError(`!{firehose:error-output-type} used outside an error prefix`);
        out += ctx.errorOutputType;
        break;
      case 'partitionKeyFromQuery': {
        const value = ctx.partitionKeys?.[part.key];
        if (value === undefined) throw new PrefixError(`partition key ${part.key} has no value`);
        out += value;
        break;
      }
    }
  }
  return out;
}

const SUFFIX_TIME = compileDateFormat('yyyy-MM-dd-HH-mm-ss');

/**
 * `<stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<uuid><extension>`: the object name AWS appends to the
 * evaluated prefix (https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html).
 */
export function objectName(stream: string, version: number, timestampMs: number, extension: string, uuid: string = randomUUID()): string {
  return `${stream}-${version}-${SUFFIX_TIME.format(timestampMs)}-${uuid}${extension}`;
}
