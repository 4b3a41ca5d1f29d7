// Kinesis event source mapping pollers against in-process kinesalite (+ s3rver for the on-failure
// destination), invoking real worker-thread functions: batch size and event shape, batching
// window, bisect, partial batch response, retries exhausted → S3, max record age, timeouts,
// injected crashes and duplicate batches, per-shard ordering, checkpoints and draining stop().
import { DescribeStreamSummaryCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { EventSourceMappings, type KinesisEsmConfig, type KinesisEventSourceMapping } from '../../local/esm';
import { Faults } from '../../local/faults';
import { LambdaRuntime } from '../../local/lambda/runtime';
import {
  ACCOUNT,
  COLLECT_JS,
  REGION,
  createStream,
  getJson,
  listObjects,
  putRecords,
  startCollector,
  startEmulators,
  waitFor,
  writeHandler,
  type CollectedInvocation,
  type Collector,
  type Emulators,
} from '../fixtures/local/harness';

jest.setTimeout(90_000);

// One handler, driven by the records' data and the function's MODE.
const HANDLER = `${COLLECT_JS}
const fs = require('node:fs');
const seen = new Set();
exports.handler = async (event, context) => {
  const recs = summarize(event);
  await collect(event, context);
  const mode = process.env.MODE;
  if (mode === 'poison' && recs.some((r) => r.data.poison)) throw new Error('poison record in batch');
  if (mode === 'bad' && recs.some((r) => r.data.bad)) throw new Error('bad record in batch');
  if (mode === 'partial') {
    const failed = recs.filter((r) => r.data.failOnce && !seen.has(r.seq));
    failed.forEach((r) => seen.add(r.seq));
    // Deliberately not in sequence order: Lambda must resume at the LOWEST one.
    return { batchItemFailures: failed.reverse().map((r) => ({ itemIdentifier: r.seq })) };
  }
  if (mode === 'bogus-partial') return { batchItemFailures: [{ itemIdentifier: '' }] };
  if (mode === 'slow-once') {
    const marker = process.env.MARKER;
    if (!fs.existsSync(marker)) { fs.writeFileSync(marker, 'x'); await new Promise((r) => setTimeout(r, 5000)); }
  }
  if (mode === 'flaky') {
    // Each record fails the first batch it is in if its data says so (deterministic, file-backed).
    for (const r of recs) {
      if (r.data.flaky) {
        const f = process.env.MARKER + '-' + r.seq;
        if (!fs.existsSync(f)) { fs.writeFileSync(f, 'x'); throw new Error('flaky ' + r.seq); }
      }
    }
  }
  if (mode === 'sleep') await new Promise((r) => setTimeout(r, Number(process.env.SLEEP_MS)));
  return {};
};`;

let emu: Emulators;
let collector: Collector;
let runtime: LambdaRuntime;
let faults: Faults;
let mappings: EventSourceMappings;
let assetDir: string;
let dataDir: string;
const esmLog: string[] = [];
let counter = 0;

beforeAll(async () => {
  emu = await startEmulators({ s3: true });
  collector = await startCollector();
  faults = new Faults();
  runtime = new LambdaRuntime({ faults, log: 'silent', baseEnv: { ...emu.env, COLLECTOR_URL: collector.url } });
  mappings = new EventSourceMappings({
    kinesis: emu.kinesis,
    s3: emu.s3,
    invoker: runtime,
    region: REGION,
    faults,
    idlePollMs: 50,
    retryDelayMs: () => 20,
    log: (l) => esmLog.push(l),
  });
  await mappings.start();
  assetDir = writeHandler(emu.dir, 'esm-handler', HANDLER);
  dataDir = mkdtempSync(path.join(tmpdir(), 'riffle-esm-data-'));
  await emu.s3.send(new CreateBucketCommand({ Bucket: 'failures' }));
});

afterAll(async () => {
  await mappings.stop();
  await runtime.stop();
  await collector.stop();
  await emu.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Setup {
  fn: string;
  stream: string;
  streamArn: string;
  esm?: KinesisEventSourceMapping;
  calls: () => CollectedInvocation[];
}

/** A fresh stream + function (+ mapping unless `start: false`). */
async function setup(opts: {
  shards?: number;
  env?: Record<string, string>;
  timeoutSeconds?: number;
  esm?: Partial<KinesisEsmConfig>;
  start?: boolean;
}): Promise<Setup> {
  counter += 1;
  const fn = `fn-${counter}`;
  const stream = `stream-${counter}`;
  const streamArn = await createStream(emu.kinesis, stream, opts.shards ?? 1);
  runtime.register({ name: fn, assetDir, handler: 'index.handler', environment: opts.env ?? {}, timeoutSeconds: opts.timeoutSeconds ?? 10 });
  const s: Setup = { fn, stream, streamArn, calls: () => collector.invocations.filter((i) => i.fn === fn) };
  if (opts.start !== false) s.esm = await mappings.add(esmConfig(s, opts.esm));
  return s;
}

function esmConfig(s: Setup, over: Partial<KinesisEsmConfig> = {}): KinesisEsmConfig {
  return {
    uuid: `00000000-0000-4000-8000-${String(counter).padStart(12, '0')}`,
    functionName: s.fn,
    functionArn: runtime.functionArn(s.fn),
    streamName: s.stream,
    streamArn: s.streamArn,
    batchSize: 100,
    maxBatchingWindowSeconds: 0,
    startingPosition: 'TRIM_HORIZON',
    parallelizationFactor: 1,
    bisectBatchOnFunctionError: false,
    maximumRetryAttempts: -1,
    maximumRecordAgeSeconds: -1,
    reportBatchItemFailures: false,
    ...over,
  };
}

const seqsOf = (i: CollectedInvocation) => i.records.map((r) => r.seq);
const n = (i: CollectedInvocation) => i.records.length;

test('batch size and the Lambda Kinesis event shape', async () => {
  const s = await setup({ start: false });
  const put = await putRecords(emu.kinesis, s.stream, Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, data: { i } })));
  s.esm = await mappings.add(esmConfig(s, { batchSize: 5 }));
  await waitFor(() => s.calls().reduce((a, c) => a + n(c), 0) === 12, { what: '12 records delivered' });
  expect(s.calls().map(n)).toEqual([5, 5, 2]);
  const first = s.calls()[0]?.raw as { Records: Record<string, unknown>[] };
  const rec = first.Records[0] as Record<string, unknown> & { kinesis: Record<string, unknown> };
  expect(Object.keys(rec)).toEqual(['kinesis', 'eventSource', 'eventVersion', 'eventID', 'eventName', 'invokeIdentityArn', 'awsRegion', 'eventSourceARN']);
  expect(rec).toMatchObject({
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `shardId-000000000000:${put[0]?.sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: `arn:aws:iam::${ACCOUNT}:role/${s.fn}-role`,
    awsRegion: REGION,
    eventSourceARN: s.streamArn,
  });
  expect(Object.keys(rec.kinesis)).toEqual(['kinesisSchemaVersion', 'partitionKey', 'sequenceNumber', 'data', 'approximateArrivalTimestamp']);
  expect(rec.kinesis).toMatchObject({ kinesisSchemaVersion: '1.0', partitionKey: 'k0', sequenceNumber: put[0]?.sequenceNumber });
  expect(JSON.parse(Buffer.from(rec.kinesis['data'] as string, 'base64').toString())).toEqual({ i: 0 });
  const ts = rec.kinesis['approximateArrivalTimestamp'] as number;
  expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(60);
  await waitFor(() => s.esm?.stats().shards['shardId-000000000000']?.checkpoint === put[11]?.sequenceNumber, { what: 'checkpoint at the last record' });
  expect(s.esm?.stats()).toMatchObject({ batches: 3, records: 12, invocations: 3, functionErrors: 0 });
});

test('MaximumBatchingWindowInSeconds accumulates records into one batch', async () => {
  const s = await setup({ esm: { batchSize: 100, maxBatchingWindowSeconds: 2 } });
  for (let i = 0; i < 3; i++) {
    await putRecords(emu.kinesis, s.stream, [{ key: 'w', data: { i } }]);
    await new Promise((r) => setTimeout(r, 100));
  }
  await waitFor(() => s.calls().length >= 1, { what: 'the windowed batch' });
  await waitFor(() => s.esm?.isIdle(), { what: 'idle' });
  expect(s.calls().map(n)).toEqual([3]);
});

test('BisectBatchOnFunctionError isolates a poison record; it alone goes to the S3 destination', async () => {
  const s = await setup({
    env: { MODE: 'poison' },
    start: false,
  });
  const records = Array.from({ length: 8 }, (_, i) => ({ key: `p${i}`, data: i === 5 ? { i, poison: true } : { i } }));
  const put = await putRecords(emu.kinesis, s.stream, records);
  s.esm = await mappings.add(
    esmConfig(s, { batchSize: 8, bisectBatchOnFunctionError: true, maximumRetryAttempts: 1, onFailureDestination: 'arn:aws:s3:::failures' }),
  );
  const poisonSeq = put[5]?.sequenceNumber as string;
  await waitFor(() => s.esm?.stats().failedDestinationWrites === 1, { what: 'the poison record to be sent to S3' });
  await waitFor(() => s.esm?.isIdle(), { what: 'idle' });
  const calls = s.calls();
  // 8 fails → [0-3] ok, [4-7] fails → [4,5] fails → [4] ok, [5] fails twice (1 retry) → [6,7] ok.
  expect(calls.map(n)).toEqual([8, 4, 4, 2, 1, 1, 1, 2]);
  const poisonCalls = calls.filter((c) => c.records.length === 1 && c.records[0]?.seq === poisonSeq);
  expect(poisonCalls).toHaveLength(2);
  expect(s.esm?.stats()).toMatchObject({ bisects: 3, retries: 1, records: 8, failedDestinationWrites: 1 });
  const keys = await listObjects(emu.s3, 'failures', `aws/lambda/${s.esm?.config.uuid}/`);
  expect(keys).toHaveLength(1);
  const body = await getJson(emu.s3, 'failures', keys[0] as string);
  expect(body['KinesisBatchInfo']).toMatchObject({ batchSize: 1, startSequenceNumber: poisonSeq, endSequenceNumber: poisonSeq });
  expect(body['requestContext']).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 });
});

test('ReportBatchItemFailures resumes from the lowest failed sequence number', async () => {
  const s = await setup({ env: { MODE: 'partial' }, start: false });
  const put = await putRecords(
    emu.kinesis,
    s.stream,
    Array.from({ length: 10 }, (_, i) => ({ key: 'same', data: { i, failOnce: i === 3 || i === 6 } })),
  );
  s.esm = await mappings.add(esmConfig(s, { batchSize: 10, reportBatchItemFailures: true }));
  await waitFor(() => s.esm?.stats().shards['shardId-000000000000']?.checkpoint === put[9]?.sequenceNumber, { what: 'checkpoint at the end' });
  const calls = s.calls();
  expect(calls).toHaveLength(2);
  expect(seqsOf(calls[0] as CollectedInvocation)).toEqual(put.map((p) => p.sequenceNumber));
  // The retry starts at record 3 (the lowest failure), not 6, and carries everything after it.
  expect(seqsOf(calls[1] as CollectedInvocation)).toEqual(put.slice(3).map((p) => p.sequenceNumber));
  expect(s.esm?.stats()).toMatchObject({ partialFailures: 1, retries: 1, records: 10 });
});

test('an invalid itemIdentifier fails the whole batch', async () => {
  const s = await setup({ env: { MODE: 'bogus-partial' }, start: false });
  await putRecords(emu.kinesis, s.stream, [{ key: 'a', data: { i: 1 } }, { key: 'a', data: { i: 2 } }]);
  s.esm = await mappings.add(esmConfig(s, { reportBatchItemFailures: true, maximumRetryAttempts: 1 }));
  await waitFor(() => s.esm?.stats().discardedRecords === 2, { what: 'the batch to be discarded' });
  expect(s.calls().map(n)).toEqual([2, 2]);
});

test('exhausted retries write the documented invocation record to S3 and processing continues', async () => {
  const s = await setup({ env: { MODE: 'bad' }, start: false });
  const bad = await putRecords(emu.kinesis, s.stream, [0, 1, 2].map((i) => ({ key: 'x', data: { i, bad: true } })));
  s.esm = await mappings.add(esmConfig(s, { batchSize: 3, maximumRetryAttempts: 2, onFailureDestination: 'arn:aws:s3:::failures' }));
  await waitFor(() => s.esm?.stats().failedDestinationWrites === 1, { what: 'the on-failure object' });
  const good = await putRecords(emu.kinesis, s.stream, [3, 4].map((i) => ({ key: 'x', data: { i } })));
  await waitFor(() => s.esm?.stats().shards['shardId-000000000000']?.checkpoint === good[1]?.sequenceNumber, { what: 'processing past the failed batch' });
  expect(s.calls().map(n)).toEqual([3, 3, 3, 2]);

  const keys = await listObjects(emu.s3, 'failures', `aws/lambda/${s.esm?.config.uuid}/`);
  expect(keys).toHaveLength(1);
  const key = keys[0] as string;
  expect(key).toMatch(
    new RegExp(`^aws/lambda/${s.esm?.config.uuid}/shardId-000000000000/\\d{4}/\\d{2}/\\d{2}/\\d{4}-\\d{2}-\\d{2}T\\d{2}\\.\\d{2}\\.\\d{2}-[0-9a-f-]{36}$`),
  );
  const body = await getJson(emu.s3, 'failures', key);
  expect(Object.keys(body)).toEqual(['requestContext', 'responseContext', 'version', 'timestamp', 'KinesisBatchInfo', 'payload']);
  expect(body['requestContext']).toEqual({
    requestId: expect.any(String),
    functionArn: runtime.functionArn(s.fn),
    condition: 'RetryAttemptsExhausted',
    approximateInvokeCount: 3,
  });
  expect(body['responseContext']).toEqual({ statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' });
  expect(body['version']).toBe('1.0');
  expect(body['timestamp']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  expect(body['KinesisBatchInfo']).toEqual({
    shardId: 'shardId-000000000000',
    startSequenceNumber: bad[0]?.sequenceNumber,
    endSequenceNumber: bad[2]?.sequenceNumber,
    approximateArrivalOfFirstRecord: expect.stringMatching(/Z$/),
    approximateArrivalOfLastRecord: expect.stringMatching(/Z$/),
    batchSize: 3,
    streamArn: s.streamArn,
  });
  const payload = body['payload'] as { Records: { eventID: string }[] };
  expect(payload.Records.map((r) => r.eventID)).toEqual(bad.map((b) => `shardId-000000000000:${b.sequenceNumber}`));
});

test('MaximumRecordAgeInSeconds skips old records to the destination and delivers new ones', async () => {
  const s = await setup({ start: false });
  const old = await putRecords(emu.kinesis, s.stream, [1, 2].map((i) => ({ key: 'o', data: { i, old: true } })));
  await new Promise((r) => setTimeout(r, 1600)); // let them age past the 1 s limit
  s.esm = await mappings.add(esmConfig(s, { maximumRecordAgeSeconds: 1, onFailureDestination: 'arn:aws:s3:::failures' }));
  await waitFor(() => s.esm?.stats().expiredRecords === 2, { what: 'old records expired' });
  const fresh = await putRecords(emu.kinesis, s.stream, [{ key: 'o', data: { i: 3 } }]);
  await waitFor(() => s.calls().length === 1, { what: 'the fresh record' });
  expect(seqsOf(s.calls()[0] as CollectedInvocation)).toEqual([fresh[0]?.sequenceNumber]);
  const keys = await listObjects(emu.s3, 'failures', `aws/lambda/${s.esm?.config.uuid}/`);
  const body = await getJson(emu.s3, 'failures', keys[0] as string);
  expect(body['requestContext']).toMatchObject({ condition: 'RecordAgeExceeded' });
  expect(body['responseContext']).toBeUndefined();
  expect(body['KinesisBatchInfo']).toMatchObject({ startSequenceNumber: old[0]?.sequenceNumber, endSequenceNumber: old[1]?.sequenceNumber, batchSize: 2 });
});

test('a timed-out invocation is an error; the retry succeeds', async () => {
  const marker = path.join(emu.dir, `slow-marker-${counter + 1}`);
  const s = await setup({ env: { MODE: 'slow-once', MARKER: marker }, timeoutSeconds: 1, start: false });
  const put = await putRecords(emu.kinesis, s.stream, [{ key: 't', data: { i: 1 } }, { key: 't', data: { i: 2 } }]);
  s.esm = await mappings.add(esmConfig(s, { maximumRetryAttempts: 3 }));
  await waitFor(() => s.esm?.stats().shards['shardId-000000000000']?.checkpoint === put[1]?.sequenceNumber, { what: 'retry to succeed' });
  expect(existsSync(marker)).toBe(true);
  expect(runtime.stats()[s.fn]).toMatchObject({ timeouts: 1, errors: 1 });
  expect(s.esm?.stats()).toMatchObject({ functionErrors: 1, retries: 1, records: 2, failedDestinationWrites: 0, discardedRecords: 0 });
  expect(s.calls().map(seqsOf)).toEqual([put.map((p) => p.sequenceNumber), put.map((p) => p.sequenceNumber)]);
});

test('crash after side effects: the batch is redelivered after the side effects were applied', async () => {
  const s = await setup({ start: false });
  const put = await putRecords(emu.kinesis, s.stream, [{ key: 'c', data: { i: 1 } }]);
  faults.crashAfter(s.fn, { invocation: 1 });
  s.esm = await mappings.add(esmConfig(s));
  await waitFor(() => s.esm?.stats().shards['shardId-000000000000']?.checkpoint === put[0]?.sequenceNumber, { what: 'the redelivery' });
  // Both deliveries reached the handler (and its side effects); only the second counted as success.
  expect(s.calls().map(seqsOf)).toEqual([[put[0]?.sequenceNumber], [put[0]?.sequenceNumber]]);
  expect(s.esm?.stats()).toMatchObject({ functionErrors: 1, retries: 1 });
});

test('duplicateBatch delivers batch N twice, after it succeeded', async () => {
  const s = await setup({ start: false });
  const first = await putRecords(emu.kinesis, s.stream, [{ key: 'd', data: { i: 1 } }]);
  const uuid = esmConfig(s).uuid;
  faults.duplicateBatch(uuid, { batch: 1 });
  s.esm = await mappings.add(esmConfig(s));
  await waitFor(() => s.calls().length === 2, { what: 'the duplicate' });
  const second = await putRecords(emu.kinesis, s.stream, [{ key: 'd', data: { i: 2 } }]);
  await waitFor(() => s.calls().length === 3, { what: 'the next batch' });
  expect(s.calls().map(seqsOf)).toEqual([[first[0]?.sequenceNumber], [first[0]?.sequenceNumber], [second[0]?.sequenceNumber]]);
  expect(s.esm?.stats().duplicatesDelivered).toBe(1);
});

describe('ordering', () => {
  async function run(parallelizationFactor: number) {
    const marker = path.join(emu.dir, `flaky-${counter + 1}`);
    const s = await setup({ shards: 3, env: { MODE: 'flaky', MARKER: marker }, start: false });
    const records = Array.from({ length: 300 }, (_, i) => ({ key: `key-${i % 30}`, data: { i, key: `key-${i % 30}`, flaky: i % 37 === 5 } }));
    const put = await putRecords(emu.kinesis, s.stream, records);
    s.esm = await mappings.add(esmConfig(s, { batchSize: 7, parallelizationFactor }));
    const lastPerShard = new Map<string, string>();
    put.forEach((p) => lastPerShard.set(p.shardId, p.sequenceNumber));
    await waitFor(() => [...lastPerShard].every(([shard, seq]) => s.esm?.stats().shards[shard]?.checkpoint === seq), {
      what: 'all shards checkpointed',
      timeoutMs: 60_000,
    });
    return { s, put };
  }

  test('per shard, records are delivered strictly in order (retries included)', async () => {
    const { s, put } = await run(1);
    const bySeq = new Map(put.map((p, i) => [p.sequenceNumber, { ...p, i }]));
    // Successful deliveries = the last delivery of each record; replay them per shard in call order.
    const shards = new Map<string, bigint[]>();
    for (const call of s.calls()) {
      for (const r of call.records) {
        const list = shards.get(r.shard) ?? [];
        list.push(BigInt(r.seq));
        shards.set(r.shard, list);
      }
    }
    expect(shards.size).toBe(3);
    for (const [, seqs] of shards) {
      // A failed batch is retried from its start: the sequence only moves back to a retried batch's start.
      const delivered: bigint[] = [];
      for (const q of seqs) {
        while (delivered.length > 0 && (delivered[delivered.length - 1] as bigint) >= q) delivered.pop();
        delivered.push(q);
      }
      expect(delivered).toEqual([...delivered].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    expect(bySeq.size).toBe(300);
    expect(s.esm?.stats().records).toBe(300);
    expect(s.esm?.stats().functionErrors).toBeGreaterThan(0);
  });

  test('ParallelizationFactor > 1 keeps each partition key in order', async () => {
    const { s } = await run(3);
    const lastSuccess = new Map<string, number[]>();
    // Keep, per key, the values of each delivery; with retries a key's run may repeat but never go backwards past a retry start.
    for (const call of s.calls()) {
      for (const r of call.records) {
        const d = r.data as { i: number; key: string };
        const list = lastSuccess.get(d.key) ?? [];
        while (list.length > 0 && (list[list.length - 1] as number) >= d.i) list.pop();
        list.push(d.i);
        lastSuccess.set(d.key, list);
      }
    }
    expect(lastSuccess.size).toBe(30);
    for (const [key, values] of lastSuccess) {
      const k = Number(key.split('-')[1]);
      expect(values).toEqual(Array.from({ length: 10 }, (_, j) => k + 30 * j));
    }
    expect(s.esm?.stats().records).toBe(300);
  });
});

test('checkpoints persist in the data directory: a new mapping resumes after the last handled record', async () => {
  const s = await setup({ start: false });
  const cfg = esmConfig(s);
  const deps = { kinesis: emu.kinesis, s3: emu.s3, invoker: runtime, region: REGION, dataDir, idlePollMs: 50, log: () => undefined };
  const first = new EventSourceMappings(deps);
  await first.start();
  const esm1 = await first.add(cfg);
  const a = await putRecords(emu.kinesis, s.stream, [1, 2, 3].map((i) => ({ key: 'r', data: { i } })));
  await waitFor(() => esm1.stats().shards['shardId-000000000000']?.checkpoint === a[2]?.sequenceNumber, { what: 'first run' });
  await first.stop();
  const saved = JSON.parse(readFileSync(path.join(dataDir, 'esm', `${cfg.uuid}.json`), 'utf8')) as { shards: Record<string, { sequenceNumber: string }> };
  expect(saved.shards['shardId-000000000000']?.sequenceNumber).toBe(a[2]?.sequenceNumber);

  const b = await putRecords(emu.kinesis, s.stream, [4, 5].map((i) => ({ key: 'r', data: { i } })));
  const second = new EventSourceMappings(deps);
  await second.start();
  const esm2 = await second.add(cfg);
  await waitFor(() => esm2.stats().shards['shardId-000000000000']?.checkpoint === b[1]?.sequenceNumber, { what: 'second run' });
  await second.stop();
  expect(s.calls().map(seqsOf)).toEqual([a.map((x) => x.sequenceNumber), b.map((x) => x.sequenceNumber)]);
});

test('stop() lets the in-flight invocation finish and starts nothing after it', async () => {
  const s = await setup({ env: { MODE: 'sleep', SLEEP_MS: '600' }, start: false });
  const local = new EventSourceMappings({ kinesis: emu.kinesis, invoker: runtime, region: REGION, idlePollMs: 50, log: () => undefined });
  await local.start();
  const esm = await local.add(esmConfig(s, { batchSize: 1 }));
  await putRecords(emu.kinesis, s.stream, [1, 2, 3].map((i) => ({ key: 's', data: { i } })));
  await waitFor(() => s.calls().length === 1, { what: 'the first invocation to start' });
  await local.stop();
  const stats = esm.stats();
  expect(stats.invocations).toBe(1); // the in-flight one completed
  expect(stats.records).toBe(1);
  await new Promise((r) => setTimeout(r, 800));
  expect(s.calls()).toHaveLength(1);
});

test('LATEST starts after the records already in the stream', async () => {
  const s = await setup({ start: false });
  await putRecords(emu.kinesis, s.stream, [{ key: 'l', data: { before: true } }]);
  await new Promise((r) => setTimeout(r, 20));
  s.esm = await mappings.add(esmConfig(s, { startingPosition: 'LATEST' }));
  const after = await putRecords(emu.kinesis, s.stream, [{ key: 'l', data: { before: false } }]);
  await waitFor(() => s.calls().length === 1, { what: 'the new record' });
  await waitFor(() => s.esm?.isIdle(), { what: 'idle' });
  expect(s.calls().map(seqsOf)).toEqual([[after[0]?.sequenceNumber]]);
});

test('AT_TIMESTAMP starts at the first record that arrived at or after the timestamp', async () => {
  const s = await setup({ start: false });
  await putRecords(emu.kinesis, s.stream, [{ key: 'a', data: { i: 1 } }]);
  await new Promise((r) => setTimeout(r, 50));
  const ts = Date.now() / 1000;
  await new Promise((r) => setTimeout(r, 10));
  const later = await putRecords(emu.kinesis, s.stream, [2, 3].map((i) => ({ key: 'a', data: { i } })));
  s.esm = await mappings.add(esmConfig(s, { startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: ts }));
  await waitFor(() => s.esm?.stats().shards['shardId-000000000000']?.checkpoint === later[1]?.sequenceNumber, { what: 'the later records' });
  expect(s.calls().map(seqsOf)).toEqual([later.map((l) => l.sequenceNumber)]);
});

test('a resharded stream: the parent shard is finished before its children are read', async () => {
  const s = await setup({});
  const before = await putRecords(emu.kinesis, s.stream, Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, data: { i, phase: 'parent' } })));
  await waitFor(() => s.esm?.stats().shards['shardId-000000000000']?.checkpoint === before[4]?.sequenceNumber, { what: 'parent records' });
  await emu.kinesis.send(new SplitShardCommand({ StreamName: s.stream, ShardToSplit: 'shardId-000000000000', NewStartingHashKey: (2n ** 127n).toString() }));
  await waitFor(async () => (await emu.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: s.stream }))).StreamDescriptionSummary?.StreamStatus === 'ACTIVE', {
    what: 'split',
  });
  const after = await putRecords(emu.kinesis, s.stream, Array.from({ length: 20 }, (_, i) => ({ key: `key-${i}`, data: { i, phase: 'child' } })));
  expect(new Set(after.map((a) => a.shardId)).size).toBe(2);
  await waitFor(() => s.calls().reduce((a, c) => a + n(c), 0) === 25, { what: 'all 25 records', timeoutMs: 30_000 });
  const shards = s.esm?.stats().shards ?? {};
  expect(shards['shardId-000000000000']?.ended).toBe(true);
  const delivered = s.calls().flatMap((c) => c.records.map((r) => (r.data as { phase: string }).phase));
  expect(delivered.slice(0, 5)).toEqual(Array(5).fill('parent'));
  for (const a of after) expect(shards[a.shardId]).toBeDefined();
});
