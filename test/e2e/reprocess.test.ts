// npm run reprocess end to end on the embedded cloud: sensor-averages runs live over the last hour;
// the job then changes (an aggregate added: the median temperature, version 2 — its Glue columns
// given to the results delivery as a deploy would); the reprocess of that hour is interrupted after
// its first chunk of results and resumed, and the `results` view then holds, for every window of the
// range, exactly the independent oracle's values for the new definition (revision rows, no window
// twice), while windows outside the range keep the live rows. Plus the refusals: open windows, a
// definition whose aggregates the deployed stack lacks. The stack has the raw input archive on
// (inputArchive): the archiver wrote each input record once to archive/, and a reprocess read from
// the archive (--source archive) equals the same oracle.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { gunzipSync } from 'node:zlib';
import { DescribeDeliveryStreamCommand, FirehoseClient } from '@aws-sdk/client-firehose';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { quantile } from '../../functions/core/aggregates';
import { defineJob, type Job } from '../../functions/core/job';
import { encodeFingerprint, fingerprintOutputKey, jobFingerprint } from '../../functions/core/job-fingerprint';
import { resultsSchema } from '../../infra/results-schema';
import { outputKey, pascal, stackName } from '../../infra/outputs';
import { jobs } from '../../jobs';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { LOCAL_GLUE_TABLE } from '../../local/services/format-conversion/glue-schema';
import { runReprocess, type ReprocessIo } from '../../scripts/reprocess';
import { synth } from '../../scripts/lib/synth';
import { resolveTarget, type Target } from '../../scripts/lib/targets';
import { executeQuery } from '../../scripts/query';
import { sensorEvents } from '../support/factories';
import { definitionOf } from '../support/job-definition';
import { exactQuantile, expectedSensorAverages, type SensorLike } from '../support/oracle';

jest.setTimeout(240_000);

const JOB = 'sensor-averages';
const WINDOW = 300_000;
const START = Math.floor((Date.now() - 65 * 60_000) / WINDOW) * WINDOW;
const EVENTS = sensorEvents(900, { sensors: 6, startMs: START, spanMs: 55 * 60_000, maxDisorderMs: 10_000, seed: 23 });

const live = jobs[JOB] as Job;
/** The changed definition: everything as deployed, plus the median, as version 2. */
const changed = defineJob({ ...definitionOf(live), version: 2, aggregates: { ...live.aggregates, temperature_p50: quantile('temperature', 0.5) } });

let cloud: LocalCloud;
let target: Target;
let liveTarget: Target;
const temp: string[] = [];
let checkpointDir: string;
let output = (key: Parameters<typeof outputKey>[1]): string => key;
/** What Kinesis answered for each event put: (shard, sequence) → the record's data. */
const put = new Map<string, string>();

const io = (extra: Partial<ReprocessIo> = {}): ReprocessIo & { out: string[]; err: string[] } => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) }, target, job: changed, ...extra };
};

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const run = await executeQuery({ sql, format: 'json', job: JOB, target: 'local', cache: true, athena: false }, { target, cacheDir: path.join(checkpointDir, 'query-cache') });
  return JSON.parse(run.text) as Record<string, unknown>[];
}

beforeAll(async () => {
  const assembly = mkdtempSync(path.join(os.tmpdir(), 'riffle-cdk-out-'));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'riffle-local-'));
  checkpointDir = mkdtempSync(path.join(os.tmpdir(), 'riffle-reprocess-'));
  temp.push(assembly, dataDir, checkpointDir);
  // Short ESM batching windows: the test waits for the live pipeline, whatever latency profile the job defaults to.
  await synth({
    outdir: assembly,
    jobs: [JOB],
    // (sensor-averages is its own source: inputArchive is a source setting.)
    context: { [`riffle:config.${JOB}.mapperBatchingWindow`]: '0s', [`riffle:config.${JOB}.reducerBatchingWindow`]: '1s', [`riffle:config.${JOB}.inputArchive`]: 'true' },
  });
  cloud = await startLocalCloud({ port: 0, dataDir, assembly, timeScale: 30, log: () => undefined, warn: () => undefined, functionLogs: () => undefined });
  const outputs = cloud.outputs[stackName(JOB)] ?? {};
  output = (key) => outputs[outputKey(JOB, key)] as string;
  for (let i = 0; i < EVENTS.length; i += 500) {
    const chunk = EVENTS.slice(i, i + 500);
    const answer = await cloud.clients.kinesis.send(new PutRecordsCommand({ StreamName: output('InputStream'), Records: chunk.map((e) => ({ PartitionKey: e.sensorId, Data: Buffer.from(JSON.stringify(e)) })) }));
    expect(answer.FailedRecordCount ?? 0).toBe(0);
    (answer.Records ?? []).forEach((r, j) => put.set(`${r.ShardId}|${r.SequenceNumber}`, Buffer.from(JSON.stringify(chunk[j])).toString('base64')));
  }
  await cloud.waitForIdle({ timeoutMs: 90_000, settleMs: 1_000 });
  // One closer run at the job's own watermark: it records the floor the reprocess checks against.
  expect((await cloud.runtime.invoke(output('CloserFunction'), {})).ok).toBe(true);
  await cloud.server.firehose.flushAll();
  liveTarget = resolveTarget('local', { endpoint: cloud.endpoint, outputs: cloud.outputs });

  // What deploying the changed job does to the results path: its Glue table gets the new column
  // (the local Firehose converts with it) and the stack records the new fingerprint.
  // (Straight to the emulator: the SDK would drop the local table, which is no AWS field.)
  const firehose = new FirehoseClient({ endpoint: cloud.endpoint, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const stream = output('ResultsDelivery');
  const described = await firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: stream }));
  firehose.destroy();
  const schema = { DatabaseName: output('GlueDatabase'), TableName: output('GlueTable') };
  const update = {
    DeliveryStreamName: stream,
    CurrentDeliveryStreamVersionId: described.DeliveryStreamDescription?.VersionId,
    DestinationId: 'destinationId-000000000001',
    ExtendedS3DestinationUpdate: {
      DataFormatConversionConfiguration: {
        Enabled: true,
        SchemaConfiguration: { ...schema, [LOCAL_GLUE_TABLE]: { DatabaseName: schema.DatabaseName, Name: schema.TableName, Columns: resultsSchema(changed).map((c) => ({ Name: c.name, Type: c.type })) } },
        InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: {} } },
        OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' } } },
      },
    },
  };
  const updated = await cloud.server.firehose.handle('UpdateDestination', Buffer.from(JSON.stringify(update)));
  expect(updated.status).toBe(200);
  const fingerprintKey = fingerprintOutputKey(pascal(JOB));
  target = resolveTarget('local', { endpoint: cloud.endpoint, outputs: { ...cloud.outputs, [stackName(JOB)]: { ...outputs, [fingerprintKey]: encodeFingerprint(jobFingerprint(changed)) } } });
});

afterAll(async () => {
  await cloud?.stop();
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

/**
 * The results view, for windows before `toMs`, holds exactly the oracle's values for the changed
 * definition, each window written once by run `runId`, the live rows superseded but still there.
 */
async function expectOracle(runId: number, toMs: number, total: number): Promise<void> {
  const inRange = EVENTS.filter((e) => Math.floor(e.ts / WINDOW) * WINDOW < toMs);
  const expected = expectedSensorAverages(inRange as SensorLike[]);
  expect(total).toBe(expected.size);

  const rows = await query(`SELECT * FROM results WHERE windowStart < TIMESTAMP '${new Date(toMs).toISOString().replace('T', ' ').replace('Z', '')}' ORDER BY windowStart, key`);
  const problems: string[] = [];
  for (const r of rows) {
    const id = `${String(r.key)}|${String(r.windowStart)}`;
    const e = expected.get(id);
    if (!e) {
      problems.push(`unexpected ${id}`);
      continue;
    }
    if (r.job_version !== 2 || r.revision !== runId) problems.push(`${id}: job_version ${String(r.job_version)}, revision ${String(r.revision)}`);
    if (r.count !== e.count || r.eventCount !== e.count) problems.push(`${id}: count ${String(r.count)} ≠ ${e.count}`);
    if (r.temperature_min !== e.temperature_min || r.temperature_max !== e.temperature_max) problems.push(`${id}: min/max`);
    if (Math.abs(Number(r.temperature_avg) - e.temperature_avg) > 1e-9 * Math.abs(e.temperature_avg)) problems.push(`${id}: avg ${String(r.temperature_avg)} ≠ ${e.temperature_avg}`);
    for (const [field, q] of [['temperature_p50', 0.5], ['temperature_p95', 0.95]] as const) {
      const exact = exactQuantile(e.temperatures, q);
      if (!(Math.abs(Number(r[field]) - exact) <= 0.01 * Math.abs(exact) + 1e-9)) problems.push(`${id}: ${field} ${String(r[field])} not within 1% of ${exact}`);
    }
    if (e.humidity_avg === null ? r.humidity_avg !== null : Math.abs(Number(r.humidity_avg) - e.humidity_avg) > 1e-9 * e.humidity_avg) problems.push(`${id}: humidity`);
  }
  expect(problems).toEqual([]);
  expect(rows).toHaveLength(expected.size);

  // Each window of the run written once (the checkpoint resumed after the delivered chunk), and the
  // live rows of the same windows still there, superseded rather than changed.
  const [written] = await query(`SELECT count(*) AS n, count(DISTINCT resultId) AS windows FROM results_all WHERE revision = ${runId}`);
  expect(written).toEqual({ n: expected.size, windows: expected.size });
  // (Distinct windows: a live closer that lost a race to a reducer write emits a window again.)
  const [liveRows] = await query(`SELECT count(DISTINCT resultId) AS n FROM results_all WHERE coalesce(revision, 0) = 0 AND windowStart < TIMESTAMP '${new Date(toMs).toISOString().replace('T', ' ').replace('Z', '')}'`);
  expect(liveRows?.n).toBe(expected.size);
  // Windows after the range (closed later by the live pipeline, or still open) are not the run's.
  const [after] = await query(`SELECT count(*) AS n FROM results WHERE revision = ${runId} AND windowStart >= TIMESTAMP '${new Date(toMs).toISOString().replace('T', ' ').replace('Z', '')}'`);
  expect(after?.n).toBe(0);
}

test('refused: windows still open, and aggregates the deployed stack has no columns for', async () => {
  const open = io();
  expect(await runReprocess(['--job', JOB, '--from', new Date(START).toISOString(), '--to', new Date(Date.now()).toISOString(), '--checkpoint-dir', checkpointDir], open)).toBe(1);
  expect(open.err.join('')).toMatch(/still open and the live pipeline will emit them\. Reprocess up to --to \S+Z/);
  const undeployed = io({ target: liveTarget });
  expect(await runReprocess(['--job', JOB, '--from', new Date(START).toISOString(), '--checkpoint-dir', checkpointDir], undeployed)).toBe(1);
  expect(undeployed.err.join('')).toContain("aggregate 'temperature_p50' added");
  const bad = io();
  expect(await runReprocess(['--job', JOB, '--from', 'yesterday'], bad)).toBe(2);
  expect(bad.err.join('')).toMatch(/^reprocess: --from 'yesterday' is not a time; write an ISO-8601 time/);
});

test('the changed job reprocessed over the last hour, interrupted and resumed: the results view equals the oracle for the new definition', async () => {
  const args = ['--job', JOB, '--from', new Date(START).toISOString(), '--checkpoint-dir', checkpointDir];
  const dry = io();
  expect(await runReprocess([...args, '--dry-run'], dry)).toBe(0);
  expect(dry.out.join('')).toMatch(/read 900 records from 1 shard: 900 events, 0 rejected\n {2}dry run: \d+ windows would be re-emitted; nothing was written/);

  // The first run dies after its first chunk of 20 results is delivered.
  const first = io({ chunkSize: 20, afterChunk: (delivered) => { if (delivered === 20) throw new Error('simulated crash'); } });
  await expect(runReprocess(args, first)).rejects.toThrow('simulated crash');
  const checkpoint = JSON.parse(readFileSync(path.join(checkpointDir, `local-${JOB}.json`), 'utf8')) as { runId: number; delivered: number; total: number; done: boolean };
  expect(checkpoint).toMatchObject({ delivered: 20, done: false });

  const second = io({ chunkSize: 20 });
  expect(await runReprocess(args, second)).toBe(0);
  expect(second.err.join('')).toContain(`resuming run ${checkpoint.runId} (20 of ${checkpoint.total} results delivered)`);
  const summary = second.out.join('');
  expect(summary).toContain(`re-emitted ${checkpoint.total} windows (${checkpoint.total - 20} in this invocation, the rest before the interruption)`);
  await cloud.server.firehose.flushAll();

  const toMs = Number(/windows \S+ – (\S+),/.exec(summary)?.[1] ? Date.parse(/windows \S+ – (\S+),/.exec(summary)?.[1] as string) : NaN);
  await expectOracle(checkpoint.runId, toMs, checkpoint.total);
});

test('the archiver wrote every input record to archive/dt=…/hour=…/, once per (shard, sequence), raw', async () => {
  const bucket = output('Bucket');
  const listed = await cloud.clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'archive/' }));
  const keys = (listed.Contents ?? []).map((o) => o.Key as string);
  expect(keys.length).toBeGreaterThan(0);
  const seen = new Map<string, number>();
  for (const key of keys) {
    expect(key).toMatch(/^archive\/dt=\d{4}-\d{2}-\d{2}\/hour=\d{2}\//);
    const object = await cloud.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    const text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
    for (const line of text.split('\n').filter(Boolean)) {
      const r = JSON.parse(line) as { shardId: string; sequenceNumber: string; approximateArrivalTimestamp: string; partitionKey: string; data: string };
      const id = `${r.shardId}|${r.sequenceNumber}`;
      seen.set(id, (seen.get(id) ?? 0) + 1);
      expect(r.data).toBe(put.get(id));
      // Partitioned by its own arrival hour.
      expect(key.startsWith(`archive/dt=${r.approximateArrivalTimestamp.slice(0, 10)}/hour=${r.approximateArrivalTimestamp.slice(11, 13)}/`)).toBe(true);
      expect(r.partitionKey).toMatch(/^sensor-/);
    }
  }
  expect(put.size).toBe(EVENTS.length);
  expect([...seen.keys()].sort()).toEqual([...put.keys()].sort());
  expect([...seen.values()].filter((n) => n !== 1)).toEqual([]);
});

test('reprocess from the input archive (--source archive, interrupted and resumed; auto beyond retention) equals the same oracle; without an archive it is refused, naming inputArchive', async () => {
  const args = ['--job', JOB, '--from', new Date(START).toISOString(), '--checkpoint-dir', checkpointDir, '--source', 'archive'];
  const noArchive = io({ target: resolveTarget('local', { endpoint: target.endpoint, outputs: Object.fromEntries(Object.entries(target.outputs).map(([stack, values]) => [stack, Object.fromEntries(Object.entries(values).filter(([k]) => k !== 'InputArchive'))])) }) });
  expect(await runReprocess(args, noArchive)).toBe(1);
  expect(noArchive.err.join('')).toMatch(/has no input archive; deploy it with the source setting inputArchive: true/);

  // Two days later the stream (24 h) no longer holds this input: by default (--source auto) the
  // archive is read; without one, the refusal names the setting.
  const later = { now: () => Date.now() + 48 * 3_600_000 };
  const beyond = ['--job', JOB, '--from', new Date(START).toISOString(), '--checkpoint-dir', checkpointDir, '--dry-run'];
  const refused = io({ ...later, target: noArchive.target });
  expect(await runReprocess(beyond, refused)).toBe(1);
  expect(refused.err.join('')).toMatch(/keeps 24 h .*the source setting inputArchive: true archives the input to S3/);
  const auto = io(later);
  expect(await runReprocess(beyond, auto)).toBe(0);
  expect(auto.out.join('')).toMatch(/read 900 records from 1 shard \(the input archive's \d+ objects, then the stream\)/);

  // Interrupted after its first chunk and resumed: the checkpoint works the same from the archive.
  const first = io({ chunkSize: 20, afterChunk: (delivered) => { if (delivered === 20) throw new Error('simulated crash'); } });
  await expect(runReprocess(args, first)).rejects.toThrow('simulated crash');
  expect(first.err.join('')).toMatch(/input archive read \(\d+ objects, 900 records of 1 shards\)/);
  const run = io({ chunkSize: 20 });
  expect(await runReprocess(args, run)).toBe(0);
  expect(run.err.join('')).toMatch(/resuming run \d+ \(20 of \d+ results delivered\)/);
  const summary = run.out.join('');
  expect(summary).toMatch(/read 900 records from 1 shard \(the input archive's \d+ objects, then the stream\)/);
  await cloud.server.firehose.flushAll();
  const runId = Number(/as revision (\d+)/.exec(summary)?.[1]);
  const toMs = Date.parse(/windows \S+ – (\S+),/.exec(summary)?.[1] as string);
  const total = Number(/re-emitted (\d+) windows/.exec(summary)?.[1]);
  await expectOracle(runId, toMs, total);
});
