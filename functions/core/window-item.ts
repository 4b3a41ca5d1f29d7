// A state item as the protocol sees it — one window of a key (tumbling/hopping) or all of a key's
// sessions — and its DynamoDB form. Pure: accumulating contributions, results, the close time the
// open-windows index sorts by, and the item ⇄ stored-attributes mapping of docs/CONTRACTS.md.
import type { AnyAggregate, Json } from './aggregates/types';
import { itemPk, openPk, SESSION_SK, windowSk } from '../contract/table';
import type { Job } from './job';
import { makeResult, type ResultRecord } from './output-records';
import type { WindowContribution } from './shuffle-format';
import { closeTime } from './watermark';

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
  /** The fence: per input shard, the last sequence number whose partial this item applied. */
  hwm: Record<string, string>;
  status: WindowStatus;
  /** Tumbling/hopping: the single window. Sessions: undefined. */
  window?: WindowAccumulation;
  /** Sessions: the key's open sessions, and sessions being closed (frozen and emitted, not yet removed). */
  sessions?: WindowAccumulation[];
  closing?: WindowAccumulation[];
  /** Sessions: end of the latest closed session; partials reaching back to it are late. */
  closedThrough?: number;
  /**
   * Per gap ("<shard>@<gap end>", replay.ts): how far into the gap this item had applied when it
   * first took a partial from after the gap ("0": nothing), advanced by each replayed partial applied.
   */
  gapMarks?: Record<string, string>;
}

/** The state item a contribution of `key` belongs to. */
export function itemKeyFor(job: Job, key: string, contribution: { start: number; end: number }): { pk: string; sk: string } {
  return { pk: itemPk(job.name, key), sk: job.window.type === 'session' ? SESSION_SK : windowSk(contribution.start, contribution.end) };
}

export function isSessionItem(item: { sk: string }): boolean {
  return item.sk === SESSION_SK;
}

/** A fresh item for `key`: version 0, nothing applied. */
export function emptyItem(pk: string, sk: string, key: string): WindowItem {
  return { pk, sk, key, version: 0, hwm: {}, status: 'OPEN', ...(sk === SESSION_SK ? { sessions: [], closing: [] } : {}) };
}

function aggregatesOf(job: Job): AnyAggregate[] {
  return Object.values(job.aggregates);
}

/** Fold a contribution (raw event or encoded accumulators) into an accumulation (mutates `into`). */
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

/** Merge accumulation `b` into `a` (mutates `a`). */
export function mergeAccumulations(job: Job, a: WindowAccumulation, b: WindowAccumulation): WindowAccumulation {
  aggregatesOf(job).forEach((agg, i) => {
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

/** The result of a window accumulation (final or update), stamped with the item's version. */
export function windowResult(job: Job, item: WindowItem, acc: WindowAccumulation, final: boolean, nowMs: number): ResultRecord {
  return makeResult({ job: job.name, key: item.key, start: acc.start, end: acc.end, values: resultValues(job, acc), final, version: item.version, eventCount: acc.n, nowMs, jobVersion: job.version });
}

/**
 * When the closer must look at an item (its sort key in the open-windows index), or undefined
 * when nothing is open. Frozen sessions (`closing`) are due at once: they only wait to be emitted.
 */
export function itemCloseAt(job: Job, item: WindowItem): number | undefined {
  if (item.status !== 'OPEN') return undefined;
  if (item.window) return closeTime(item.window.end, job.allowedLatenessMs);
  if (item.closing && item.closing.length > 0) return 0;
  if (!item.sessions || item.sessions.length === 0) return undefined;
  return closeTime(Math.min(...item.sessions.map((s) => s.end)), job.allowedLatenessMs);
}

/**
 * Copy an item. With `job`, accumulators are copied too (merged into fresh zeros: merge never
 * mutates its second argument) — aggregates mutate their accumulators in place, so a fold that
 * is then thrown away (a lost race, a failed write) must not have touched the item it read.
 */
export function copyItem(item: WindowItem, job?: Job): WindowItem {
  const aggs = job ? aggregatesOf(job) : undefined;
  const copyAcc = (a: WindowAccumulation): WindowAccumulation => ({
    ...a,
    // A CLOSED item keeps no accumulators (accs is empty): nothing to copy.
    accs: aggs && a.accs.length > 0 ? aggs.map((agg, i) => agg.merge(agg.zero(), a.accs[i])) : [...a.accs],
  });
  return {
    ...item,
    hwm: { ...item.hwm },
    ...(item.gapMarks ? { gapMarks: { ...item.gapMarks } } : {}),
    ...(item.window ? { window: copyAcc(item.window) } : {}),
    ...(item.sessions ? { sessions: item.sessions.map(copyAcc) } : {}),
    ...(item.closing ? { closing: item.closing.map(copyAcc) } : {}),
  };
}

// ---- DynamoDB form (plain JS values as the DocumentClient marshals them) --------------------

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
 * Serialize an item (`closedRetentionDays`: only the closer writes CLOSED items). Accumulators are stored as one JSON string attribute: compact, and a
 * single attribute keeps the write one PutItem whatever the number of aggregates. CLOSED items
 * drop them and get an expiry; items with something open carry the sparse index's keys.
 */
export function toStoredItem(job: Job, item: WindowItem, nowMs: number, closedRetentionDays?: number): StoredItem {
  const stored: StoredItem = { pk: item.pk, sk: item.sk, key: item.key, job: job.name, version: item.version, status: item.status, hwm: item.hwm, updatedAt: nowMs };
  if (item.window) {
    stored.windowStart = item.window.start;
    stored.windowEnd = item.window.end;
    stored.eventCount = item.window.n;
  }
  if (item.status === 'CLOSED') {
    if (closedRetentionDays === undefined) throw new Error(`closing ${item.pk} ${item.sk} needs the retention of closed items`);
    stored.expiresAt = Math.floor(nowMs / 1000) + closedRetentionDays * 86_400;
  } else {
    stored.state = JSON.stringify({
      ...(item.window ? { w: encodeAcc(job, item.window) } : {}),
      ...(item.sessions ? { s: item.sessions.map((s) => encodeAcc(job, s)) } : {}),
      ...(item.closing ? { c: item.closing.map((s) => encodeAcc(job, s)) } : {}),
    });
  }
  if (item.closedThrough !== undefined) stored.closedThrough = item.closedThrough;
  if (item.gapMarks && Object.keys(item.gapMarks).length > 0) stored.gapMarks = item.gapMarks;
  const closeAt = itemCloseAt(job, item);
  if (closeAt !== undefined) {
    stored.openPk = openPk(job.name, item.key);
    stored.closeAt = closeAt;
  }
  return stored;
}

export function fromStoredItem(job: Job, stored: StoredItem): WindowItem {
  const item: WindowItem = {
    pk: String(stored.pk),
    sk: String(stored.sk),
    key: String(stored.key),
    version: Number(stored.version),
    hwm: { ...((stored.hwm as Record<string, string> | undefined) ?? {}) },
    status: stored.status as WindowStatus,
  };
  if (stored.closedThrough !== undefined) item.closedThrough = Number(stored.closedThrough);
  if (stored.gapMarks && typeof stored.gapMarks === 'object') item.gapMarks = { ...(stored.gapMarks as Record<string, string>) };
  if (typeof stored.state === 'string') {
    const state = JSON.parse(stored.state) as { w?: Json; s?: Json[]; c?: Json[] };
    if (state.w !== undefined) item.window = decodeAcc(job, state.w);
    if (state.s !== undefined) item.sessions = state.s.map((s) => decodeAcc(job, s));
    if (state.c !== undefined) item.closing = state.c.map((s) => decodeAcc(job, s));
  } else if (stored.windowStart !== undefined) {
    // CLOSED items drop their accumulators; keep the window bounds for late records.
    item.window = { start: Number(stored.windowStart), end: Number(stored.windowEnd), n: Number(stored.eventCount ?? 0), accs: [] };
  }
  if (isSessionItem(item)) {
    item.sessions ??= [];
    item.closing ??= [];
  }
  return item;
}
