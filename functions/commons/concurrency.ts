// Bounded concurrency for per-item DynamoDB writes: enough in flight to hide latency, few
// enough not to trip throttling on a cold on-demand table.
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}
