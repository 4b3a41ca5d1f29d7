// Retrying partial failures with full-jitter exponential backoff. The SDK already retries whole
// requests on throttling; these helpers retry the *entries* a batch API reports as failed
// (PutRecords, PutRecordBatch, BatchGetItem), which the SDK does not.

export interface BackoffOptions {
  /** Attempts in all, including the first. */
  attempts: number;
  baseMs: number;
  maxMs: number;
  /** How to wait (tests pass one that returns at once). */
  sleep?: (ms: number) => Promise<void>;
}

export const DEFAULT_BACKOFF: BackoffOptions = { attempts: 8, baseMs: 50, maxMs: 5_000 };

/** Full jitter (AWS Architecture Blog): uniform in [0, min(max, base · 2^attempt)). */
export function backoffDelay(attempt: number, options: Pick<BackoffOptions, 'baseMs' | 'maxMs'> = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const cap = Math.min(options.maxMs, options.baseMs * 2 ** attempt);
  return Math.floor(random() * cap);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Thrown when retries run out: the handler fails and Lambda retries the batch (never a loss). */
export class RetriesExhaustedError extends Error {
  constructor(what: string, attempts: number, detail: string) {
    super(`${what}: still failing after ${attempts} attempts (${detail})`);
    this.name = 'RetriesExhaustedError';
  }
}

/**
 * Send `items` with `send`, which returns the indices (into the array it was given) that failed
 * and a short description; resend only those, in their original order, with backoff, until none
 * fail or the attempts run out. Returns what still failed (the caller decides: throw or report).
 */
export async function retryFailed<T>(
  items: readonly T[],
  send: (batch: readonly T[]) => Promise<{ failed: number[]; detail?: string }>,
  options: BackoffOptions = DEFAULT_BACKOFF,
): Promise<{ retried: number; failed: readonly T[]; detail?: string }> {
  const wait = options.sleep ?? sleep;
  let pending = items;
  let retried = 0;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await wait(backoffDelay(attempt, options));
    const { failed, detail } = await send(pending);
    if (failed.length === 0) return { retried, failed: [] };
    pending = failed.map((i) => pending[i] as T);
    if (attempt === options.attempts - 1) return { retried, failed: pending, ...(detail ? { detail } : {}) };
    retried += failed.length;
  }
}

/** retryFailed for the functions: anything still failing throws (Lambda retries the batch). */
export async function sendWithRetry<T>(
  what: string,
  items: readonly T[],
  send: (batch: readonly T[]) => Promise<{ failed: number[]; detail?: string }>,
  options: BackoffOptions = DEFAULT_BACKOFF,
): Promise<{ retried: number }> {
  const outcome = await retryFailed(items, send, options);
  if (outcome.failed.length > 0) throw new RetriesExhaustedError(what, options.attempts, outcome.detail ?? `${outcome.failed.length} entries failed`);
  return { retried: outcome.retried };
}

/** The failed entries of a batch API response (PutRecords, PutRecordBatch): indices and the first error. */
export function failedEntries(entries: readonly { ErrorCode?: string; ErrorMessage?: string }[] | undefined): { failed: number[]; detail?: string } {
  const failed: number[] = [];
  let detail: string | undefined;
  (entries ?? []).forEach((entry, i) => {
    if (entry.ErrorCode) {
      failed.push(i);
      detail ??= `${entry.ErrorCode}: ${entry.ErrorMessage ?? ''}`;
    }
  });
  return { failed, ...(detail ? { detail } : {}) };
}

/** Split items into chunks bounded by count and by total size. */
export function chunkBy<T>(items: readonly T[], maxCount: number, maxBytes: number, sizeOf: (item: T) => number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxCount || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
