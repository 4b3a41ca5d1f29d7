// `npm run replay` on the embedded cloud: a stack synthesized with finite retries (retryAttempts
// 1), a mapper that dies right after its shuffle put (bundles out, batch not acknowledged) until the
// event source mapping gives up on the batch — applied, but sent to the on-failure destination —
// while later batches of the same shard succeed. The replay command's own code (replayMain) then
// re-drives the failure record; the results equal an independent computation over every event, and
// a second replay changes nothing.
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseProgressItems, openGaps } from '../../functions/core/progress';
import { StateStore } from '../../functions/commons/state-store';
import { outputKey, stackName } from '../../infra/outputs';
import { drainedResults } from '../support/drained-results';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { getObjectBytes, listObjects } from '../../scripts/lib/output-reader';
import { synth } from '../../scripts/lib/synth';
import { resolveTarget } from '../../scripts/lib/targets';
import { replayMain } from '../../scripts/replay';
import { sensorEvents } from '../support/factories';
import { diffSensorResults, expectedSensorAverages } from '../support/oracle';

jest.setTimeout(180_000);

const JOB = 'sensor-averages';
const START = Math.floor((Date.now() - 3 * 3_600_000) / 300_000) * 300_000;
const EVENTS = sensorEvents(400, { sensors: 12, startMs: START, spanMs: 40 * 60_000, maxDisorderMs: 10_000, seed: 12 });
const BEFORE = EVENTS.slice(0, 150);
const SKIPPED = EVENTS.slice(150, 151);
const AFTER = EVENTS.slice(151);

let cloud: LocalCloud;
const temp: string[] = [];
const name = (key: Parameters<typeof outputKey>[1]): string => {
  const value = cloud.outputs[stackName(JOB)]?.[outputKey(JOB, key)];
  if (!value) throw new Error(`no output ${outputKey(JOB, key)}`);
  return value;
};

beforeAll(async () => {
  const assembly = mkdtempSync(path.join(os.tmpdir(), 'riffle-cdk-out-'));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'riffle-local-'));
  temp.push(assembly, dataDir);
  await synth({ outdir: assembly, jobs: [JOB], context: { 'riffle:config.sensor-averages.retryAttempts': 1 } });
  cloud = await startLocalCloud({ port: 0, dataDir, assembly, timeScale: 30, esm: { retryDelayMs: () => 20 }, log: () => undefined, warn: () => undefined, functionLogs: () => undefined });
});

afterAll(async () => {
  await cloud?.stop();
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

async function produce(events: readonly (typeof EVENTS)[number][]): Promise<void> {
  const response = await cloud.clients.kinesis.send(
    new PutRecordsCommand({ StreamName: name('InputStream'), Records: events.map((e) => ({ PartitionKey: e.sensorId, Data: Buffer.from(JSON.stringify(e)) })) }),
  );
  expect(response.FailedRecordCount ?? 0).toBe(0);
}

function results(): Promise<Record<string, unknown>[]> {
  return drainedResults(cloud, name, JOB, { timeoutMs: 120_000, settleMs: 1_000 });
}

async function replay(): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const target = resolveTarget('local', { outputs: cloud.outputs, endpoint: cloud.endpoint });
  const code = await replayMain(['--job', JOB], { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, target });
  return { code, out, err };
}

it('batches skipped after a partial application are replayed exactly once; replaying again changes nothing', async () => {
  await produce(BEFORE);
  await cloud.waitForIdle({ timeoutMs: 60_000, settleMs: 2_500 });
  // Every mapper invocation dies right after its 4th AWS call: progress read, write-ahead (get +
  // conditional put), the shuffle put — the bundles are out, the batch is not acknowledged. The
  // mapping gives up after its one retry.
  cloud.faults.crashAfter(name('MapperFunction'), { invocation: [1, 2, 3, 4], afterCalls: 4 });
  await produce(SKIPPED);
  await cloud.waitForIdle({ timeoutMs: 60_000, settleMs: 2_500 });
  cloud.faults.clear();
  const s3 = new S3Client({ endpoint: cloud.endpoint, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, forcePathStyle: true });
  let failureRecords: { key: string; body: Buffer }[];
  try {
    const objects = await listObjects(s3, name('Bucket'), 'aws/lambda/');
    expect(objects.length).toBe(SKIPPED.length);
    failureRecords = await Promise.all(objects.map(async (o) => ({ key: o.key, body: await getObjectBytes(s3, name('Bucket'), o.key) })));
  } finally {
    s3.destroy();
  }
  await produce(AFTER);
  await cloud.waitForIdle({ timeoutMs: 60_000, settleMs: 2_500 });
  // Later batches of the shard ran past the skipped records and recorded them as gaps.
  const store = new StateStore(DynamoDBDocumentClient.from(cloud.clients.dynamodb), name('StateTable'));
  const gaps = () => store.readProgress(JOB).then((items) => parseProgressItems(items).mappers.flatMap((m) => openGaps(m)));
  expect((await gaps()).length).toBeGreaterThan(0);

  const first = await replay();
  expect(first.code).toBe(0);
  expect(first.out).toMatch(new RegExp(`${SKIPPED.length} failure record\\(s\\), ${SKIPPED.length} range\\(s\\), ${SKIPPED.length} batch\\(es\\) sent, ${SKIPPED.length} records`));
  expect(first.out).toMatch(/1 failure record\(s\) removed/);
  expect(await gaps()).toEqual([]);
  const after = await results();
  expect(diffSensorResults(after, expectedSensorAverages(EVENTS))).toEqual([]);

  // The failure record is consumed; put it back, as a second run over the same record would see it.
  await cloud.clients.s3.send(new PutObjectCommand({ Bucket: name('Bucket'), Key: failureRecords[0]!.key, Body: failureRecords[0]!.body }));
  const second = await replay();
  expect(second.code).toBe(0);
  expect(second.out).toMatch(/1 failure record\(s\), 1 range\(s\), 0 batch\(es\) sent, 0 records, 0 partials re-emitted, 0 gap\(s\) closed, 1 already done, 1 failure record\(s\) removed/);
  expect(diffSensorResults(await results(), expectedSensorAverages(EVENTS))).toEqual([]);
});
