// Retrying partial failures with full-jitter exponential backoff. The SDK already retries whole
// requests on throttling; these helpers retry the *entries* a batch API reports as failed
// (PutRecords, PutRecordBatch, BatchGetItem), which the SDK does not.

export interface BackoffOptions {
  /** Attempts in all, including the first. */
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { attempts: 8, baseMs: 50, maxMs: 5_000 };

export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  const cap = Math.min(options.maxMs, options.baseMs * 2 ** attempt);
  return Math.floor(Math.random() * cap);
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
 * and a short description; resend only those, in their original order, until none fail.
 */
export async function sendWithRetry<T>(
  what: string,
  items: readonly T[],
  send: (batch: readonly T[]) => Promise<{ failed: number[]; detail?: string }>,
  options: BackoffOptions = DEFAULT_BACKOFF,
): Promise<{ retried: number }> {
  let pending = items;
  let retried = 0;
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    if (attempt > 0) await sleep(backoffDelay(attempt, options));
    const { failed, detail } = await send(pending);
    if (failed.length === 0) return { retried };
    retried += failed.length;
    pending = failed.map((i) => pending[i] as T);
    if (attempt === options.attempts - 1) throw new RetriesExhaustedError(what, options.attempts, detail ?? `${failed.length} entries failed`);
  }
  return { retried };
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
