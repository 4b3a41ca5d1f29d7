// Bounded concurrency for per-item DynamoDB writes: enough in flight to hide latency, few
// enough not to trip throttling on a cold on-demand table. After the first failure no new item
// is started (in-flight ones finish), so a failed run stops promptly and predictably.
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (!failed && next < items.length) {
        try {
          await fn(items[next++] as T);
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    }),
  );
}
