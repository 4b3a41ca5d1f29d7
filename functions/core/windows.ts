// Event-time windows: tumbling and hopping (aligned to the Unix epoch) and session windows.
// A window is the half-open interval [start, end) in epoch milliseconds.
import { Duration, formatDuration, parseDuration } from './duration';

export type WindowSpec =
  | { readonly type: 'tumbling'; readonly sizeMs: number }
  | { readonly type: 'hopping'; readonly sizeMs: number; readonly slideMs: number }
  | { readonly type: 'session'; readonly gapMs: number };

export interface Window {
  readonly start: number;
  readonly end: number;
}

/** Fixed, non-overlapping windows of `size`, aligned to the epoch: [k·size, (k+1)·size). */
export function tumbling(size: Duration): WindowSpec {
  const sizeMs = parseDuration(size, 'tumbling(size)');
  if (sizeMs <= 0) throw new Error(`tumbling(size): size must be positive, got '${size}'`);
  return { type: 'tumbling', sizeMs };
}

/**
 * Overlapping windows of `size` starting every `slide`, aligned to the epoch. Each event falls
 * in size/slide windows, so size must be a whole multiple of slide.
 */
export function hopping(size: Duration, slide: Duration): WindowSpec {
  const sizeMs = parseDuration(size, 'hopping(size)');
  const slideMs = parseDuration(slide, 'hopping(slide)');
  if (sizeMs <= 0 || slideMs <= 0) throw new Error(`hopping(size, slide): both must be positive, got '${size}', '${slide}'`);
  if (slideMs > sizeMs) {
    throw new Error(`hopping(size, slide): the hop '${slide}' is larger than the size '${size}'; events between windows would be lost — use a slide ≤ size`);
  }
  if (sizeMs % slideMs !== 0) {
    throw new Error(`hopping(size, slide): size '${size}' is not a whole multiple of slide '${slide}'; pick e.g. hopping('${formatDuration(slideMs * Math.max(1, Math.round(sizeMs / slideMs)))}', '${slide}')`);
  }
  return { type: 'hopping', sizeMs, slideMs };
}

/** Session windows: a key's events closer than `gap` to each other belong to one session. */
export function session(gap: Duration): WindowSpec {
  const gapMs = parseDuration(gap, 'session(gap)');
  if (gapMs <= 0) throw new Error(`session(gap): gap must be positive, got '${gap}'`);
  return { type: 'session', gapMs };
}

/**
 * The largest multiple of `step` ≤ t, correct for negative t (-1 → -step). `t % step` is exact in
 * IEEE arithmetic, and so is subtracting it; the former `((t % step) + step) % step` rounded for
 * fractional t just below a boundary (10 - 2⁻⁴⁹ stayed 10 - 2⁻⁴⁹ instead of 0) and returned -0
 * for t = -0.
 */
function floorTo(t: number, step: number): number {
  const r = t % step;
  return r < 0 ? t - r - step : t - r;
}

/**
 * The windows an event at `t` belongs to, oldest first. For sessions this is the event's own
 * proto-session [t, t + gap), which the state merges with overlapping sessions.
 */
export function assignWindows(spec: WindowSpec, t: number): Window[] {
  switch (spec.type) {
    case 'tumbling': {
      const start = floorTo(t, spec.sizeMs);
      return [{ start, end: start + spec.sizeMs }];
    }
    case 'hopping': {
      const windows: Window[] = [];
      const lastStart = floorTo(t, spec.slideMs);
      for (let start = lastStart - spec.sizeMs + spec.slideMs; start <= lastStart; start += spec.slideMs) {
        windows.push({ start, end: start + spec.sizeMs });
      }
      return windows;
    }
    case 'session':
      return [{ start: t, end: t + spec.gapMs }];
  }
}

/** Sessions merge when they overlap or touch, as in Flink's TimeWindow.intersects. */
export function sessionsIntersect(a: Window, b: Window): boolean {
  return a.start <= b.end && b.start <= a.end;
}

export interface SessionEntry<T> extends Window {
  readonly value: T;
}

/**
 * Merge a list of sessions: every chain of intersecting sessions becomes one session spanning
 * them, with values combined by `mergeValue(into, from)` in start order. Returns the sessions
 * sorted by start; never mutates the input array (values may be mutated by mergeValue).
 */
export function mergeSessions<T>(sessions: readonly SessionEntry<T>[], mergeValue: (into: T, from: T) => T): SessionEntry<T>[] {
  const sorted = [...sessions].sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: SessionEntry<T>[] = [];
  for (const entry of sorted) {
    const last = merged[merged.length - 1];
    if (last && sessionsIntersect(last, entry)) {
      merged[merged.length - 1] = {
        start: last.start,
        end: Math.max(last.end, entry.end),
        value: mergeValue(last.value, entry.value),
      };
    } else {
      merged.push(entry);
    }
  }
  return merged;
}

export function describeWindow(spec: WindowSpec): string {
  switch (spec.type) {
    case 'tumbling':
      return `tumbling(${formatDuration(spec.sizeMs)})`;
    case 'hopping':
      return `hopping(${formatDuration(spec.sizeMs)}, ${formatDuration(spec.slideMs)})`;
    case 'session':
      return `session(${formatDuration(spec.gapMs)})`;
  }
}
