// A small jq evaluator for Firehose dynamic partitioning (MetadataExtraction, JQ-1.6) in the
// local cloud. It covers what partition-key queries need — object construction, field paths,
// indexes and string/array slices, string literals, pipes and a few conversions — and rejects
// everything else at compile time, so a stack whose query the emulator cannot run fails at
// deploy (CreateDeliveryStream) instead of silently partitioning differently from AWS.
//
// Supported: `{a: expr, "b": expr, c}` · `.` · `.a.b` · `."a-b"` · `.["a"]` · `.[0]` · `.[s:e]`
// (negative and open bounds) · string/number/true/false/null literals · `expr | expr` · `(expr)` ·
// `tostring` · `tojson` · `ascii_downcase` · `ascii_upcase`.

export type JqValue = null | boolean | number | string | JqValue[] | { [key: string]: JqValue };

/** The query uses jq the local emulator does not implement (raised by compileJq). */
export class JqUnsupportedError extends Error {
  override readonly name = 'JqUnsupportedError';
}

/** The query failed on this input, as jq would (e.g. indexing a number). */
export class JqRuntimeError extends Error {
  override readonly name = 'JqRuntimeError';
}

type Node =
  | { readonly kind: 'identity' }
  | { readonly kind: 'literal'; readonly value: JqValue }
  | { readonly kind: 'field'; readonly target: Node; readonly name: string }
  | { readonly kind: 'index'; readonly target: Node; readonly index: number }
  | { readonly kind: 'slice'; readonly target: Node; readonly from: number | null; readonly to: number | null }
  | { readonly kind: 'pipe'; readonly left: Node; readonly right: Node }
  | { readonly kind: 'object'; readonly entries: readonly (readonly [string, Node])[] }
  | { readonly kind: 'builtin'; readonly name: Builtin };

const BUILTINS = ['tostring', 'tojson', 'ascii_downcase', 'ascii_upcase'] as const;
type Builtin = (typeof BUILTINS)[number];

export interface JqProgram {
  readonly source: string;
  /** Keys of the object the query builds when its top level is an object construction. */
  readonly objectKeys: readonly string[] | undefined;
  evaluate(input: JqValue): JqValue;
}

export function compileJq(source: string): JqProgram {
  const parser = new Parser(source);
  const ast = parser.parseProgram();
  const top = ast.kind === 'object' ? ast : undefined;
  return {
    source,
    objectKeys: top?.entries.map(([k]) => k),
    evaluate: (input) => evaluate(ast, input),
  };
}

// ---- lexer -------------------------------------------------------------------------------------

type Token =
  | { readonly t: 'punct'; readonly v: string; readonly at: number }
  | { readonly t: 'ident'; readonly v: string; readonly at: number }
  | { readonly t: 'field'; readonly v: string; readonly at: number } // `.name`
  | { readonly t: 'string'; readonly v: string; readonly at: number }
  | { readonly t: 'number'; readonly v: number; readonly at: number }
  | { readonly t: 'eof'; readonly at: number };

function unsupported(source: string, at: number, what: string): JqUnsupportedError {
  return new JqUnsupportedError(
    `unsupported JQ expression ${JSON.stringify(source)}: ${what} at offset ${at}. The local cloud's jq ` +
      `supports object construction, field paths, indexes/slices, string literals, pipes and tostring/tojson/` +
      `ascii_downcase/ascii_upcase (see local/services/jq.ts).`,
  );
}

function lex(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const isIdentStart = (c: string): boolean => /[A-Za-z_]/.test(c);
  const isIdent = (c: string): boolean => /[A-Za-z0-9_]/.test(c);
  while (i < source.length) {
    const c = source.charAt(i);
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const at = i;
    if (c === '.') {
      const next = source.charAt(i + 1);
      if (next === '.') throw unsupported(source, at, 'recursive descent `..`');
      if (isIdentStart(next)) {
        let j = i + 1;
        while (j < source.length && isIdent(source.charAt(j))) j++;
        tokens.push({ t: 'field', v: source.slice(i + 1, j), at });
        i = j;
        continue;
      }
      tokens.push({ t: 'punct', v: '.', at });
      i++;
      continue;
    }
    if ('{}[]():,|'.includes(c)) {
      if (c === '|' && source.charAt(i + 1) === '=') throw unsupported(source, at, 'update-assignment `|=`');
      tokens.push({ t: 'punct', v: c, at });
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let text = '';
      for (;;) {
        if (j >= source.length) throw new JqUnsupportedError(`invalid JQ expression ${JSON.stringify(source)}: unterminated string at offset ${at}`);
        const d = source.charAt(j);
        if (d === '"') break;
        if (d === '\\') {
          const e = source.charAt(j + 1);
          const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
          const mapped = simple[e];
          if (mapped !== undefined) {
            text += mapped;
            j += 2;
            continue;
          }
          if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(source.slice(j + 2, j + 6))) {
            text += String.fromCharCode(parseInt(source.slice(j + 2, j + 6), 16));
            j += 6;
            continue;
          }
          if (e === '(') throw unsupported(source, j, 'string interpolation');
          throw unsupported(source, j, `escape \\${e}`);
        }
        text += d;
        j++;
      }
      tokens.push({ t: 'string', v: text, at });
      i = j + 1;
      continue;
    }
    if (/[0-9-]/.test(c)) {
      const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(source.slice(i));
      if (!m) throw unsupported(source, at, 'arithmetic (`-`)');
      tokens.push({ t: 'number', v: Number(m[0]), at });
      i += m[0].length;
      continue;
    }
    if (isIdentStart(c) || c === '$' || c === '@') {
      let j = i + 1;
      while (j < source.length && isIdent(source.charAt(j))) j++;
      tokens.push({ t: 'ident', v: source.slice(i, j), at });
      i = j;
      continue;
    }
    throw unsupported(source, at, `operator \`${c}\``);
  }
  tokens.push({ t: 'eof', at: source.length });
  return tokens;
}

// ---- parser ------------------------------------------------------------------------------------

class Parser {
  private readonly tokens: Token[];
  private pos = 0;

  constructor(private readonly source: string) {
    this.tokens = lex(source);
  }

  parseProgram(): Node {
    if (this.peek().t === 'eof') throw new JqUnsupportedError('invalid JQ expression: the query is empty');
    const node = this.parsePipe();
    const rest = this.peek();
    if (rest.t !== 'eof') throw this.unexpected(rest);
    return node;
  }

  private peek(): Token {
    // The lexer always ends with eof, and pos never passes it.
    return this.tokens[this.pos] ?? { t: 'eof', at: this.source.length };
  }

  private next(): Token {
    const token = this.peek();
    if (token.t !== 'eof') this.pos++;
    return token;
  }

  private isPunct(v: string): boolean {
    const token = this.peek();
    return token.t === 'punct' && token.v === v;
  }

  private expectPunct(v: string): void {
    const token = this.next();
    if (token.t !== 'punct' || token.v !== v) throw this.unexpected(token, `expected \`${v}\``);
  }

  private unexpected(token: Token, expected?: string): JqUnsupportedError {
    const what =
      token.t === 'eof'
        ? 'unexpected end of query'
        : token.t === 'punct' && token.v === ','
          ? 'multiple outputs (`,`)'
          : `unexpected ${describeToken(token)}`;
    return unsupported(this.source, token.at, expected ? `${what} (${expected})` : what);
  }

  private parsePipe(): Node {
    let left = this.parsePostfix();
    while (this.isPunct('|')) {
      this.next();
      left = { kind: 'pipe', left, right: this.parsePostfix() };
    }
    return left;
  }

  private parsePostfix(): Node {
    let node = this.parsePrimary();
    for (;;) {
      const token = this.peek();
      if (token.t === 'field') {
        this.next();
        node = { kind: 'field', target: node, name: token.v };
      } else if (token.t === 'punct' && token.v === '.') {
        const following = this.tokens[this.pos + 1];
        if (following?.t === 'string') {
          this.pos += 2;
          node = { kind: 'field', target: node, name: following.v };
        } else if (following?.t === 'punct' && following.v === '[') {
          // `.a.[0]` is jq 1.7 syntax; 1.6 (what Firehose runs) rejects it.
          throw unsupported(this.source, token.at, '`.[` after a path (jq 1.7 syntax; write `.a[0]`)');
        } else {
          throw this.unexpected(token);
        }
      } else if (token.t === 'punct' && token.v === '[') {
        node = this.parseBracket(node);
      } else {
        return node;
      }
    }
  }

  private parseBracket(target: Node): Node {
    this.expectPunct('[');
    const first = this.peek();
    if (first.t === 'punct' && first.v === ']') throw unsupported(this.source, first.at, 'iteration `[]`');
    if (first.t === 'string') {
      this.next();
      this.expectPunct(']');
      return { kind: 'field', target, name: first.v };
    }
    const from = this.parseOptionalInt();
    if (this.isPunct(':')) {
      this.next();
      const to = this.parseOptionalInt();
      this.expectPunct(']');
      return { kind: 'slice', target, from, to };
    }
    if (from === null) throw this.unexpected(this.peek(), 'only literal indexes, slices and keys are supported inside `[...]`');
    this.expectPunct(']');
    return { kind: 'index', target, index: from };
  }

  private parseOptionalInt(): number | null {
    const token = this.peek();
    if (token.t === 'number') {
      this.next();
      return token.v;
    }
    if (token.t === 'ident' && token.v === 'null') {
      this.next();
      return null;
    }
    if (token.t === 'punct' && (token.v === ':' || token.v === ']')) return null;
    throw this.unexpected(token, 'only literal numbers are supported as indexes');
  }

  private parsePrimary(): Node {
    const token = this.next();
    switch (token.t) {
      case 'field':
        return { kind: 'field', target: { kind: 'identity' }, name: token.v };
      case 'string':
        return { kind: 'literal', value: token.v };
      case 'number':
        return { kind: 'literal', value: token.v };
      case 'punct':
        if (token.v === '.') {
          const following = this.peek();
          if (following.t === 'string') {
            this.next();
            return { kind: 'field', target: { kind: 'identity' }, name: following.v };
          }
          return { kind: 'identity' };
        }
        if (token.v === '(') {
          const inner = this.parsePipe();
          this.expectPunct(')');
          return inner;
        }
        if (token.v === '{') return this.parseObject();
        throw this.unexpected(token);
      case 'ident': {
        if (token.v === 'null') return { kind: 'literal', value: null };
        if (token.v === 'true') return { kind: 'literal', value: true };
        if (token.v === 'false') return { kind: 'literal', value: false };
        const builtin = BUILTINS.find((b) => b === token.v);
        if (builtin) return { kind: 'builtin', name: builtin };
        throw unsupported(this.source, token.at, `function or keyword \`${token.v}\``);
      }
      case 'eof':
        throw this.unexpected(token);
    }
  }

  private parseObject(): Node {
    const entries: (readonly [string, Node])[] = [];
    if (this.isPunct('}')) {
      this.next();
      return { kind: 'object', entries };
    }
    for (;;) {
      const keyToken = this.next();
      let key: string;
      if (keyToken.t === 'ident' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(keyToken.v)) key = keyToken.v;
      else if (keyToken.t === 'string') key = keyToken.v;
      else throw this.unexpected(keyToken, 'object keys must be identifiers or string literals');
      if (this.isPunct(':')) {
        this.next();
        entries.push([key, this.parsePipe()]);
      } else {
        // `{a}` is jq shorthand for `{a: .a}`.
        entries.push([key, { kind: 'field', target: { kind: 'identity' }, name: key }]);
      }
      const sep = this.next();
      if (sep.t === 'punct' && sep.v === '}') return { kind: 'object', entries };
      if (!(sep.t === 'punct' && sep.v === ',')) throw this.unexpected(sep, 'expected `,` or `}`');
    }
  }
}

function describeToken(token: Token): string {
  switch (token.t) {
    case 'punct':
      return `\`${token.v}\``;
    case 'ident':
      return `\`${token.v}\``;
    case 'field':
      return `\`.${token.v}\``;
    case 'string':
      return `string ${JSON.stringify(token.v)}`;
    case 'number':
      return `number ${token.v}`;
    case 'eof':
      return 'end of query';
  }
}

// ---- evaluation --------------------------------------------------------------------------------

function typeName(value: JqValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? 'object' : typeof value;
}

/** jq's error text quotes the value; keep it short like jq does. */
function describeValue(value: JqValue): string {
  const text = JSON.stringify(value);
  return `${typeName(value)} (${text.length > 11 ? `${text.slice(0, 10)}...` : text})`;
}

function evaluate(node: Node, input: JqValue): JqValue {
  switch (node.kind) {
    case 'identity':
      return input;
    case 'literal':
      return node.value;
    case 'pipe':
      return evaluate(node.right, evaluate(node.left, input));
    case 'object': {
      const out: { [key: string]: JqValue } = {};
      for (const [key, valueNode] of node.entries) out[key] = evaluate(valueNode, input);
      return out;
    }
    case 'field': {
      const target = evaluate(node.target, input);
      if (target === null) return null;
      if (typeof target === 'object' && !Array.isArray(target)) return Object.hasOwn(target, node.name) ? (target[node.name] ?? null) : null;
      throw new JqRuntimeError(`Cannot index ${typeName(target)} with "${node.name}"`);
    }
    case 'index': {
      const target = evaluate(node.target, input);
      if (target === null) return null;
      if (!Array.isArray(target)) throw new JqRuntimeError(`Cannot index ${typeName(target)} with number`);
      const i = Math.floor(node.index);
      return target[i < 0 ? target.length + i : i] ?? null;
    }
    case 'slice': {
      const target = evaluate(node.target, input);
      if (target === null) return null;
      if (typeof target === 'string') {
        // jq slices strings by code point, not UTF-16 unit.
        const points = Array.from(target);
        const [from, to] = sliceBounds(points.length, node.from, node.to);
        return points.slice(from, to).join('');
      }
      if (Array.isArray(target)) {
        const [from, to] = sliceBounds(target.length, node.from, node.to);
        return target.slice(from, to);
      }
      throw new JqRuntimeError(`Cannot index ${typeName(target)} with object`);
    }
    case 'builtin':
      return applyBuiltin(node.name, input);
  }
}

function sliceBounds(length: number, from: number | null, to: number | null): [number, number] {
  const clamp = (v: number): number => Math.min(length, Math.max(0, v < 0 ? length + v : v));
  const start = from === null ? 0 : clamp(Math.floor(from));
  const end = to === null ? length : clamp(Math.ceil(to));
  return [start, Math.max(start, end)];
}

function applyBuiltin(name: Builtin, input: JqValue): JqValue {
  switch (name) {
    case 'tostring':
      return typeof input === 'string' ? input : JSON.stringify(input);
    case 'tojson':
      return JSON.stringify(input);
    case 'ascii_downcase':
    case 'ascii_upcase': {
      if (typeof input !== 'string') throw new JqRuntimeError(`${describeValue(input)} cannot be ${name === 'ascii_downcase' ? 'lowercased' : 'uppercased'}`);
      return input.replace(/[A-Za-z]/g, (c) => (name === 'ascii_downcase' ? c.toLowerCase() : c.toUpperCase()));
    }
  }
}
