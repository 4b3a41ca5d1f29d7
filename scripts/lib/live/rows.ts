// The live view's rows, pure: a state item as DynamoDB holds it → one row per open window (or open
// session), built by the same code that writes an `update` result (protocol/fold.ts currentResults →
// window-item.ts windowResult → output-records.ts makeResult), so a live row has exactly the columns
// and values of the `results` row the reducer would emit for that item version — a column added to
// the result records appears here too. Four columns are added after them: `state` ('open', or 'due'
// once the recorded watermark has reached the window's close time), `closeAt`, `watermark` (the
// recorded floor every decision has acted on) and `updatedAt` (the item's last write). `final` is always false:
// the values are provisional until the closer emits the window.
import type { Job } from '../../../functions/core/job';
import { iso, type ResultRecord } from '../../../functions/core/output-records';
import { currentResults } from '../../../functions/core/protocol/fold';
import { closeTime } from '../../../functions/core/watermark';
import { emptyItem, fromStoredItem, type StoredItem } from '../../../functions/core/window-item';
import type { QueryResult } from '../duckdb';

/** Columns the live view adds after the result record's own. */
export const LIVE_COLUMNS = ['state', 'closeAt', 'watermark', 'updatedAt'] as const;

export type LiveState = 'open' | 'due';

export type LiveRow = ResultRecord & {
  state: LiveState;
  closeAt: string;
  watermark: string | null;
  updatedAt: string | null;
};

export interface LiveContext {
  /** The recorded watermark floor, what every decision has acted on (−∞: none yet). */
  watermark: number;
  /** Wall clock: the rows' emittedAt (when this view was read). */
  nowMs: number;
}

/**
 * The rows of one stored item: its open window, or each of its open sessions. CLOSED items and
 * sessions already frozen for emission (`closing`: their final result is on its way to results/)
 * give none.
 */
export function liveRows(job: Job, stored: StoredItem, context: LiveContext): LiveRow[] {
  const item = fromStoredItem(job, stored);
  const watermark = Number.isFinite(context.watermark) ? iso(context.watermark) : null;
  const updatedAt = typeof stored.updatedAt === 'number' && Number.isFinite(stored.updatedAt) ? iso(stored.updatedAt) : null;
  return currentResults(job, item, context.nowMs).map((result) => {
    const closeAtMs = closeTime(Date.parse(result.windowEnd), job.allowedLatenessMs);
    return {
      ...result,
      state: closeAtMs <= context.watermark ? 'due' : 'open',
      closeAt: iso(closeAtMs),
      watermark,
      updatedAt,
    } as LiveRow;
  });
}

/** Newest windows first (then key, then end): the ones the S3 views are furthest behind on. */
export function compareLiveRows(a: LiveRow, b: LiveRow): number {
  return b.windowStart.localeCompare(a.windowStart) || a.job.localeCompare(b.job) || a.key.localeCompare(b.key) || a.windowEnd.localeCompare(b.windowEnd);
}

/**
 * The result columns of a job's rows, from the result builder itself (one result of an empty
 * window), so a view with no open window still shows the columns it would have.
 */
export function resultColumnsOf(job: Job): string[] {
  const item = emptyItem('', '', '');
  item.window = { start: 0, end: 0, n: 0, accs: Object.values(job.aggregates).map((a) => a.zero()) };
  return Object.keys(currentResults(job, item, 0)[0] ?? {});
}

const NUMERIC = 'DOUBLE';
const TEXT = 'VARCHAR';

/**
 * Rows as the query formatter takes them: columns in the result record's order (the union over
 * the rows, so jobs with different aggregates share one table), then the live columns; missing
 * values are NULL. Numbers are typed DOUBLE (right-aligned in a table), everything else as is.
 */
export function liveTable(rows: readonly LiveRow[], emptyColumns: readonly string[] = []): QueryResult {
  const columns: string[] = [];
  const extra = new Set<string>(LIVE_COLUMNS);
  for (const row of rows) for (const name of Object.keys(row)) if (!extra.has(name) && !columns.includes(name)) columns.push(name);
  if (rows.length === 0) for (const name of emptyColumns) if (!extra.has(name) && !columns.includes(name)) columns.push(name);
  columns.push(...LIVE_COLUMNS);
  const types = columns.map((name) => {
    const values = rows.map((r) => (r as Record<string, unknown>)[name]).filter((v) => v !== null && v !== undefined);
    return values.length > 0 && values.every((v) => typeof v === 'number') ? NUMERIC : TEXT;
  });
  return { columns, types, rows: rows.map((row) => columns.map((name) => (row as Record<string, unknown>)[name] ?? null)) };
}

/** An index entry of the open-windows index (KEYS_ONLY: the table's keys and the close time). */
export interface OpenEntry {
  pk: string;
  sk: string;
  closeAt: number;
}

/**
 * The `limit` entries to read when more are open: the latest close times first (the windows still
 * filling), ties by key so repeated reads pick the same ones.
 */
export function newestEntries(entries: readonly OpenEntry[], limit: number): OpenEntry[] {
  return [...entries].sort((a, b) => b.closeAt - a.closeAt || a.pk.localeCompare(b.pk) || a.sk.localeCompare(b.sk)).slice(0, limit);
}
