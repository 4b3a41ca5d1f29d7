// The reducer's half of the exactly-once protocol: group a batch's partials by state item and fold
// them into the item as read, through the high-water-mark fence.
//
// Fence: an item remembers, per input shard, the last sequence number (`hwm`) whose partial it
// applied. A partial whose origin range ends at or before that mark is a redelivery and is
// skipped; the mapper guarantees ranges never straddle a mark (write-ahead ends, write-ahead.ts),
// so "last ≤ hwm" is exactly "already applied". A partial for a window that has closed becomes a
// late record instead: it is never dropped silently.
import { compareSequenceNumbers } from '../positions';
import type { Job } from '../job';
import { iso, type LatePartialRecord, type ResultRecord } from '../output-records';
import type { Bundle, Origin, WindowContribution } from '../shuffle-format';
import { isWindowClosed } from '../watermark';
import {
  accumulate,
  copyItem,
  emptyItem,
  isSessionItem,
  itemKeyFor,
  mergeAccumulations,
  resultValues,
  windowResult,
  type WindowAccumulation,
  type WindowItem,
} from '../window-item';
import { itemId } from './ports';

export interface IncomingPartial {
  origin: Origin;
  key: string;
  windows: readonly WindowContribution[];
  /** A replay of a gap (replay.ts). */
  replay?: Bundle['replay'];
}

/** Open traced gaps per input shard (their ends), from the progress partition: where an item's gap marks are taken. */
export type OpenGapsByShard = ReadonlyMap<string, readonly string[]>;

/** The key of an item's gap mark. */
export function gapMarkKey(shardId: string, gapTo: string): string {
  return `${shardId}@${gapTo}`;
}

/** A batch's partials for one state item, in arrival order. */
export interface PartialGroup {
  pk: string;
  sk: string;
  partials: IncomingPartial[];
}

/** Group partials by state item, keeping arrival order within each group. */
export function groupPartials(job: Job, bundles: readonly Bundle[]): PartialGroup[] {
  const groups = new Map<string, PartialGroup>();
  const add = (key: string, incoming: IncomingPartial, window: { start: number; end: number } | undefined): void => {
    if (!window) return;
    const { pk, sk } = itemKeyFor(job, key, window);
    const id = itemId(pk, sk);
    let group = groups.get(id);
    if (!group) {
      group = { pk, sk, partials: [] };
      groups.set(id, group);
    }
    group.partials.push(incoming);
  };
  for (const bundle of bundles) {
    if (bundle.job !== job.name) continue;
    for (const partial of bundle.partials) {
      if (job.window.type === 'session') {
        add(partial.key, { origin: bundle.origin, key: partial.key, windows: partial.windows, ...(bundle.replay ? { replay: bundle.replay } : {}) }, partial.windows[0]);
      } else {
        // Tumbling/hopping partials carry one window each; split defensively all the same.
        for (const w of partial.windows) add(partial.key, { origin: bundle.origin, key: partial.key, windows: [w], ...(bundle.replay ? { replay: bundle.replay } : {}) }, w);
      }
    }
  }
  return [...groups.values()];
}

export interface FoldOutcome {
  item: WindowItem;
  /** True when the item must be written (something was applied). */
  changed: boolean;
  applied: number;
  duplicates: number;
  late: LatePartialRecord[];
}

function alreadyApplied(item: WindowItem, origin: Origin): boolean {
  const mark = item.hwm[origin.shardId];
  return mark !== undefined && compareSequenceNumbers(origin.last, mark) <= 0;
}

/**
 * Where a partial's progress goes if applied: the fence (`hwm`), a gap mark, or nowhere (already
 * applied). An item's partials from a shard are applied as a prefix of their emission order; a gap
 * breaks that only for the gap's records, and the gap mark tracks that prefix:
 * - an item that has not crossed the gap (hwm ≤ its end) applies a replayed partial through the fence;
 * - an item that crossed it recorded how far into the gap it had got (its mark), and applies a
 *   replayed partial only past the mark;
 * - an item that crossed an untraced gap has no mark: nothing of that gap was ever emitted.
 */
function replayTarget(item: WindowItem, partial: IncomingPartial): { kind: 'hwm' } | { kind: 'mark'; key: string } | { kind: 'applied' } {
  const replay = partial.replay;
  const { shardId, last } = partial.origin;
  if (!replay) return alreadyApplied(item, partial.origin) ? { kind: 'applied' } : { kind: 'hwm' };
  const key = gapMarkKey(shardId, replay.gap);
  const mark = item.gapMarks?.[key];
  if (mark !== undefined) return compareSequenceNumbers(last, mark) > 0 ? { kind: 'mark', key } : { kind: 'applied' };
  const hwm = item.hwm[shardId];
  if (hwm === undefined || compareSequenceNumbers(hwm, replay.gap) <= 0) return alreadyApplied(item, partial.origin) ? { kind: 'applied' } : { kind: 'hwm' };
  // Crossed without a mark: a traced gap is recorded before anything past it is emitted, so this is
  // an untraced one (nothing applied); a traced one would be a broken invariant — never count twice.
  return replay.traced ? { kind: 'applied' } : { kind: 'mark', key };
}

/** A live partial from past an open traced gap, applied to an item that had not crossed it: mark how far it had got. */
function markCrossings(item: WindowItem, origin: Origin, gaps: OpenGapsByShard | undefined): void {
  const ends = gaps?.get(origin.shardId);
  if (!ends) return;
  const hwm = item.hwm[origin.shardId];
  for (const to of ends) {
    if (compareSequenceNumbers(origin.first, to) <= 0) continue;
    if (hwm !== undefined && compareSequenceNumbers(hwm, to) > 0) continue;
    const key = gapMarkKey(origin.shardId, to);
    item.gapMarks ??= {};
    item.gapMarks[key] ??= hwm ?? '0';
  }
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

/** Why a contribution cannot be applied to the item any more, or undefined when it can. */
function lateness(job: Job, item: WindowItem, c: WindowContribution, watermark: number): string | undefined {
  if (item.status === 'CLOSED') return `window [${iso(c.start)}, ${iso(c.end)}) was already closed when this partial arrived`;
  if (isWindowClosed(c.end, job.allowedLatenessMs, watermark)) {
    return `window [${iso(c.start)}, ${iso(c.end)}) closed at watermark ${iso(c.end + job.allowedLatenessMs)} (end + allowed lateness); watermark is ${iso(watermark)}`;
  }
  if (job.window.type === 'session') {
    if (item.closedThrough !== undefined && c.start <= item.closedThrough) {
      return `session [${iso(c.start)}, ${iso(c.end)}) reaches back into a session that already closed (through ${iso(item.closedThrough)})`;
    }
    if (item.closing?.some((s) => s.start <= c.end && c.start <= s.end)) return `session [${iso(c.start)}, ${iso(c.end)}) overlaps a session being closed`;
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
 * Apply a group's partials (all for one item, in arrival order) to the item as read (undefined:
 * it does not exist yet). Never mutates `current`. Partials already applied are skipped; partials
 * for a closed window become late records; the rest are merged and the version bumped once.
 */
export function foldPartials(job: Job, current: WindowItem | undefined, group: PartialGroup, watermark: number, nowMs: number, gaps?: OpenGapsByShard): FoldOutcome {
  const item = current ? copyItem(current, job) : emptyItem(group.pk, group.sk, group.partials[0]?.key ?? '');
  const outcome: FoldOutcome = { item, changed: false, applied: 0, duplicates: 0, late: [] };
  for (const partial of group.partials) {
    const target = replayTarget(item, partial);
    if (target.kind === 'applied') {
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
      if (isSessionItem(item)) addSession(job, item, c);
      else item.window = accumulate(job, item.window, c);
    }
    if (consumed) {
      if (target.kind === 'mark') {
        item.gapMarks = { ...item.gapMarks, [target.key]: partial.origin.last };
      } else {
        if (!partial.replay) markCrossings(item, partial.origin, gaps);
        item.hwm[partial.origin.shardId] = partial.origin.last;
      }
      outcome.applied++;
      outcome.changed = true;
    }
  }
  if (outcome.changed) item.version++;
  return outcome;
}

/** Late records in `later` that `earlier` does not already hold (a re-fold after a lost race repeats the first fold's). */
export function newLate(earlier: readonly LatePartialRecord[], later: readonly LatePartialRecord[]): LatePartialRecord[] {
  const id = (l: LatePartialRecord): string => `${l.key}|${l.windowStart}|${l.shardId}|${l.firstSequenceNumber}`;
  const known = new Set(earlier.map(id));
  return later.filter((l) => !known.has(id(l)));
}

/** 'update' mode: the results of an item's open windows, as of its version. */
export function currentResults(job: Job, item: WindowItem, nowMs: number): ResultRecord[] {
  if (item.status !== 'OPEN') return [];
  return (item.window ? [item.window] : (item.sessions ?? [])).map((acc) => windowResult(job, item, acc, false, nowMs));
}
