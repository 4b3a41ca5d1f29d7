// Pure pieces of the local Kinesis event source mapping: event shape, batch assembly under
// BatchSize / 6 MB, partial batch responses (lowest failed sequence number), bisecting, record
// age, ParallelizationFactor lanes and the S3 on-failure record and key.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  MAX_BATCH_BYTES,
  batchLength,
  bisect,
  compareSequence,
  eventPayload,
  failureObjectKey,
  failureRecord,
  kinesisEventRecord,
  laneOf,
  parseBatchItemFailures,
  splitExpired,
  toStreamRecord,
  type StreamRecord,
} from '../../local/esm/records';

const ctx = { region: 'us-east-1', streamArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/input', invokeIdentityArn: 'arn:aws:iam::000000000000:role/r' };

function rec(seq: string, opts: { arrivalMs?: number; size?: number; key?: string } = {}): StreamRecord {
  return toStreamRecord(ctx, {
    shardId: 'shardId-000000000000',
    sequenceNumber: seq,
    partitionKey: opts.key ?? 'k',
    data: Buffer.alloc(opts.size ?? 10, 'a'),
    arrivalMs: opts.arrivalMs ?? 1_700_000_000_000,
  });
}

describe('event shape', () => {
  test('matches the sample event (sam local generate-event kinesis get-records) key for key', () => {
    const sample = JSON.parse(readFileSync(path.join(__dirname, '../../events/samples/kinesis-event.json'), 'utf8')) as {
      Records: Record<string, unknown>[];
    };
    const s = sample.Records[0] as Record<string, unknown> & { kinesis: Record<string, unknown> };
    const mine = kinesisEventRecord(ctx, {
      shardId: 'shardId-000000000000',
      sequenceNumber: '49545115243490985018280067714973144582180062593244200961',
      partitionKey: 'partitionKey-03',
      data: Buffer.from('Hello, this is a test 123.'),
      arrivalMs: 1_428_537_600_000,
    }) as Record<string, unknown> & { kinesis: Record<string, unknown> };
    expect(Object.keys(mine).sort()).toEqual(Object.keys(s).sort());
    expect(Object.keys(mine.kinesis).sort()).toEqual(Object.keys(s.kinesis).sort());
    expect(mine.kinesis).toEqual(s.kinesis);
    expect(mine['eventID']).toBe(s['eventID']);
    expect(mine).toMatchObject({ eventSource: 'aws:kinesis', eventVersion: '1.0', eventName: 'aws:kinesis:record' });
  });

  test('approximateArrivalTimestamp is epoch seconds with milliseconds; the payload is {"Records":[...]}', () => {
    const r = rec('1', { arrivalMs: 1_545_084_650_987 });
    const parsed = JSON.parse(eventPayload([r, rec('2')])) as { Records: { kinesis: { approximateArrivalTimestamp: number } }[] };
    expect(parsed.Records).toHaveLength(2);
    expect(parsed.Records[0]?.kinesis.approximateArrivalTimestamp).toBe(1545084650.987);
  });
});

describe('batchLength', () => {
  test('caps at BatchSize', () => {
    const q = Array.from({ length: 12 }, (_, i) => rec(String(i)));
    expect(batchLength(q, 5)).toBe(5);
    expect(batchLength(q.slice(0, 3), 5)).toBe(3);
    expect(batchLength([], 5)).toBe(0);
  });

  test('caps the invocation payload at 6 MB, always taking at least one record', () => {
    const big = Array.from({ length: 6 }, (_, i) => rec(String(i), { size: 1_000_000 })); // ~1.33 MB base64 each
    const n = batchLength(big, 100);
    expect(n).toBe(4);
    expect(Buffer.byteLength(eventPayload(big.slice(0, n)))).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    expect(Buffer.byteLength(eventPayload(big.slice(0, n + 1)))).toBeGreaterThan(MAX_BATCH_BYTES);
    expect(batchLength(big, 100, 10)).toBe(1);
  });
});

describe('parseBatchItemFailures', () => {
  const batch = new Set(['99', '100', '101', '205']);

  test.each([['null'], ['{}'], ['{"batchItemFailures":[]}'], ['{"batchItemFailures":null}'], ['"done"'], ['']])('%s is a complete success', (payload) => {
    expect(parseBatchItemFailures(payload, batch)).toEqual({ kind: 'success' });
  });

  test('resumes from the LOWEST failed sequence number, compared as integers', () => {
    const out = parseBatchItemFailures(JSON.stringify({ batchItemFailures: [{ itemIdentifier: '205' }, { itemIdentifier: '100' }, { itemIdentifier: '99' }] }), batch);
    expect(out).toEqual({ kind: 'partial', resumeFrom: '99' }); // '99' < '100' numerically, not as strings
  });

  test.each([
    ['a null itemIdentifier', { batchItemFailures: [{ itemIdentifier: null }] }],
    ['an empty itemIdentifier', { batchItemFailures: [{ itemIdentifier: '' }] }],
    ['a misspelt key', { batchItemFailures: [{ itemIdentifer: '100' }] }],
    ['an identifier not in the batch', { batchItemFailures: [{ itemIdentifier: '555' }] }],
    ['a non-list batchItemFailures', { batchItemFailures: 'x' }],
  ])('%s fails the whole batch', (_what, response) => {
    expect(parseBatchItemFailures(JSON.stringify(response), batch).kind).toBe('failure');
  });
});

describe('bisect, record age, lanes, sequence numbers', () => {
  test('bisect splits in two halves, the first one larger', () => {
    expect(bisect([1, 2, 3, 4])).toEqual([[1, 2], [3, 4]]);
    expect(bisect([1, 2, 3])).toEqual([[1, 2], [3]]);
    expect(bisect([1])).toEqual([[1], []]);
  });

  test('splitExpired keeps everything with -1 and splits at the age limit', () => {
    const now = 1_000_000;
    const rs = [{ arrivalMs: now - 61_000 }, { arrivalMs: now - 60_000 }, { arrivalMs: now - 1 }];
    expect(splitExpired(rs, now, -1).expired).toHaveLength(0);
    const { expired, fresh } = splitExpired(rs, now, 60);
    expect(expired).toEqual([rs[0]]);
    expect(fresh).toEqual([rs[1], rs[2]]);
  });

  test('laneOf is stable per partition key and spreads keys over the lanes', () => {
    expect(laneOf('abc', 1)).toBe(0);
    expect(laneOf('abc', 4)).toBe(laneOf('abc', 4));
    const used = new Set(Array.from({ length: 100 }, (_, i) => laneOf(`key-${i}`, 4)));
    expect(used).toEqual(new Set([0, 1, 2, 3]));
  });

  test('compareSequence compares 56-digit sequence numbers numerically', () => {
    expect(compareSequence('49545115243490985018280067714973144582180062593244200961', '9')).toBe(1);
    expect(compareSequence('10', '9')).toBe(1);
    expect(compareSequence('7', '7')).toBe(0);
  });
});

describe('on-failure destination', () => {
  const records = [rec('100', { arrivalMs: Date.UTC(2019, 10, 14, 0, 38, 4, 835) }), rec('200', { arrivalMs: Date.UTC(2019, 10, 14, 0, 38, 5, 580) })];

  test('RetryAttemptsExhausted record, with the event as payload for S3', () => {
    const r = failureRecord({
      condition: 'RetryAttemptsExhausted',
      functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
      streamArn: ctx.streamArn,
      shardId: 'shardId-000000000001',
      records,
      approximateInvokeCount: 3,
      functionError: 'Unhandled',
      nowMs: Date.UTC(2019, 10, 14, 0, 38, 6, 21),
      requestId: 'c9b8fa9f-5a7f-4000-af9c-0c604cde93a5',
      includePayload: true,
    });
    expect(Object.keys(r)).toEqual(['requestContext', 'responseContext', 'version', 'timestamp', 'KinesisBatchInfo', 'payload']);
    expect(r).toMatchObject({
      requestContext: {
        requestId: 'c9b8fa9f-5a7f-4000-af9c-0c604cde93a5',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2019-11-14T00:38:06.021Z',
      KinesisBatchInfo: {
        shardId: 'shardId-000000000001',
        startSequenceNumber: '100',
        endSequenceNumber: '200',
        approximateArrivalOfFirstRecord: '2019-11-14T00:38:04.835Z',
        approximateArrivalOfLastRecord: '2019-11-14T00:38:05.580Z',
        batchSize: 2,
        streamArn: ctx.streamArn,
      },
    });
    expect((r['payload'] as { Records: unknown[] }).Records).toHaveLength(2);
  });

  test('RecordAgeExceeded has no responseContext; payload only for S3', () => {
    const r = failureRecord({
      condition: 'RecordAgeExceeded',
      functionArn: 'f',
      streamArn: 's',
      shardId: 'shardId-000000000000',
      records,
      approximateInvokeCount: 1,
      functionError: null,
      nowMs: 0,
      includePayload: false,
    });
    expect(r['responseContext']).toBeUndefined();
    expect(r['payload']).toBeUndefined();
    expect(r['requestContext']).toMatchObject({ condition: 'RecordAgeExceeded' });
  });

  test('S3 key layout aws/lambda/<esm-uuid>/<shardId>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>', () => {
    expect(failureObjectKey('esm-1', 'shardId-000000000002', Date.UTC(2025, 0, 3, 4, 5, 6, 789), 'abc')).toBe(
      'aws/lambda/esm-1/shardId-000000000002/2025/01/03/2025-01-03T04.05.06-abc',
    );
  });
});
