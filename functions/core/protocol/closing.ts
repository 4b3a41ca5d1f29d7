// The closer's half of the exactly-once protocol, as decisions over an item read at a watermark.
//
// Tumbling/hopping windows: emit the final result, then flip OPEN → CLOSED with one write
// conditioned on the version emitted. A reducer write in between fails the flip; the closer reads
// again and emits again with the higher version (downstream keeps the highest version per
// resultId). A crash between emit and flip re-emits the same version. One write per window.
//
// Sessions can still grow by merging, so an emitted session must not change afterwards: due
// sessions are first frozen — moved to `closing`, where any partial touching them is late (write
// 1) — then emitted, then forgotten (write 2). A crash between the writes leaves them in
// `closing`, due at once, and the next run emits them again (same version).
import type { Job } from '../job';
import type { ResultRecord } from '../output-records';
import { isWindowClosed } from '../watermark';
import { copyItem, isSessionItem, itemCloseAt, windowResult, type WindowItem } from '../window-item';

export type CloseStep =
  /** Nothing of the item is due at this watermark. */
  | { readonly kind: 'nothing-due' }
  /** Window: emit `results`, then write `next` (CLOSED, same version) if the item is still at the version read. */
  | { readonly kind: 'emit-then-flip'; readonly results: readonly ResultRecord[]; readonly next: WindowItem }
  /** Sessions: write `next` (due sessions moved to `closing`, version + 1) if the item is still at the version read. */
  | { readonly kind: 'freeze'; readonly next: WindowItem }
  /** Sessions: emit the frozen sessions, then write `next` (without them, version + 1). */
  | { readonly kind: 'emit-then-forget'; readonly results: readonly ResultRecord[]; readonly next: WindowItem };

/** Whether the closer has anything to do with an item at `watermark` (the open-windows index's own test). */
export function isDue(job: Job, item: WindowItem, watermark: number): boolean {
  const closeAt = itemCloseAt(job, item);
  return closeAt !== undefined && closeAt <= watermark;
}

function isSessionDue(job: Job, session: { end: number }, watermark: number): boolean {
  return isWindowClosed(session.end, job.allowedLatenessMs, watermark);
}

/** The next step of closing `item` at `watermark`; apply it, then ask again with the item written. */
export function nextCloseStep(job: Job, item: WindowItem, watermark: number, nowMs: number): CloseStep {
  if (!isDue(job, item, watermark)) return { kind: 'nothing-due' };
  if (!isSessionItem(item)) {
    if (!item.window) return { kind: 'nothing-due' };
    return { kind: 'emit-then-flip', results: [windowResult(job, item, item.window, true, nowMs)], next: { ...item, status: 'CLOSED' } };
  }
  const closing = item.closing ?? [];
  if (closing.length > 0) {
    const next = copyItem(item);
    next.closing = [];
    next.version++;
    return { kind: 'emit-then-forget', results: closing.map((s) => windowResult(job, item, s, true, nowMs)), next };
  }
  const due = (item.sessions ?? []).filter((s) => isSessionDue(job, s, watermark));
  if (due.length === 0) return { kind: 'nothing-due' };
  const next = copyItem(item, job);
  next.sessions = (next.sessions ?? []).filter((s) => !isSessionDue(job, s, watermark));
  next.closing = due.map((s) => ({ ...s, accs: [...s.accs] }));
  next.closedThrough = Math.max(next.closedThrough ?? Number.NEGATIVE_INFINITY, ...due.map((s) => s.end));
  next.version++;
  return { kind: 'freeze', next };
}
