// Durations as users write them in job definitions: '30s', '5m', '1h', '1d', '250ms'.
export type Duration = `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parse a duration to milliseconds. Throws with the accepted forms when `text` is not one. */
export function parseDuration(text: string, what = 'duration'): number {
  if (/^\s*-/.test(String(text))) {
    throw new Error(`${what}: '${text}' is negative; durations are ≥ 0 (use '0s' for none)`);
  }
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(String(text).trim());
  if (!match) {
    throw new Error(
      `${what}: '${text}' is not a duration; write a number followed by ms, s, m, h or d (e.g. '30s', '5m', '1h')`,
    );
  }
  const ms = Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  if (!Number.isSafeInteger(ms)) {
    throw new Error(`${what}: '${text}' is not a whole number of milliseconds`);
  }
  return ms;
}

/** Format milliseconds in the largest unit that divides them exactly ('300000' → '5m'). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit] as number;
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
