// Event-time progress: per-shard progress, the job watermark, when a window closes and why an
// event is late. Pure logic with plain numbers (epoch ms): the mapper, the reducer and the closer
// share one definition of "closed" (isWindowClosed), and tests need no clocks or AWS.
import { assignWindows, type Window, type WindowSpec } from './windows';

/** What the mappers record per input shard after each batch. */
export interface ShardProgress {
  shardId: string;
  /** Max event time seen on the shard so far (−∞ until the first valid event). */
  maxEventTime: number;
  /** Processing-time ms of the last mapper batch on the shard: what idleness is measured from. */
  updatedAt: number;
}

export interface WatermarkOptions {
  /** How far behind the max event time an event may arrive and still count as in order. */
  outOfOrdernessMs: number;
  /** A shard with no mapper batch for longer than this stops holding the watermark back. */
  idleTimeoutMs: number;
}

function checkOptions(opts: WatermarkOptions): void {
  if (!(opts.outOfOrdernessMs >= 0) || !Number.isFinite(opts.outOfOrdernessMs)) {
    throw new RangeError(`watermark: outOfOrdernessMs must be a finite number ≥ 0, got ${opts.outOfOrdernessMs}`);
  }
  if (!(opts.idleTimeoutMs >= 0)) {
    throw new RangeError(`watermark: idleTimeoutMs must be ≥ 0, got ${opts.idleTimeoutMs}`);
  }
}

/** Whether a shard still holds the watermark back. A future `updatedAt` (clock skew) counts as active. */
export function isShardActive(shard: ShardProgress, nowMs: number, idleTimeoutMs: number): boolean {
  return nowMs - shard.updatedAt <= idleTimeoutMs;
}

/**
 * The job watermark: the min over active shards of their max event time, minus the
 * out-of-orderness bound. It asserts "no more events with event time < watermark are expected";
 * a window [start, end) is complete once watermark ≥ end.
 *
 * Idle shards (no batch for longer than idleTimeout) are left out, like Flink's withIdleness,
 * so one quiet shard cannot stall every window.
 *
 * When ALL shards are idle the input has stopped; we then take the MAX over all shards of their
 * max event time, minus the bound: everything that was sent has been seen, so it is complete up
 * to the bound. This lets the final windows close when input stops, without inventing event time
 * from the wall clock (nowMs only decides idleness, never the watermark's value), so replaying
 * old data still yields the same windows. Windows ending after that point stay open until more
 * input arrives.
 *
 * No shards → −∞ (nothing is known; nothing closes).
 *
 * The value is not monotonic on its own: a shard that wakes up after being idle can pull it back.
 * Callers persisting it should keep max(previous, computed): windows already closed stay closed,
 * and the woken shard's older events are then classified late (reported, never dropped).
 */
export function computeWatermark(shards: readonly ShardProgress[], nowMs: number, opts: WatermarkOptions): number {
  checkOptions(opts);
  if (shards.length === 0) return Number.NEGATIVE_INFINITY;
  let activeMin = Number.POSITIVE_INFINITY;
  let anyActive = false;
  let overallMax = Number.NEGATIVE_INFINITY;
  for (const shard of shards) {
    overallMax = Math.max(overallMax, shard.maxEventTime);
    if (isShardActive(shard, nowMs, opts.idleTimeoutMs)) {
      anyActive = true;
      activeMin = Math.min(activeMin, shard.maxEventTime);
    }
  }
  return (anyActive ? activeMin : overallMax) - opts.outOfOrdernessMs;
}

/** When a window ending at `windowEnd` closes: the watermark it waits for. */
export function closeTime(windowEnd: number, allowedLatenessMs: number): number {
  return windowEnd + allowedLatenessMs;
}

/** A window closes once the watermark reaches its end plus the allowed lateness (inclusive). */
export function isWindowClosed(windowEnd: number, allowedLatenessMs: number, watermark: number): boolean {
  return watermark >= closeTime(windowEnd, allowedLatenessMs);
}

function formatTime(ms: number): string {
  // toISOString throws outside ±8.64e15 and on ±∞; keep the raw number readable either way.
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? `${new Date(ms).toISOString()} (${ms})` : String(ms);
}

function lateReason(window: Window, allowedLatenessMs: number, watermark: number): string {
  return (
    `window [${formatTime(window.start)}, ${formatTime(window.end)}) closed at ` +
    `${formatTime(closeTime(window.end, allowedLatenessMs))} (end + allowed lateness ${allowedLatenessMs}ms); ` +
    `watermark is ${formatTime(watermark)}`
  );
}

/**
 * Split an event's windows into still-open and already-closed ones, both oldest first.
 *
 * Partially-late events in hopping windows are counted in their open windows and reported late
 * for the closed ones: the mapper emits partials only for `open` and sends one late record per
 * `closed` window (use lateReasonFor for its reason). Tumbling and session events have a
 * single window (for sessions the proto-session [t, t + gap)), so they are either fully open or
 * fully late: deciding from the event and the watermark alone keeps the outcome independent of
 * batch order and retries.
 */
export function openWindowsFor(
  spec: WindowSpec,
  eventTime: number,
  allowedLatenessMs: number,
  watermark: number,
): { open: Window[]; closed: Window[] } {
  const open: Window[] = [];
  const closed: Window[] = [];
  for (const window of assignWindows(spec, eventTime)) {
    (isWindowClosed(window.end, allowedLatenessMs, watermark) ? closed : open).push(window);
  }
  return { open, closed };
}

/** The late-record reason for a closed window. */
export function lateReasonFor(window: Window, allowedLatenessMs: number, watermark: number): string {
  return lateReason(window, allowedLatenessMs, watermark);
}

/**
 * Fold one mapper batch into a shard's progress. The max event time never decreases (an
 * out-of-order batch cannot pull it back). A batch with no valid events still refreshes
 * `updatedAt`: the shard is delivering records, so it is not idle.
 */
export function advanceShardProgress(
  prev: ShardProgress | undefined,
  batchMaxEventTime: number | undefined,
  nowMs: number,
  shardId: string,
): ShardProgress {
  if (prev !== undefined && prev.shardId !== shardId) {
    throw new Error(`advanceShardProgress: progress of shard '${prev.shardId}' passed for shard '${shardId}'`);
  }
  // Event times are validated when parsed; a NaN here is a bug, and persisting it would poison
  // the watermark for good (every comparison with NaN is false), so fail loudly instead.
  if (batchMaxEventTime !== undefined && !Number.isFinite(batchMaxEventTime)) {
    throw new RangeError(`advanceShardProgress: batch max event time must be finite, got ${batchMaxEventTime}`);
  }
  const prevMax = prev?.maxEventTime ?? Number.NEGATIVE_INFINITY;
  const prevUpdated = prev?.updatedAt ?? Number.NEGATIVE_INFINITY;
  return {
    shardId,
    maxEventTime: Math.max(prevMax, batchMaxEventTime ?? Number.NEGATIVE_INFINITY),
    // Monotonic too, so a Lambda with a lagging clock cannot make a shard look idle early.
    updatedAt: Math.max(prevUpdated, nowMs),
  };
}
