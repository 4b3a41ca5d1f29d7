// The raw input archive's format and its reader for `npm run reprocess`: a record survives the
// archive line unchanged (KPL aggregates kept whole and decoded later by the mapper's decoding),
// hour folders, dedupe by (shard, sequence) with shards in sequence order, malformed lines named,
// and readArchive over gzipped objects of several hours (against an in-memory S3 client that
// answers ListObjectsV2 and GetObject; the embedded cloud's S3 is exercised in test/e2e/reprocess).
import { gzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { count, sum } from '../../functions/core/aggregates';
import { ArchiveFormatError, archivedInput, archiveHourPrefix, archiveHourPrefixes, archiveRecord, parseArchiveLines, type ArchiveRecord } from '../../functions/core/archive-records';
import type { InputRecord } from '../../functions/core/input-decoding';
import { defineJob } from '../../functions/core/job';
import { encodeAggregate } from '../../functions/core/kpl';
import { tumbling } from '../../functions/core/windows';
import { readArchive } from '../../scripts/lib/reprocess/archive';
import { Recompute } from '../../scripts/lib/reprocess/recompute';

const T0 = Date.parse('2026-03-01T23:30:00Z');
const HOUR = 3_600_000;
const line = (r: ArchiveRecord): string => `${JSON.stringify(r)}\n`;
const input = (shardId: string, sequenceNumber: string, data: Buffer, arrivalTime = T0): InputRecord => ({ shardId, sequenceNumber, partitionKey: 'k', data, arrivalTime });

const Reading = z.object({ id: z.string(), ts: z.number(), v: z.number() });
const job = defineJob({
  name: 'readings',
  schema: Reading,
  eventTime: (r: z.infer<typeof Reading>) => r.ts,
  map: (r: z.infer<typeof Reading>) => [[r.id, { v: r.v }]] as [string, { v: number }][],
  window: tumbling('5m'),
  allowedLateness: '1m',
  aggregates: { n: count(), total: sum('v') },
});

test('an input record survives its archive line unchanged (arrival time to the millisecond, bytes exactly)', () => {
  const record = input('shardId-000000000001', '49650000000000000000000000000000000000000000000000000001', Buffer.from([0, 1, 2, 250, 255]), T0 + 123);
  const [parsed] = parseArchiveLines(line(archiveRecord(record)));
  expect(parsed).toEqual({ shardId: record.shardId, sequenceNumber: record.sequenceNumber, approximateArrivalTimestamp: '2026-03-01T23:30:00.123Z', partitionKey: 'k', data: 'AAEC+v8=' });
  expect(archivedInput([parsed!]).shards.get(record.shardId)).toEqual([record]);
});

test('hour folders: by UTC arrival hour, across a day boundary', () => {
  expect(archiveHourPrefix(T0)).toBe('archive/dt=2026-03-01/hour=23/');
  expect(archiveHourPrefixes(T0, T0 + HOUR)).toEqual(['archive/dt=2026-03-01/hour=23/', 'archive/dt=2026-03-02/hour=00/']);
  expect(archiveHourPrefixes(T0, T0)).toEqual(['archive/dt=2026-03-01/hour=23/']);
});

test('repeats of a (shard, sequence) are dropped and counted; each shard comes back in sequence order', () => {
  const a = archiveRecord(input('s-1', '9', Buffer.from('a')));
  const b = archiveRecord(input('s-1', '10', Buffer.from('b')));
  const c = archiveRecord(input('s-2', '9', Buffer.from('c')));
  const { shards, duplicates } = archivedInput([b, a, c, b, a]);
  expect(duplicates).toBe(2);
  // Numeric order, not string order ('10' after '9').
  expect(shards.get('s-1')?.map((r) => r.sequenceNumber)).toEqual(['9', '10']);
  expect(shards.get('s-2')?.map((r) => r.data.toString())).toEqual(['c']);
});

test('a malformed line is an error naming the object and line, never skipped', () => {
  expect(() => parseArchiveLines(`${line(archiveRecord(input('s', '1', Buffer.from('x'))))}{oops\n`, 's3://b/archive/x.gz')).toThrow(new ArchiveFormatError('s3://b/archive/x.gz line 2 is not JSON'));
  expect(() => parseArchiveLines('{"shardId":"s"}\n')).toThrow(/line 1 has no string sequenceNumber/);
});

test('a KPL aggregate is archived whole and decoded by the mapper\'s decoding in Recompute; archived twice, it counts once', () => {
  const events = [1, 2, 3].map((i) => ({ id: 'a', ts: T0 + i * 1000, v: i }));
  const aggregate = encodeAggregate(events.map((e) => ({ partitionKey: e.id, data: JSON.stringify(e) })));
  const plain = { id: 'a', ts: T0 + 4000, v: 10 };
  const lines = [
    archiveRecord(input('s-1', '100', aggregate)),
    archiveRecord(input('s-1', '101', Buffer.from(JSON.stringify(plain)))),
    archiveRecord(input('s-1', '100', aggregate)), // the archiver's batch retried
  ];
  const { shards, duplicates } = archivedInput(parseArchiveLines(lines.map(line).join('')));
  expect(duplicates).toBe(1);
  const recompute = new Recompute(job, { fromMs: T0, toMs: T0 + HOUR }, T0 + 2 * HOUR);
  recompute.add('s-1', shards.get('s-1')!);
  expect(recompute.stats).toMatchObject({ records: 2, events: 4, rejected: 0 });
  expect(recompute.results(1).map((r) => ({ key: r.key, n: r.n, total: r.total }))).toEqual([{ key: 'a', n: 4, total: 16 }]);
});

test('readArchive: gzipped objects of the hours needed, arrivals before the start left out, repeats across objects removed', async () => {
  const objects = new Map<string, Buffer>();
  const put = (key: string, records: ArchiveRecord[]) => objects.set(key, gzipSync(records.map(line).join('')));
  const r1 = archiveRecord(input('s-1', '1', Buffer.from('{"early":true}'), T0 - 10 * 60_000));
  const r2 = archiveRecord(input('s-1', '2', Buffer.from('{"n":2}'), T0 + 60_000));
  const r3 = archiveRecord(input('s-1', '3', Buffer.from('{"n":3}'), T0 + 40 * 60_000));
  put('archive/dt=2026-03-01/hour=23/a.gz', [r1, r2]);
  put('archive/dt=2026-03-02/hour=00/b.gz', [r2, r3]); // r2 again: a retried batch
  put('archive/dt=2026-03-02/hour=05/c.gz', [archiveRecord(input('s-1', '9', Buffer.from('{}'), T0 + 5.5 * HOUR))]); // after toMs
  const listed: string[] = [];
  const s3 = {
    send: async (command: unknown) => {
      if (command instanceof ListObjectsV2Command) {
        const prefix = command.input.Prefix ?? '';
        listed.push(prefix);
        return { Contents: [...objects.keys()].filter((k) => k.startsWith(prefix)).map((Key) => ({ Key, Size: objects.get(Key)!.length })), IsTruncated: false };
      }
      if (command instanceof GetObjectCommand) {
        const bytes = objects.get(command.input.Key as string)!;
        return { Body: { transformToByteArray: async () => new Uint8Array(bytes) } };
      }
      throw new Error(`unexpected command ${String(command)}`);
    },
  } as unknown as S3Client;
  const read = await readArchive(s3, 'bucket', T0, T0 + HOUR);
  expect(listed).toEqual(['archive/dt=2026-03-01/hour=23/', 'archive/dt=2026-03-02/hour=00/']);
  expect(read.objects).toBe(2);
  expect(read.duplicates).toBe(1);
  expect(read.shards.get('s-1')?.map((r) => r.sequenceNumber)).toEqual(['2', '3']);
});
