// What a reprocess range may be and where its input starts (pure): the windows starting in
// [from, to) must all be closed by the live pipeline — otherwise the live closer would emit them
// later with fewer rows' worth of certainty, and a reprocess of a window still filling would be
// superseded by nothing — and the input they need must still be retained.
import { formatDuration } from '../../../functions/core/duration';
import type { Job } from '../../../functions/core/job';
import { iso } from '../../../functions/core/output-records';
import type { EventTimeRange } from './recompute';

/** Arrival timestamps are approximate (and producers' clocks drift): read this much earlier. */
export const ARRIVAL_SLACK_MS = 5 * 60_000;

const floorTo = (t: number, step: number): number => t - (((t % step) + step) % step);

/** The latest end of a window starting in the range (sessions: the least a session starting before `to` ends at). */
export function latestWindowEnd(job: Pick<Job, 'window'>, range: EventTimeRange): number {
  const w = job.window;
  switch (w.type) {
    case 'tumbling':
      return floorTo(range.toMs - 1, w.sizeMs) + w.sizeMs;
    case 'hopping':
      return floorTo(range.toMs - 1, w.slideMs) + w.sizeMs;
    case 'session':
      return range.toMs + w.gapMs;
  }
}

/**
 * Why the range cannot be reprocessed yet (a window in it is still open in the live pipeline), or
 * undefined. `floor` is the watermark the live closer last acted on (-∞: it never ran).
 */
export function openWindowProblem(job: Pick<Job, 'name' | 'window' | 'allowedLatenessMs'>, range: EventTimeRange, floor: number): string | undefined {
  const closesAt = latestWindowEnd(job, range) + job.allowedLatenessMs;
  if (closesAt <= floor) return undefined;
  const lastClosed = Number.isFinite(floor) ? lastClosedBoundary(job, floor) : undefined;
  return (
    `windows of '${job.name}' starting before ${iso(range.toMs)} close at watermark ${iso(closesAt)} (window end + allowed lateness ${formatDuration(job.allowedLatenessMs)}), ` +
    `but the live watermark is ${Number.isFinite(floor) ? iso(floor) : 'not set yet (the closer has not run)'}: they are still open and the live pipeline will emit them. ` +
    (lastClosed !== undefined && lastClosed > range.fromMs ? `Reprocess up to --to ${iso(lastClosed)}, or wait.` : 'Wait until they close.')
  );
}

/** The latest `to` whose windows are all closed at `floor` (fixed windows: a multiple of the slide). */
export function lastClosedBoundary(job: Pick<Job, 'window' | 'allowedLatenessMs'>, floor: number): number {
  const w = job.window;
  if (w.type === 'session') return floor - job.allowedLatenessMs - w.gapMs;
  const step = w.type === 'tumbling' ? w.sizeMs : w.slideMs;
  // Windows starting before `to` end by floorTo(to - 1, step) + size ≤ floor - lateness.
  return floorTo(floor - job.allowedLatenessMs - w.sizeMs, step) + step;
}

/**
 * The earliest arrival that can hold an event of a window in the range: an event at t arrived no
 * earlier than t - maxFutureSkew (the mapper rejects events further ahead), minus the slack.
 * Sessions chain back without bound: their input is read from the oldest retained record (undefined).
 */
export function readStart(job: Pick<Job, 'window' | 'maxFutureSkewMs'>, range: EventTimeRange): number | undefined {
  if (job.window.type === 'session') return undefined;
  return range.fromMs - job.maxFutureSkewMs - ARRIVAL_SLACK_MS;
}
