// Small DOM and formatting helpers for the console page (no framework: the page is a few tables,
// an SVG and uPlot charts, re-rendered from JSON).

type Child = Node | string | number | null | undefined | false | Child[];

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | number | boolean | undefined | ((e: Event) => void)> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: (Node | string)[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

const numberFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const integerFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A number for people: grouped, at most two decimals; — for none. */
export function num(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  return numberFormat.format(v);
}

export function int(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : integerFormat.format(v);
}

export function rate(v: number | null | undefined, unit: string): string {
  if (v === null || v === undefined) return `— ${unit}/s`;
  return `${v >= 100 ? integerFormat.format(v) : numberFormat.format(v)} ${unit}/s`;
}

export function bytesRate(v: number | null | undefined): string {
  if (v === null || v === undefined) return '— B/s';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  let x = v;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x >= 100 || i === 0 ? integerFormat.format(x) : numberFormat.format(x)} ${units[i]}/s`;
}

/** UTC, as Riffle's outputs are: 2026-01-01 12:05:00Z. */
export function time(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const sign = ms < 0 ? '−' : '';
  let s = Math.abs(ms) / 1000;
  if (s < 1) return `${sign}${integerFormat.format(Math.abs(ms))} ms`;
  if (s < 120) return `${sign}${numberFormat.format(Math.round(s * 10) / 10)} s`;
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return sign + parts.slice(0, 2).join(' ');
}

/** A cell holding a number: the exact value in data-value, a readable one as text. */
export function numberCell(v: unknown): HTMLTableCellElement {
  if (typeof v === 'number') return h('td', { class: 'num', 'data-value': String(v) }, num(v));
  if (v === null || v === undefined) return h('td', { class: 'num', 'data-value': '' }, '—');
  const json = typeof v === 'string' ? v : JSON.stringify(v);
  // Top-k lists read better as "serverless 12 · aws 7 · …" (the exact list stays in data-value).
  const ranked = Array.isArray(v) && v.every((x) => typeof x === 'object' && x !== null && 'value' in x && 'count' in x);
  const text = ranked ? (v as { value: unknown; count: unknown }[]).map((x) => `${String(x.value)} ${String(x.count)}`).join(' · ') : json;
  if (ranked) return h('td', { 'data-value': json, title: text.length > 80 ? text : undefined }, text.length > 80 ? `${text.slice(0, 79)}…` : text);
  return h('td', { 'data-value': json, title: json.length > 80 ? json : undefined }, json.length > 80 ? `${json.slice(0, 79)}…` : json);
}

export function table(caption: string, headers: string[], rows: Node[][], attrs: Record<string, string> = {}): HTMLTableElement {
  return h(
    'table',
    attrs,
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.length ? rows.map((cells) => h('tr', {}, cells)) : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'none yet'))),
  );
}

export async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  const body = (await response.json()) as T & { message?: string };
  if (!response.ok) throw new Error(body.message ?? `${path}: HTTP ${response.status}`);
  return body;
}

/** Replaces an element's children (nulls and falses are skipped). */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}
