// Pure helpers of the handlers: shuffle put planning (order per bucket), retrying only the
// failed entries of a batch API, chunking by count and size.
import fc from 'fast-check';
import { chunkBy, failedEntries, RetriesExhaustedError, sendWithRetry } from '../../functions/commons/retry';
import { planPutCalls, type ShuffleRecord } from '../../functions/core/protocol/packing';

describe('planPutCalls', () => {
  it('keeps each partition key in order, one record per key per call, within 500 records and 5 MiB', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 600_000 })), { maxLength: 300 }), (spec) => {
        const records: ShuffleRecord[] = spec.map(([k, size], i) => ({ partitionKey: `b${k}`, data: Buffer.alloc(size, i % 256) }));
        const calls = planPutCalls(records);
        expect(calls.flat()).toHaveLength(records.length);
        for (const call of calls) {
          expect(call.length).toBeLessThanOrEqual(500);
          expect(new Set(call.map((r) => r.partitionKey)).size).toBe(call.length);
          const bytes = call.reduce((n, r) => n + r.data.length + r.partitionKey.length, 0);
          expect(call.length === 1 || bytes <= 5 * 1024 * 1024).toBe(true);
        }
        // Per key: the calls deliver its records in the original order.
        const sent = calls.flat();
        for (let k = 0; k < 10; k++) {
          const want = records.filter((r) => r.partitionKey === `b${k}`);
          const got = sent.filter((r) => r.partitionKey === `b${k}`);
          expect(got).toEqual(want);
          // and a later record of the key is never in an earlier or the same call
          const callOf = (r: ShuffleRecord) => calls.findIndex((c) => c.includes(r));
          for (let i = 1; i < want.length; i++) expect(callOf(want[i]!)).toBeGreaterThan(callOf(want[i - 1]!));
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('sendWithRetry', () => {
  const fast = { attempts: 4, baseMs: 1, maxMs: 2 };

  it('resends only the failed entries, in order, until none fail', async () => {
    const seen: string[][] = [];
    let round = 0;
    await sendWithRetry('test', ['a', 'b', 'c', 'd'], async (batch) => {
      seen.push([...batch]);
      round++;
      return round === 1 ? { failed: [1, 3] } : round === 2 ? { failed: [1] } : { failed: [] };
    }, fast);
    expect(seen).toEqual([['a', 'b', 'c', 'd'], ['b', 'd'], ['d']]);
  });

  it('throws RetriesExhaustedError naming what failed when retries run out', async () => {
    await expect(sendWithRetry('Firehose PutRecordBatch to x', ['a'], async () => ({ failed: [0], detail: 'ServiceUnavailableException: slow down' }), fast)).rejects.toThrow(
      new RetriesExhaustedError('Firehose PutRecordBatch to x', 4, 'ServiceUnavailableException: slow down'),
    );
  });

  it('failedEntries reads batch API responses', () => {
    expect(failedEntries([{}, { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' }, {}, { ErrorCode: 'InternalFailure' }])).toEqual({
      failed: [1, 3],
      detail: 'ProvisionedThroughputExceededException: Rate exceeded',
    });
    expect(failedEntries(undefined)).toEqual({ failed: [] });
  });
});

describe('chunkBy', () => {
  it('bounds chunks by count and by size, keeping order', () => {
    const items = [5, 5, 5, 20, 1, 1, 1];
    expect(chunkBy(items, 3, 12, (n) => n)).toEqual([[5, 5], [5], [20], [1, 1, 1]]);
  });
});
