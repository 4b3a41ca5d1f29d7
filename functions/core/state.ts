// Window state and the exactly-once state protocol (DESIGN §4), as pure functions over plain
// objects: the reducer's fold through the high-water-mark fence, the closer's transitions, and
// the DynamoDB item layout (docs/CONTRACTS.md). The handlers only read, call these, and write.
//
// Fence: an item remembers, per input shard, the last sequence number (`hwm`) whose partial it
// has applied. A partial whose origin range ends at or before that mark is a redelivery and is
// skipped; the mapper guarantees ranges never straddle a mark (see combiner.ts), so "end ≤ hwm"
// is exactly "already applied".
import type { AnyAggregate, Json } from './aggregates/types';
import { compareSequenceNumbers } from './input-decoding';
import type { Job } from './job';
import type { Origin, WindowContribution } from './shuffle-format';
import { iso, LatePartialRecord, makeResult, ResultRecord } from './output-records';
import { fnv1a } from './shuffle-format';

export type WindowStatus = 'OPEN' | 'CLOSED';

/** An aggregated window: decoded accumulators in the job's aggregate order. */
export interface WindowAccumulation {
  start: number;
  end: number;
  n: number;
  accs: unknown[];
}

export interface WindowItem {
  pk: string;
  sk: string;
  key: string;
  version: number;
  hwm: Record<string, string>;
  status: WindowStatus;
  /** Tumbling/hopping: the single window. Sessions: undefined. */
  window?: WindowAccumulation;
  /** Sessions: the key's open sessions, and sessions being closed (emitted, not yet removed). */
  sessions?: WindowAccumulation[];
  closing?: WindowAccumulation[];
  /** Sessions: end of the latest closed session; partials reaching back to it are late. */
  closedThrough?: number;
}

/** Number of GSI partitions the open windows of a job are spread over (avoids one hot GSI key). */
export const OPEN_INDEX_PARTITIONS = 8;
export const OPEN_INDEX = 'open-windows';

export function itemPk(job: string, key: string): string {
  return `J#${job}#K#${key}`;
}
export function windowSk(start: number, end: number): string {
  return `W#${String(start).padStart(15, '0')}#${end}`;
}
export const SESSION_SK = 'S';
export function openPk(job: string, key: string): string {
  return `J#${job}#O#${fnv1a(key) % OPEN_INDEX_PARTITIONS}`;
}
export function openPartitions(job: string): string[] {
  return Array.from({ length: OPEN_INDEX_PARTITIONS }, (_, i) => `J#${job}#O#${i}`);
}

export function itemKeyFor(job: Job, key: string, contribution: { start: number; end: number }): { pk: string; sk: string } {
  return { pk: itemPk(job.name, key), sk: job.window.type === 'session' ? SESSION_SK : windowSk(contribution.start, contribution.end) };
}

function aggregatesOf(job: Job): AnyAggregate[] {
  return Object.values(job.aggregates);
}

/** Fold a contribution (raw event or encoded accumulators) into an accumulation. */
export function accumulate(job: Job, into: WindowAccumulation | undefined, c: WindowContribution): WindowAccumulation {
  const aggs = aggregatesOf(job);
  const target = into ?? { start: c.start, end: c.end, n: 0, accs: aggs.map((a) => a.zero()) };
  if (c.raw) {
    const { t, values } = c.raw;
    aggs.forEach((agg, i) => {
      target.accs[i] = agg.add(target.accs[i], agg.field === undefined ? undefined : values[agg.field], t);
    });
  } else {
    aggs.forEach((agg, i) => {
      target.accs[i] = agg.merge(target.accs[i], agg.decode((c.accs?.[i] ?? null) as Json));
    });
  }
  target.n += c.n;
  target.start = Math.min(target.start, c.start);
  target.end = Math.max(target.end, c.end);
  return target;
}

function mergeAccumulations(job: Job, a: WindowAccumulation, b: WindowAccumulation): WindowAccumulation {
  const aggs = aggregatesOf(job);
  aggs.forEach((agg, i) => {
    a.accs[i] = agg.merge(a.accs[i], b.accs[i]);
  });
  a.n += b.n;
  a.start = Math.min(a.start, b.start);
  a.end = Math.max(a.end, b.end);
  return a;
}

export function resultValues(job: Job, acc: WindowAccumulation): Record<string, Json> {
  const out: Record<string, Json> = {};
  Object.entries(job.aggregates).forEach(([name, agg], i) => {
    out[name] = agg.result(acc.accs[i]);
  });
  return out;
}

/** The close time of an item (when the closer must look at it), or undefined when nothing is open. */
export function itemCloseAt(job: Job, item: WindowItem): number | undefined {
  if (item.status !== 'OPEN') return undefined;
  if (item.window) return item.window.end + job.allowedLatenessMs;
  if (item.closing && item.closing.length > 0) return 0;
  if (!item.sessions || item.sessions.length === 0) return undefined;
  return Math.min(...item.sessions.map((s) => s.end)) + job.allowedLatenessMs;
}

export interface IncomingPartial {
  origin: Origin;
  key: string;
  windows: readonly WindowContribution[];
}

export interface FoldOutcome {
  item: WindowItem;
  /** True when the item must be written (something was applied). */
  changed: boolean;
  applied: number;
  duplicates: number;
  late: LatePartialRecord[];
}

function alreadyApplied(item: WindowItem | undefined, origin: Origin): boolean {
  const mark = item?.hwm[origin.shardId];
  return mark !== undefined && compareSequenceNumbers(origin.last, mark) <= 0;
}

function latePartial(job: Job, key: string, origin: Origin, c: WindowContribution, reason: string, watermark: number, nowMs: number): LatePartialRecord {
  return {
    kind: 'partial',
    job: job.name,
    key,
    windowStart: iso(c.start),
    windowEnd: iso(c.end),
    eventCount: c.n,
    aggregates: resultValues(job, accumulate(job, undefined, c)),
    watermark: Number.isFinite(watermark) ? iso(watermark) : null,
    reason,
    shardId: origin.shardId,
    firstSequenceNumber: origin.first,
    lastSequenceNumber: origin.last,
    lateAt: iso(nowMs),
  };
}

/**
 * The reducer's fold: apply a group's partials (all for one item, in arrival order) to the item
 * as read. Never mutates `current`. Partials already applied are skipped; partials for a closed
 * window become late records; the rest are merged and the version bumped once.
 */
export function foldPartials(
  job: Job,
  current: WindowItem | undefined,
  pk: string,
  sk: string,
  partials: readonly IncomingPartial[],
  watermark: number,
  nowMs: number,
): FoldOutcome {
  const item: WindowItem = current
    ? structuredCloneItem(current, job)
    : { pk, sk, key: partials[0]?.key ?? '', version: 0, hwm: {}, status: 'OPEN', ...(sk === SESSION_SK ? { sessions: [], closing: [] } : {}) };
  const outcome: FoldOutcome = { item, changed: false, applied: 0, duplicates: 0, late: [] };
  for (const partial of partials) {
    if (alreadyApplied(item, partial.origin)) {
      outcome.duplicates++;
      continue;
    }
    let consumed = false;
    for (const c of partial.windows) {
      const reason = lateness(job, item, c, watermark);
      if (reason) {
        outcome.late.push(latePartial(job, partial.key, partial.origin, c, reason, watermark, nowMs));
        continue;
      }
      consumed = true;
      if (sk === SESSION_SK) addSession(job, item, c);
      else item.window = accumulate(job, item.window, c);
    }
    if (consumed) {
      item.hwm[partial.origin.shardId] = partial.origin.last;
      outcome.applied++;
      outcome.changed = true;
    }
  }
  if (outcome.changed) item.version++;
  return outcome;
}

function lateness(job: Job, item: WindowItem, c: WindowContribution, watermark: number): string | undefined {
  const closeAt = c.end + job.allowedLatenessMs;
  if (item.status === 'CLOSED') return `window [${iso(c.start)}, ${iso(c.end)}) was already closed when this partial arrived`;
  if (closeAt <= watermark) {
    return `window [${iso(c.start)}, ${iso(c.end)}) closed at watermark ${iso(closeAt)} (end + allowed lateness); watermark is ${iso(watermark)}`;
  }
  if (job.window.type === 'session') {
    if (item.closedThrough !== undefined && c.start <= item.closedThrough) {
      return `session [${iso(c.start)}, ${iso(c.end)}) reaches back into a session that already closed (through ${iso(item.closedThrough)})`;
    }
    if (item.closing?.some((s) => s.start <= c.end && c.start <= s.end)) {
      return `session [${iso(c.start)}, ${iso(c.end)}) overlaps a session being closed`;
    }
  }
  return undefined;
}

function addSession(job: Job, item: WindowItem, c: WindowContribution): void {
  let merged = accumulate(job, undefined, c);
  const keep: WindowAccumulation[] = [];
  // Merge transitively: the new session may bridge several existing ones.
  for (const s of (item.sessions ?? []).sort((a, b) => a.start - b.start)) {
    if (s.start <= merged.end && merged.start <= s.end) merged = mergeAccumulations(job, merged, s);
    else keep.push(s);
  }
  keep.push(merged);
  item.sessions = keep.sort((a, b) => a.start - b.start);
}

/**
 * Copy an item. With `job`, accumulators are copied too (merged into fresh zeros: merge never
 * mutates its second argument) — aggregates mutate their accumulators in place, so a fold that
 * is then thrown away (a lost race, a failed write) must not have touched the item it read.
 */
function structuredCloneItem(item: WindowItem, job?: Job): WindowItem {
  const aggs = job ? aggregatesOf(job) : undefined;
  const copyAcc = (a: WindowAccumulation): WindowAccumulation => ({
    ...a,
    // A CLOSED item keeps no accumulators (accs is empty): nothing to copy.
    accs: aggs && a.accs.length > 0 ? aggs.map((agg, i) => agg.merge(agg.zero(), a.accs[i])) : [...a.accs],
  });
  return {
    ...item,
    hwm: { ...item.hwm },
    ...(item.window ? { window: copyAcc(item.window) } : {}),
    ...(item.sessions ? { sessions: item.sessions.map(copyAcc) } : {}),
    ...(item.closing ? { closing: item.closing.map(copyAcc) } : {}),
  };
}

/** The result of a window accumulation (final or update). */
export function windowResult(job: Job, item: WindowItem, acc: WindowAccumulation, final: boolean, nowMs: number): ResultRecord {
  return makeResult({
    job: job.name,
    key: item.key,
    start: acc.start,
    end: acc.end,
    values: resultValues(job, acc),
    final,
    version: item.version,
    eventCount: acc.n,
    nowMs,
  });
}

/**
 * Closer, sessions: move every due open session to `closing` (frozen: later partials touching it
 * are late) and bump the version. Returns undefined when nothing is due. Tumbling/hopping items
 * need no such step: they are emitted first and then closed with one conditional write, and a
 * reducer write racing in between only makes the closer emit again with a higher version.
 */
export function beginSessionClose(job: Job, item: WindowItem, watermark: number): WindowItem | undefined {
  const due = (item.sessions ?? []).filter((s) => s.end + job.allowedLatenessMs <= watermark);
  if (due.length === 0) return undefined;
  const next = structuredCloneItem(item, job);
  next.sessions = (next.sessions ?? []).filter((s) => s.end + job.allowedLatenessMs > watermark);
  next.closing = [...(next.closing ?? []), ...due.map((s) => ({ ...s, accs: [...s.accs] }))];
  next.closedThrough = Math.max(next.closedThrough ?? Number.NEGATIVE_INFINITY, ...due.map((s) => s.end));
  next.version++;
  return next;
}

/** Closer, sessions: the sessions are emitted; forget them. */
export function finishSessionClose(item: WindowItem): WindowItem {
  const next = structuredCloneItem(item);
  next.closing = [];
  next.version++;
  return next;
}

// ---- DynamoDB item layout (plain JS values as the DocumentClient marshals them) -------------

export type StoredItem = Record<string, unknown>;

function encodeAcc(job: Job, a: WindowAccumulation): Json {
  const aggs = aggregatesOf(job);
  return [a.start, a.end, a.n, aggs.map((agg, i) => agg.encode(a.accs[i]))];
}

function decodeAcc(job: Job, json: Json): WindowAccumulation {
  const [start, end, n, accs] = json as [number, number, number, Json[]];
  const aggs = aggregatesOf(job);
  return { start, end, n, accs: aggs.map((agg, i) => agg.decode((accs[i] ?? null) as Json)) };
}

/**
 * Serialize an item. Accumulators are stored as one JSON string attribute: compact, and a
 * single attribute keeps the write one PutItem whatever the number of aggregates.
 */
export function toStoredItem(job: Job, item: WindowItem, nowMs: number, closedRetentionDays: number): StoredItem {
  const stored: StoredItem = {
    pk: item.pk,
    sk: item.sk,
    key: item.key,
    job: job.name,
    version: item.version,
    status: item.status,
    hwm: item.hwm,
    updatedAt: nowMs,
  };
  if (item.window) {
    stored.windowStart = item.window.start;
    stored.windowEnd = item.window.end;
    stored.eventCount = item.window.n;
  }
  if (item.status === 'CLOSED') {
    stored.expiresAt = Math.floor(nowMs / 1000) + closedRetentionDays * 86_400;
  } else {
    stored.state = JSON.stringify({
      ...(item.window ? { w: encodeAcc(job, item.window) } : {}),
      ...(item.sessions ? { s: item.sessions.map((s) => encodeAcc(job, s)) } : {}),
      ...(item.closing ? { c: item.closing.map((s) => encodeAcc(job, s)) } : {}),
    });
  }
  if (item.closedThrough !== undefined) stored.closedThrough = item.closedThrough;
  const closeAt = itemCloseAt(job, item);
  if (closeAt !== undefined) {
    // Sparse GSI: only items with something open carry its keys.
    stored.openPk = openPk(job.name, item.key);
    stored.closeAt = closeAt;
  }
  return stored;
}

export function fromStoredItem(job: Job, stored: StoredItem): WindowItem {
  const status = stored.status as WindowStatus;
  const item: WindowItem = {
    pk: String(stored.pk),
    sk: String(stored.sk),
    key: String(stored.key),
    version: Number(stored.version),
    hwm: { ...((stored.hwm as Record<string, string> | undefined) ?? {}) },
    status,
  };
  if (stored.closedThrough !== undefined) item.closedThrough = Number(stored.closedThrough);
  if (typeof stored.state === 'string') {
    const state = JSON.parse(stored.state) as { w?: Json; s?: Json[]; c?: Json[] };
    if (state.w !== undefined) item.window = decodeAcc(job, state.w);
    if (state.s !== undefined) item.sessions = state.s.map((s) => decodeAcc(job, s));
    if (state.c !== undefined) item.closing = state.c.map((s) => decodeAcc(job, s));
  } else if (stored.windowStart !== undefined) {
    // CLOSED items drop their accumulators; keep the window bounds for late records.
    item.window = { start: Number(stored.windowStart), end: Number(stored.windowEnd), n: Number(stored.eventCount ?? 0), accs: [] };
  }
  if (item.sk === SESSION_SK) {
    item.sessions ??= [];
    item.closing ??= [];
  }
  return item;
}
