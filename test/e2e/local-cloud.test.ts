// The embedded local cloud running what `cdk synth` produced: sensor events in, final
// results in S3 equal to an independent computation — also when a mapper crashes mid-batch
// and a reducer times out or crashes after its writes.
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { outputKey, stackName } from '../../infra/outputs';
import { drainedResults } from '../support/drained-results';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { getObjectBytes, listObjects } from '../../scripts/lib/output-reader';
import { synth } from '../../scripts/lib/synth';
import { sensorEvents } from '../support/factories';
import { diffSensorResults, expectedSensorAverages } from '../support/oracle';

jest.setTimeout(300_000);

const JOB = 'sensor-averages';
const START = Math.floor((Date.now() - 3 * 3_600_000) / 300_000) * 300_000;
const EVENTS = sensorEvents(3_000, { sensors: 25, startMs: START, spanMs: 45 * 60_000, maxDisorderMs: 20_000, seed: 11 });
const EXPECTED = expectedSensorAverages(EVENTS);

let assembly: string;
const temp: string[] = [];

beforeAll(async () => {
  assembly = mkdtempSync(path.join(os.tmpdir(), 'riffle-cdk-out-'));
  temp.push(assembly);
  // Finite retries (the default is unlimited): the last case needs its batch to reach the on-failure
  // destination. The same synth as test/e2e/replay.test.ts (one cached assembly for both).
  await synth({ outdir: assembly, jobs: [JOB], context: { 'riffle:config.sensor-averages.retryAttempts': 1 } });
});

afterAll(() => {
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

async function withCloud(fn: (cloud: LocalCloud, name: (key: Parameters<typeof outputKey>[1]) => string) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'riffle-local-'));
  temp.push(dataDir);
  // Retries of failed batches 20 ms apart instead of Lambda's backoff (up to seconds).
  const cloud = await startLocalCloud({ port: 0, dataDir, assembly, timeScale: 30, esm: { retryDelayMs: () => 20 }, log: () => undefined, warn: () => undefined, functionLogs: () => undefined });
  const outputs = cloud.outputs[stackName(JOB)] ?? {};
  try {
    await fn(cloud, (key) => {
      const value = outputs[outputKey(JOB, key)];
      if (!value) throw new Error(`no output ${outputKey(JOB, key)}`);
      return value;
    });
  } finally {
    await cloud.stop();
  }
}

async function produce(cloud: LocalCloud, stream: string): Promise<void> {
  await produceEvents(cloud, stream, EVENTS);
}

async function produceEvents(cloud: LocalCloud, stream: string, events: readonly (typeof EVENTS)[number][]): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    const chunk = events.slice(i, i + 500);
    const response = await cloud.clients.kinesis.send(
      new PutRecordsCommand({ StreamName: stream, Records: chunk.map((e) => ({ PartitionKey: e.sensorId, Data: Buffer.from(JSON.stringify(e)) })) }),
    );
    expect(response.FailedRecordCount ?? 0).toBe(0);
  }
}

function finalResults(cloud: LocalCloud, name: (key: Parameters<typeof outputKey>[1]) => string): Promise<Record<string, unknown>[]> {
  return drainedResults(cloud, name, JOB, { timeoutMs: 240_000, settleMs: 1_500 });
}

describe('embedded local cloud, deployed from cdk.out', () => {
  it('produces final results equal to an independent computation', async () => {
    await withCloud(async (cloud, name) => {
      await produce(cloud, name('InputStream'));
      const results = await finalResults(cloud, name);
      expect(diffSensorResults(results, EXPECTED)).toEqual([]);
      expect(results.every((r) => r.final === true)).toBe(true);
    });
  });

  it('a mapper crash mid-batch and a reducer timeout and crash each end with exact results', async () => {
    await withCloud(async (cloud, name) => {
      // Mapper: die right after its 3rd AWS call (progress read, write-ahead, the shuffle put):
      // partials are out, the batch is not acknowledged. Reducer: a timeout, then a crash after
      // its state writes but before it reports success.
      cloud.faults.crashAfter(name('MapperFunction'), { invocation: 1, afterCalls: 3 });
      cloud.faults.timeout(name('ReducerFunction'), { invocation: 1, afterMs: 200 });
      cloud.faults.crashAfter(name('ReducerFunction'), { invocation: 3 });
      await produce(cloud, name('InputStream'));
      const results = await finalResults(cloud, name);
      const fired = cloud.faults.fired().functions.map((f) => f.kind).sort();
      expect(fired).toEqual(['crashAfterCalls', 'crashAfterHandler', 'timeout']);
      expect(diffSensorResults(results, EXPECTED)).toEqual([]);
    });
  });

  it('a batch that exhausts its retries goes to the S3 on-failure destination, and the shard moves on', async () => {
    await withCloud(async (cloud, name) => {
      // The mapper mapping as synthesized here: 1 retry, bisect on error. Fail every attempt at the
      // first record (1 + 1 retry), then let the rest through.
      cloud.faults.throwOn(name('MapperFunction'), { invocation: [1, 2], message: 'injected: always failing' });
      const [poison, ...rest] = EVENTS.slice(0, 200);
      await cloud.clients.kinesis.send(new PutRecordsCommand({ StreamName: name('InputStream'), Records: [{ PartitionKey: 'poison', Data: Buffer.from(JSON.stringify(poison)) }] }));
      await cloud.waitForIdle({ timeoutMs: 120_000, settleMs: 1_500 }); // longer than a caught-up shard's 1 s poll
      const s3 = new S3Client({ endpoint: cloud.endpoint, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, forcePathStyle: true });
      try {
        const failed = await listObjects(s3, name('Bucket'), 'aws/lambda/');
        expect(failed).toHaveLength(1);
        expect(failed[0]!.key).toMatch(/^aws\/lambda\/[0-9a-f-]{36}\/shardId-\d+\/\d{4}\/\d{2}\/\d{2}\//);
        const record = JSON.parse((await getObjectBytes(s3, name('Bucket'), failed[0]!.key)).toString()) as {
          requestContext: { condition: string; approximateInvokeCount: number };
          KinesisBatchInfo: { batchSize: number; streamArn: string };
        };
        expect(record.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 });
        expect(record.KinesisBatchInfo.batchSize).toBe(1);
        // The shard is not stuck: what comes next is processed.
        await produceEvents(cloud, name('InputStream'), rest);
        const results = await finalResults(cloud, name);
        expect(diffSensorResults(results, expectedSensorAverages(rest))).toEqual([]);
      } finally {
        s3.destroy();
      }
    });
  });
});
