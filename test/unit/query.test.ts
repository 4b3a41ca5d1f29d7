// `npm run query` semantics against the embedded S3, with objects written by hand: duplicates
// collapse by resultId/version, gzip and plain objects of any name are read (LocalStack's names
// included), --since/--until download only the partitions in range (GetObject counted by the
// server), the ETag cache serves a second run, and the views bind even with nothing to read.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startLocalServer, type LocalServer } from '../../local/server';
import { resolveTarget, type Target } from '../../scripts/lib/targets';
import { UsageError } from '../../scripts/lib/cli';
import { executeQuery, query, type QueryOptions } from '../../scripts/query';

jest.setTimeout(30_000);

const JOB = 'sensor-averages';
const BUCKET = 'riffle-query-test';

let server: LocalServer;
let s3: S3Client;
let target: Target;
let dir: string;

function result(key: string, windowStart: string, version: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const end = new Date(Date.parse(windowStart) + 300_000).toISOString();
  return { resultId: `${key}|${windowStart}`, job: JOB, key, windowStart, windowEnd: end, count: version * 10, temperature_avg: 20 + version, final: true, version, eventCount: version * 10, emittedAt: `2026-01-01T0${version}:00:00.000Z`, ...extra };
}

const lines = (rows: readonly Record<string, unknown>[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join('');

async function put(key: string, body: string | Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

function getObjects(): number {
  return server.stats().requests.s3?.GetObject ?? 0;
}

function options(sql: string, extra: Partial<QueryOptions> = {}): QueryOptions {
  return { sql, format: 'json', job: JOB, target: 'local', cache: true, athena: false, ...extra };
}

async function rows(sql: string, extra: Partial<QueryOptions> = {}, cacheDir = path.join(dir, 'cache')): Promise<Record<string, unknown>[]> {
  return JSON.parse((await executeQuery(options(sql, extra), { target, cacheDir })).text) as Record<string, unknown>[];
}

beforeEach(async () => {
  server = await startLocalServer({ port: 0, ttlSweepIntervalMs: 0 });
  target = resolveTarget('local', { endpoint: server.endpoint, outputs: { 'Riffle-sensor-averages': { Jobs: JOB, SensorAveragesBucket: BUCKET } } });
  s3 = new S3Client(target.clientConfig());
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-query-unit-'));
});

afterEach(async () => {
  s3.destroy();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('views', () => {
  it('results keeps the highest version per resultId; results_all keeps every emission', async () => {
    const p = `results/job=${JOB}/dt=2026-01-01/hour=00/`;
    await put(`${p}a.gz`, gzipSync(lines([result('s1', '2026-01-01T00:00:00.000Z', 1), result('s2', '2026-01-01T00:00:00.000Z', 1)])));
    // A re-delivery of s1 at a higher version, and a duplicate of s2's emission (same version).
    await put(`${p}b.gz`, gzipSync(lines([result('s1', '2026-01-01T00:00:00.000Z', 3), result('s2', '2026-01-01T00:00:00.000Z', 1)])));
    await put(`${p}c.gz`, gzipSync(lines([result('s1', '2026-01-01T00:00:00.000Z', 2)])));
    expect(await rows('SELECT key, version, count FROM results ORDER BY key')).toEqual([
      { key: 's1', version: 3, count: 30 },
      { key: 's2', version: 1, count: 10 },
    ]);
    expect(await rows('SELECT count(*) AS n FROM results_all')).toEqual([{ n: 5 }]);
  });

  it('on a tie in version a final row wins over a non-final one', async () => {
    const p = `results/job=${JOB}/dt=2026-01-01/hour=00/`;
    await put(`${p}x`, lines([result('s1', '2026-01-01T00:00:00.000Z', 4, { final: false, count: 1 }), result('s1', '2026-01-01T00:00:00.000Z', 4, { final: true, count: 2 })]));
    expect(await rows('SELECT final, count FROM results')).toEqual([{ final: true, count: 2 }]);
  });

  it('reads gzip and plain objects of any name: no extension, .txt, concatenated gzip members, LocalStack keys', async () => {
    const localstackKey = `results/job=${JOB}/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/2026/01/01/00/Riffle-results-1-2026-01-01-00-00-00-0f8fad5b-d9cb-469f-a165-70867728950e`;
    await put(`results/job=${JOB}/dt=2026-01-01/hour=00/riffle-1-2026-01-01-00-01-02-abc`, gzipSync(lines([result('a', '2026-01-01T00:00:00.000Z', 1)])));
    await put(`results/job=${JOB}/dt=2026-01-01/hour=01/part.txt`, lines([result('b', '2026-01-01T01:00:00.000Z', 1)]));
    await put(`results/job=${JOB}/dt=2026-01-01/hour=02/two-members.json.gz`, Buffer.concat([gzipSync(lines([result('c', '2026-01-01T02:00:00.000Z', 1)])), gzipSync(lines([result('d', '2026-01-01T02:00:00.000Z', 1)]))]));
    await put(localstackKey, lines([result('e', '2026-01-01T03:00:00.000Z', 1)]));
    // Records without newlines in between (a delivery stream without a delimiter) are split apart.
    await put(`results/no-partition-at-all`, `${JSON.stringify(result('f', '2026-01-01T04:00:00.000Z', 1))}${JSON.stringify(result('g', '2026-01-01T04:00:00.000Z', 1))}\n`);
    expect((await rows('SELECT key FROM results ORDER BY key')).map((r) => r.key)).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });

  it('skips lines that are not JSON objects with a warning, and keeps the rest', async () => {
    await put(`results/job=${JOB}/dt=2026-01-01/hour=00/partial`, `${JSON.stringify(result('a', '2026-01-01T00:00:00.000Z', 1))}\n{"resultId": "trunc\n[1,2]\n`);
    const run = await executeQuery(options('SELECT key FROM results'), { target, cacheDir: path.join(dir, 'cache') });
    expect(JSON.parse(run.text)).toEqual([{ key: 'a' }]);
    expect(run.stats.malformedLines).toBe(2);
    expect(run.stats.warnings[0]).toMatch(/2 line\(s\) are not JSON objects .*line 2/);
  });

  it('types Riffle fields: times are TIMESTAMP (UTC), so time arithmetic works', async () => {
    await put(`results/job=${JOB}/dt=2026-01-01/hour=00/a`, lines([result('a', '2026-01-01T00:05:00.000Z', 1)]));
    expect(await rows("SELECT windowStart, date_diff('second', windowStart, windowEnd) AS seconds, typeof(windowStart) AS t FROM results")).toEqual([
      { windowStart: '2026-01-01T00:05:00.000Z', seconds: 300, t: 'TIMESTAMP' },
    ]);
  });

  it("filters rows by --job, whatever the object's key says", async () => {
    await put('results/job=other/dt=2026-01-01/hour=00/a', lines([result('x', '2026-01-01T00:00:00.000Z', 1, { job: 'clickstream' })]));
    await put('results/misplaced', lines([result('y', '2026-01-01T00:00:00.000Z', 1, { job: 'clickstream' }), result('z', '2026-01-01T00:00:00.000Z', 1)]));
    expect(await rows('SELECT key FROM results')).toEqual([{ key: 'z' }]);
    // The other job's partition folder is not even downloaded.
    expect(getObjects()).toBe(1);
  });

  it('binds with nothing to read: Riffle fields and the job aggregates exist, typed, with no rows', async () => {
    expect(await rows('SELECT key, windowStart, temperature_avg, count FROM results')).toEqual([]);
    expect(await rows('SELECT reason, payloadText FROM rejected')).toEqual([]);
    expect(await rows('SELECT reason, watermark FROM late')).toEqual([]);
  });

  it('rejected decodes the payload to payloadText when it is UTF-8 (NULL otherwise)', async () => {
    const rejected = (payload: Buffer, reason: string) => ({ job: JOB, reason, shardId: 'shardId-000000000000', sequenceNumber: reason, subSequenceNumber: 0, partitionKey: 'k', payload: payload.toString('base64'), payloadBytes: payload.length, payloadTruncated: false, payloadSha256: 'x', rejectedAt: '2026-01-01T00:00:00.000Z' });
    await put(`rejected/job=${JOB}/dt=2026-01-01/hour=00/r`, lines([rejected(Buffer.from('{"bad'), 'not JSON'), rejected(Buffer.from([0xc3, 0x28]), 'not UTF-8')]));
    expect(await rows('SELECT reason, payloadText FROM rejected ORDER BY reason')).toEqual([
      { reason: 'not JSON', payloadText: '{"bad' },
      { reason: 'not UTF-8', payloadText: null },
    ]);
  });
});

describe('SQL the tool refuses or cannot run: one clear line, nothing downloaded', () => {
  const failure = async (sql: string): Promise<Error> => {
    await put(`results/job=${JOB}/dt=2026-01-01/hour=00/a`, lines([result('a', '2026-01-01T00:05:00.000Z', 1)]));
    const error = await rows(sql).then(
      () => new Error('the query succeeded'),
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).not.toContain('\n');
    return error;
  };

  it('a syntax error names the problem and the line, without the caret drawing', async () => {
    expect((await failure('SELEC key FROM results')).message).toBe('SQL: Parser Error: syntax error at or near "SELEC" (line 1)');
  });

  it('an https:// URL needs an extension: refused, not downloaded', async () => {
    expect((await failure("SELECT * FROM results UNION ALL SELECT * FROM read_csv('https://example.invalid/x.csv')")).message).toMatch(/^SQL: Missing Extension Error: .*httpfs/);
  });

  it.each([['INSTALL httpfs'], ['LOAD httpfs'], ["ATTACH 'other.db'"]])('%s is refused', async (sql) => {
    expect((await failure(sql)).message).toMatch(/^SQL: INSTALL, LOAD, ATTACH and extension updates are refused/);
  });

  it('the SQL cannot turn extension auto-install back on', async () => {
    expect((await failure('SET autoinstall_known_extensions = true')).message).toMatch(/^SQL: .*lock/i);
  });
});

describe('late and rejected: one row per input record', () => {
  const at = (minute: number) => `2026-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`;
  const rejected = (seq: string, sub: number, minute: number, job = JOB) => ({ job, reason: 'not JSON', shardId: 'shardId-000000000000', sequenceNumber: seq, subSequenceNumber: sub, partitionKey: 'k', payload: 'e30=', payloadBytes: 2, payloadTruncated: false, payloadSha256: 'x', rejectedAt: at(minute) });
  const lateEvent = (seq: string, sub: number, minute: number) => ({ kind: 'event', job: JOB, key: 's1', windowStart: at(0), windowEnd: at(5), eventTime: at(1), watermark: at(20), reason: 'window closed', shardId: 'shardId-000000000001', sequenceNumber: seq, subSequenceNumber: sub, event: { v: 1 }, lateAt: at(minute) });
  const latePartial = (key: string, first: string, last: string, minute: number) => ({ kind: 'partial', job: JOB, key, windowStart: at(0), windowEnd: at(5), eventCount: 3, aggregates: { count: 3 }, watermark: at(20), reason: 'window closed', shardId: 'shardId-000000000001', firstSequenceNumber: first, lastSequenceNumber: last, lateAt: at(minute) });

  it('a retried batch writes its rejected records again: rejected keeps the first, rejected_all keeps both', async () => {
    // Prepare: the same two inputs written by two attempts, plus a distinct sub-record of the first
    // aggregated record and the same position rejected by another job (a different row).
    await put(`rejected/job=${JOB}/dt=2026-01-01/hour=00/attempt-1`, lines([rejected('100', 0, 10), rejected('100', 1, 10), rejected('200', 0, 10)]));
    await put(`rejected/job=${JOB}/dt=2026-01-01/hour=00/attempt-2`, lines([rejected('100', 0, 12), rejected('200', 0, 12)]));
    await put('rejected/job=clickstream/dt=2026-01-01/hour=00/other', lines([rejected('100', 0, 11, 'clickstream')]));
    // Act / Assess
    expect(await rows('SELECT sequenceNumber, subSequenceNumber, rejectedAt FROM rejected ORDER BY ALL', { job: undefined })).toEqual([
      { sequenceNumber: '100', subSequenceNumber: 0, rejectedAt: at(10) },
      { sequenceNumber: '100', subSequenceNumber: 0, rejectedAt: at(11) },
      { sequenceNumber: '100', subSequenceNumber: 1, rejectedAt: at(10) },
      { sequenceNumber: '200', subSequenceNumber: 0, rejectedAt: at(10) },
    ]);
    expect(await rows('SELECT count(*) AS n FROM rejected_all', { job: undefined })).toEqual([{ n: 6 }]);
  });

  it('late events collapse by input position, late partials by window and input range', async () => {
    await put(`late/job=${JOB}/dt=2026-01-01/hour=00/a`, lines([lateEvent('7', 0, 30), latePartial('s1', '1', '5', 30), latePartial('s2', '1', '5', 30)]));
    await put(`late/job=${JOB}/dt=2026-01-01/hour=00/b`, lines([lateEvent('7', 0, 31), lateEvent('8', 0, 31), latePartial('s1', '1', '5', 31), latePartial('s1', '6', '9', 31)]));
    expect(await rows("SELECT kind, key, coalesce(sequenceNumber, firstSequenceNumber || '-' || lastSequenceNumber) AS input, lateAt FROM late ORDER BY ALL")).toEqual([
      { kind: 'event', key: 's1', input: '7', lateAt: at(30) },
      { kind: 'event', key: 's1', input: '8', lateAt: at(31) },
      { kind: 'partial', key: 's1', input: '1-5', lateAt: at(30) },
      { kind: 'partial', key: 's1', input: '6-9', lateAt: at(31) },
      { kind: 'partial', key: 's2', input: '1-5', lateAt: at(30) },
    ]);
    expect(await rows('SELECT count(*) AS n FROM late_all')).toEqual([{ n: 7 }]);
  });
});

describe('fetching', () => {
  async function hours(kind: string, field: string): Promise<void> {
    for (let h = 0; h < 6; h++) {
      const at = `2026-01-01T0${h}:00:00.000Z`;
      const row = kind === 'rejected' ? { job: JOB, reason: 'r', sequenceNumber: String(h), rejectedAt: at } : result(`k${h}`, at, 1);
      await put(`${kind}/job=${JOB}/dt=2026-01-01/hour=0${h}/${field}-${h}`, gzipSync(lines([row])));
    }
  }

  it('--since/--until download only the dt=/hour= partitions in range (and objects with no dt=)', async () => {
    await hours('results', 'obj');
    await put('results/unpartitioned-object', lines([result('loose-in', '2026-01-01T02:30:00.000Z', 1), result('loose-out', '2026-01-01T05:30:00.000Z', 1)]));
    // LocalStack writes the prefix expressions literally: such a key says nothing about time.
    await put(`results/job=${JOB}/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/2026/01/01/09/Riffle-x`, lines([result('ls-in', '2026-01-01T03:10:00.000Z', 1)]));
    const since = Date.parse('2026-01-01T02:00:00Z');
    const until = Date.parse('2026-01-01T04:00:00Z');
    const keys = (await rows('SELECT key FROM results ORDER BY key', { sinceMs: since, untilMs: until })).map((r) => r.key);
    expect(keys).toEqual(['k2', 'k3', 'loose-in', 'ls-in']);
    expect(getObjects()).toBe(4); // hour=02, hour=03 and the two objects without a (valid) partition
  });

  it('only the outputs a statement names are downloaded', async () => {
    await hours('results', 'r');
    await hours('rejected', 'x');
    expect(await rows('SELECT count(*) AS n FROM rejected')).toEqual([{ n: 6 }]);
    expect(getObjects()).toBe(6);
  });

  it('a second run reads the cache (no GetObject); a changed object is downloaded again', async () => {
    await hours('results', 'obj');
    const first = await executeQuery(options('SELECT count(*) AS n FROM results'), { target, cacheDir: path.join(dir, 'cache') });
    expect(first.stats).toMatchObject({ fetched: 6, cached: 0 });
    const second = await executeQuery(options('SELECT count(*) AS n FROM results'), { target, cacheDir: path.join(dir, 'cache') });
    expect(second.stats).toMatchObject({ fetched: 0, cached: 6 });
    expect(getObjects()).toBe(6);
    await put(`results/job=${JOB}/dt=2026-01-01/hour=00/obj-0`, lines([result('k0', '2026-01-01T00:00:00.000Z', 1), result('k0b', '2026-01-01T00:00:00.000Z', 1)]));
    const third = await executeQuery(options('SELECT count(*) AS n FROM results'), { target, cacheDir: path.join(dir, 'cache') });
    expect(third.stats).toMatchObject({ fetched: 1, cached: 5 });
    expect(JSON.parse(third.text)).toEqual([{ n: 7 }]);
  });

  it('--no-cache downloads everything again and leaves no files behind', async () => {
    await hours('results', 'obj');
    const cacheDir = path.join(dir, 'cache');
    await executeQuery(options('SELECT 1 FROM results'), { target, cacheDir });
    const run = await executeQuery(options('SELECT count(*) AS n FROM results', { cache: false }), { target, cacheDir });
    expect(run.stats).toMatchObject({ fetched: 6, cached: 0 });
    expect(readdirSync(cacheDir)).toHaveLength(6); // the earlier cache is untouched, nothing added
  });

  it('prints the table and a fetch summary through query()', async () => {
    await hours('results', 'obj');
    let out = '';
    let err = '';
    const code = await query({ ...options('SELECT key, count FROM results ORDER BY key LIMIT 2'), format: 'table' }, { target, cacheDir: path.join(dir, 'cache'), stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) } });
    expect(code).toBe(0);
    expect(out).toBe(['key  count', '───  ─────', 'k0      10', 'k1      10', '(2 rows)', ''].join('\n'));
    expect(err).toMatch(/6 objects read \(6 downloaded, .* MB; 0 from cache; 0 skipped by partition\)/);
  });
});
