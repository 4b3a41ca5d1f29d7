// The producer's sending loop against a scripted Kinesis: PutRecords limits (500 records / 5 MiB),
// retries of only the failed entries with backoff, loss reported (never hidden), whole-call errors
// left to the SDK's retry strategy and then thrown, pacing, KPL aggregation grouped by shard, the
// --log lines, --file sources and the progress line.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListShardsCommand, PutRecordsCommand, type KinesisClient, type PutRecordsCommandInput } from '@aws-sdk/client-kinesis';
import { backoffDelay } from '../../functions/commons/retry';
import { decodeAggregate } from '../../functions/core/kpl';
import type { ProducedRecord } from '../../scripts/lib/generators';
import { UsageError } from '../../scripts/lib/cli';
import {
  aggregateRecords,
  AGGREGATE_MAX_BYTES,
  logLine,
  producerKinesisClient,
  ProgressLine,
  putRecordsBatches,
  recordSource,
  sendRecords,
  shardFor,
  summaryText,
  type ProduceOptions,
  type ShardRange,
} from '../../scripts/produce';

const MAX = (1n << 128n) - 1n;
const TWO_SHARDS: ShardRange[] = [
  { shardId: 'shardId-000000000000', start: 0n, end: MAX / 2n },
  { shardId: 'shardId-000000000001', start: MAX / 2n + 1n, end: MAX },
];

function record(n: number, data = `{"n":${n}}`, flag: ProducedRecord['flag'] = 'ok'): ProducedRecord {
  return { n, partitionKey: `key-${n % 37}`, data: Buffer.from(data), flag, eventTime: 1_700_000_000_000 + n };
}

type Reply = (input: PutRecordsCommandInput, call: number) => { ErrorCode?: string; ErrorMessage?: string }[] | Error;

/** A Kinesis client double: replies scripted per call; accepted records get increasing sequence numbers. */
function fakeKinesis(reply: Reply = () => []) {
  const calls: PutRecordsCommandInput[] = [];
  let seq = 1000;
  const client = {
    async send(command: unknown) {
      if (command instanceof ListShardsCommand) {
        return { Shards: TWO_SHARDS.map((s) => ({ ShardId: s.shardId, HashKeyRange: { StartingHashKey: String(s.start), EndingHashKey: String(s.end) }, SequenceNumberRange: { StartingSequenceNumber: '1' } })) };
      }
      if (!(command instanceof PutRecordsCommand)) throw new Error('unexpected command');
      const input = command.input;
      calls.push(input);
      const outcome = reply(input, calls.length);
      if (outcome instanceof Error) throw outcome;
      const records = (input.Records ?? []).map((r, i) => {
        const scripted = outcome[i];
        if (scripted?.ErrorCode) return scripted;
        return { ShardId: shardFor(r.PartitionKey as string, TWO_SHARDS), SequenceNumber: String(seq++) };
      });
      return { FailedRecordCount: records.filter((r) => 'ErrorCode' in r).length, Records: records };
    },
  };
  return { client: client as unknown as KinesisClient, calls };
}

const noSleep = async () => undefined;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-produce-send-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function logged(run: (log: ReturnType<typeof createWriteStream>) => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const file = path.join(dir, 'log.jsonl');
  const log = createWriteStream(file);
  await run(log);
  await new Promise<void>((resolve) => log.end(resolve));
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('PutRecords batches', () => {
  it('hold at most 500 records and 5 MiB, in order', () => {
    const small = Array.from({ length: 1200 }, (_, i) => record(i));
    expect(putRecordsBatches(small).map((b) => b.length)).toEqual([500, 500, 200]);
    const big = Array.from({ length: 12 }, (_, i) => record(i, 'x'.repeat(500 * 1024)));
    const batches = putRecordsBatches(big);
    expect(batches.map((b) => b.length)).toEqual([10, 2]);
    expect(batches.flat().map((r) => r.n)).toEqual(big.map((r) => r.n));
  });
});

describe('sending', () => {
  it('retries only the failed entries; every record is logged with the shard and sequence number that stuck', async () => {
    const { client, calls } = fakeKinesis((input, call) => (call === 1 ? (input.Records ?? []).map((_, i) => (i === 1 || i === 3 ? { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' } : {})) : []));
    let summary: Awaited<ReturnType<typeof sendRecords>> | undefined;
    const lines = await logged(async (log) => {
      summary = await sendRecords({ kinesis: client, stream: 's', records: Array.from({ length: 6 }, (_, i) => record(i)), log, sleep: noSleep });
    });
    expect(calls.map((c) => c.Records?.map((r) => Buffer.from(r.Data as Uint8Array).toString()))).toEqual([
      ['{"n":0}', '{"n":1}', '{"n":2}', '{"n":3}', '{"n":4}', '{"n":5}'],
      ['{"n":1}', '{"n":3}'],
    ]);
    expect(summary).toMatchObject({ sent: 6, retried: 2, failed: 0, kinesisRecords: 6, putRecordsCalls: 2, interrupted: false });
    expect(lines.map((l) => [l.n, l.sequenceNumber])).toEqual([
      [0, '1000'],
      [2, '1001'],
      [4, '1002'],
      [5, '1003'],
      [1, '1004'],
      [3, '1005'],
    ]);
  });

  it('reports records still failing after every attempt as lost, with the error in the log', async () => {
    const { client } = fakeKinesis((input) => (input.Records ?? []).map((r) => (r.PartitionKey === 'key-2' ? { ErrorCode: 'InternalFailure', ErrorMessage: 'boom' } : {})));
    let summary: Awaited<ReturnType<typeof sendRecords>> | undefined;
    const lines = await logged(async (log) => {
      summary = await sendRecords({ kinesis: client, stream: 's', records: [record(1), record(2)], log, sleep: noSleep, maxAttempts: 3 });
    });
    expect(summary).toMatchObject({ sent: 1, retried: 2, failed: 1 });
    expect(lines.find((l) => l.n === 2)).toMatchObject({ error: 'InternalFailure: boom' });
    expect(lines.find((l) => l.n === 2)).not.toHaveProperty('sequenceNumber');
    expect(summaryText(summary as NonNullable<typeof summary>, { stream: 's', target: 'aws', aggregate: false })).toMatch(/1 records were not accepted after 10 attempts .*rerun with --log FILE.*lower --rate, add shards, or retry/);
  });

  it('leaves whole-call retries to the SDK (adaptive, 10 attempts) and stops on what reaches it', async () => {
    const kinesis = producerKinesisClient({ region: 'us-east-1' });
    expect(await kinesis.config.maxAttempts()).toBe(10);
    expect(kinesis.config.retryMode).toBe('adaptive');
    kinesis.destroy();
    const missing = fakeKinesis(() => Object.assign(new Error('Stream s under account 000000000000 not found.'), { name: 'ResourceNotFoundException' }));
    await expect(sendRecords({ kinesis: missing.client, stream: 's', records: [record(1)], sleep: noSleep })).rejects.toThrow('not found');
    expect(missing.calls).toHaveLength(1);
  });

  it('paces to --rate: 250 records at 100/s are due over 2.5 s, a fifth of a second at a time', async () => {
    const { client, calls } = fakeKinesis();
    const waits: number[] = [];
    // The sleep returns at once, so each wait is the distance from the start to that call's due time.
    await sendRecords({ kinesis: client, stream: 's', records: Array.from({ length: 250 }, (_, i) => record(i)), ratePerSec: 100, sleep: async (ms) => void waits.push(ms) });
    expect(calls.map((c) => c.Records?.length)).toEqual([...Array(12).fill(20), 10]);
    expect(waits.every((w, i) => i === 0 || w > (waits[i - 1] as number))).toBe(true);
    expect(Math.max(...waits)).toBeGreaterThan(2_300);
    expect(Math.max(...waits)).toBeLessThanOrEqual(2_500);
  });

  it('refuses a record over 1 MiB with what to do', async () => {
    const { client } = fakeKinesis();
    await expect(sendRecords({ kinesis: client, stream: 's', records: [record(0, 'x'.repeat(1024 * 1024))], sleep: noSleep })).rejects.toThrow(/record 1 is 1,048,\d+ bytes .*Kinesis records are at most 1 MiB — split it/);
    await expect(sendRecords({ kinesis: client, stream: 's', records: [record(0, 'x'.repeat(1024 * 1024))], sleep: noSleep })).rejects.toThrow(UsageError);
  });
});

describe('KPL aggregation', () => {
  const records = Array.from({ length: 3000 }, (_, i) => record(i, JSON.stringify({ sensorId: `s-${i % 37}`, ts: i, temperature: 20 + (i % 7) })));

  it('packs records by the shard their key maps to, each aggregate ≤ 50 KiB, decodable to the same records in order', () => {
    const entries = aggregateRecords(records, TWO_SHARDS);
    expect(entries.length).toBeLessThan(20);
    const seen: number[] = [];
    for (const e of entries) {
      expect(e.data.length).toBeLessThanOrEqual(AGGREGATE_MAX_BYTES);
      const decoded = decodeAggregate(e.data);
      if (!decoded.ok) throw new Error(decoded.reason);
      expect(decoded.records.map((r) => r.data.toString())).toEqual(e.members.map((m) => m.data.toString()));
      expect(decoded.records.map((r) => r.partitionKey)).toEqual(e.members.map((m) => m.partitionKey));
      const shard = shardFor(e.partitionKey, TWO_SHARDS);
      expect(e.members.every((m) => shardFor(m.partitionKey, TWO_SHARDS) === shard)).toBe(true);
      seen.push(...e.members.map((m) => m.n));
    }
    expect(seen.sort((a, b) => a - b)).toEqual(records.map((r) => r.n));
  });

  it('logs every user record with the aggregate’s sequence number and its sub-sequence index', async () => {
    const { client } = fakeKinesis();
    const lines = await logged(async (log) => {
      expect(await sendRecords({ kinesis: client, stream: 's', records, aggregate: true, log, sleep: noSleep })).toMatchObject({ sent: 3000, failed: 0 });
    });
    expect(lines).toHaveLength(3000);
    const bySeq = new Map<string, number[]>();
    for (const l of lines) bySeq.set(String(l.sequenceNumber), [...(bySeq.get(String(l.sequenceNumber)) ?? []), Number(l.subSequenceNumber)]);
    for (const subs of bySeq.values()) expect(subs).toEqual(subs.map((_, i) => i));
    expect(lines.every((l) => l.aggregated === true)).toBe(true);
  });

  it('routes by MD5 of the key, as Kinesis does', () => {
    // md5('a') = 0cc175b9c0f1b6a831c399e269772661 — the lower half of the hash-key space.
    expect(shardFor('a', TWO_SHARDS)).toBe('shardId-000000000000');
    // md5('b') = 92eb5ffee6ae2fec3ad71c777531578f — the upper half.
    expect(shardFor('b', TWO_SHARDS)).toBe('shardId-000000000001');
  });
});

describe('pieces', () => {
  it('backoff between resends is full jitter, capped (functions/commons/retry.ts, with the producer’s 100 ms base)', () => {
    const producer = { baseMs: 100, maxMs: 5_000 };
    expect(backoffDelay(1, producer, () => 1)).toBe(200);
    expect(backoffDelay(3, producer, () => 0.5)).toBe(400);
    expect(backoffDelay(20, producer, () => 1)).toBe(5_000);
    expect(backoffDelay(5, producer, () => 0)).toBe(0);
  });

  it('log lines: readable payloads, base64 for bad and binary ones, flags and duplicates', () => {
    const ok = JSON.parse(logLine(record(1), { aggregated: false }, 0, 'shardId-000000000000', '42'));
    expect(ok).toEqual({ n: 1, flag: 'ok', partitionKey: 'key-1', shardId: 'shardId-000000000000', sequenceNumber: '42', subSequenceNumber: 0, aggregated: false, eventTime: 1_700_000_000_001, payload: '{"n":1}' });
    const bad = JSON.parse(logLine({ n: 2, partitionKey: 'k', data: Buffer.from([0xc3, 0x28]), flag: 'bad', badKind: 'invalid-utf8' }, { aggregated: true }, 3, 's', '43'));
    expect(bad).toMatchObject({ flag: 'bad', badKind: 'invalid-utf8', subSequenceNumber: 3, payloadBase64: 'wyg=' });
    const dup = JSON.parse(logLine({ ...record(5), flag: 'duplicate', duplicateOf: 1 }, { aggregated: false, error: 'X: y' }, 0));
    expect(dup).toMatchObject({ flag: 'duplicate', duplicateOf: 1, error: 'X: y' });
  });

  it('the progress line redraws in place on a TTY and prints plain lines every 5 s otherwise', () => {
    let clock = 0;
    const stats = { sent: 0, retried: 0, failed: 0, kinesisRecords: 0, bytes: 0, putRecordsCalls: 0, byFlag: { ok: 0, late: 0, duplicate: 0, bad: 0 } };
    let tty = '';
    const onTty = new ProgressLine({ write: (t: string) => (tty += t), isTTY: true }, 1000, 'produce x', () => clock);
    let plain = '';
    const offTty = new ProgressLine({ write: (t: string) => (plain += t), isTTY: false }, 1000, 'produce x', () => clock);
    for (clock = 0; clock <= 10_000; clock += 500) {
      stats.sent = clock / 10;
      onTty.update(stats);
      offTty.update(stats);
    }
    expect(tty).toContain('\r\x1b[2Kproduce x ▕');
    expect(tty).toMatch(/100% 1,000\/1,000 · 100 rec\/s · retried 0 · failed 0/);
    expect(plain.split('\n').filter(Boolean)).toEqual(['produce x: 50% 500/1,000 · 100 rec/s · retried 0 · failed 0', 'produce x: 100% 1,000/1,000 · 100 rec/s · retried 0 · failed 0']);
  });
});

describe('--file', () => {
  const base: ProduceOptions = { job: 'sensor-averages', target: 'local', durationMs: 1, endMs: 0, maxDelayMs: 0, lateFraction: 0, duplicateFraction: 0, badFraction: 0, aggregate: false, seed: 0, concurrency: 1 };
  async function read(file: string, extra: Partial<ProduceOptions> = {}): Promise<ProducedRecord[]> {
    const out: ProducedRecord[] = [];
    for await (const r of recordSource({ ...base, file, ...extra })) out.push(r);
    return out;
  }

  it('JSONL lines are sent byte for byte (malformed ones too), keyed by the job’s entity id', async () => {
    const file = path.join(dir, 'e.jsonl');
    writeFileSync(file, '{"sensorId":"s-1","ts":1767225600000,"temperature":20}\r\n\n{"sensorId": "s-2", not json\n{"temperature":3}\n');
    const records = await read(file);
    expect(records.map((r) => [r.partitionKey, r.data.toString(), r.eventTime])).toEqual([
      ['s-1', '{"sensorId":"s-1","ts":1767225600000,"temperature":20}', 1767225600000],
      ['line-3', '{"sensorId": "s-2", not json', undefined],
      ['line-4', '{"temperature":3}', undefined],
    ]);
    expect((await read(file, { count: 2 })).length).toBe(2);
  });

  it('CSV rows become events typed by the job schema (numbers stay numbers, ids stay strings)', async () => {
    const file = path.join(dir, 'e.csv');
    writeFileSync(file, 'sensorId,ts,temperature,humidity,note\n0001,1767225600000,20.5,,plain\n"0002",2026-01-01T00:00:00Z,-3,40,"with ""quotes"", a comma\nand a line break"\n');
    const records = await read(file);
    expect(records.map((r) => JSON.parse(r.data.toString()))).toEqual([
      { sensorId: '0001', ts: 1767225600000, temperature: 20.5, note: 'plain' },
      { sensorId: '0002', ts: '2026-01-01T00:00:00Z', temperature: -3, humidity: 40, note: 'with "quotes", a comma\nand a line break' },
    ]);
    expect(records.map((r) => r.partitionKey)).toEqual(['0001', '0002']);
  });

  it('a CSV without the key column says which column to add or which --key-field to pass', async () => {
    const file = path.join(dir, 'k.csv');
    writeFileSync(file, 'id,ts,temperature\n1,2,3\n');
    await expect(read(file)).rejects.toThrow(/the header has no 'sensorId' column for the partition key \(header: id, ts, temperature\); add it or pass --key-field <column>/);
    expect((await read(file, { keyField: 'id' }))[0]?.partitionKey).toBe('1');
  });
});
