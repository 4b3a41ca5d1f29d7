// The embedded cloud applies a job's latency profile as deployed from cdk.out: the event source
// mappings (as Lambda's ListEventSourceMappings answers), the enhanced fan-out consumers, the
// closer's schedule and the Firehose buffering hints; and an interactive job's mapper and reducer
// get their records through the push subscription of their consumers (they never poll).
// One cloud for both jobs: sensor-averages set to 'interactive', trending-hashtags with its default
// (economy) — synthesized alone like the console test does, so the two suites share that assembly.
import { DescribeDeliveryStreamCommand, FirehoseClient } from '@aws-sdk/client-firehose';
import { ListStreamConsumersCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { LambdaClient, ListEventSourceMappingsCommand } from '@aws-sdk/client-lambda';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LATENCY_PROFILES, type LatencyProfile } from '../../infra/latency-profiles';
import { outputKey, stackName, type JobOutput } from '../../infra/outputs';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { synth } from '../../scripts/lib/synth';
import { sensorEvents } from '../support/factories';

jest.setTimeout(240_000);

const JOBS = { 'sensor-averages': LATENCY_PROFILES.interactive, 'trending-hashtags': LATENCY_PROFILES.economy } as const;
let cloud: LocalCloud;
const temp: string[] = [];
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

beforeAll(async () => {
  const [interactive, economy, dataDir] = [0, 1, 2].map(() => mkdtempSync(path.join(os.tmpdir(), 'riffle-latency-')));
  temp.push(interactive!, economy!, dataDir!);
  await synth({ outdir: interactive, jobs: ['sensor-averages'], context: { 'riffle:config.sensor-averages.latency': 'interactive' } });
  await synth({ outdir: economy, jobs: ['trending-hashtags'] });
  cloud = await startLocalCloud({ port: 0, dataDir, assembly: interactive, log: () => undefined, warn: () => undefined, functionLogs: () => undefined });
  await cloud.deploy({ assembly: economy });
});

afterAll(async () => {
  await cloud?.stop();
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

const output = (job: string, key: JobOutput): string => {
  const value = cloud.outputs[stackName(job)]?.[outputKey(job, key)];
  if (!value) throw new Error(`no output ${outputKey(job, key)}`);
  return value;
};

test.each(Object.entries(JOBS))('%s: mappings, consumers, schedule and Firehose buffering as its profile says', async (job, profile: LatencyProfile) => {
  const lambda = new LambdaClient({ endpoint: cloud.endpoint, region: cloud.region, credentials });
  const firehose = new FirehoseClient({ endpoint: cloud.endpoint, region: cloud.region, credentials });
  try {
    const consumers = async (stream: string) =>
      (await cloud.clients.kinesis.send(new ListStreamConsumersCommand({ StreamARN: `arn:aws:kinesis:${cloud.region}:${cloud.accountId}:stream/${stream}` }))).Consumers ?? [];
    for (const [role, stream, batchSize, window] of [
      ['Mapper', output(job, 'InputStream'), profile.mapperBatchSize, profile.mapperBatchingWindow],
      ['Reducer', output(job, 'ShuffleStream'), profile.reducerBatchSize, profile.reducerBatchingWindow],
    ] as const) {
      const { EventSourceMappings: mappings = [] } = await lambda.send(new ListEventSourceMappingsCommand({ FunctionName: output(job, `${role}Function`) }));
      expect(mappings).toHaveLength(1);
      expect(mappings[0]).toMatchObject({ BatchSize: batchSize, MaximumBatchingWindowInSeconds: window });
      const registered = await consumers(stream);
      if (profile.enhancedFanOut) {
        expect(registered.map((c) => c.ConsumerName)).toEqual([`riffle-${job}-${role.toLowerCase()}`]);
        expect(mappings[0]!.EventSourceArn).toBe(registered[0]!.ConsumerARN);
      } else {
        expect(registered).toEqual([]);
        expect(mappings[0]!.EventSourceArn).toMatch(new RegExp(`:stream/${stream}$`));
      }
    }
    const minutes = profile.closerIntervalSeconds / 60;
    const schedules = cloud.scheduler.list().filter((s) => s.targets.includes(output(job, 'CloserFunction')));
    expect(schedules.map((s) => s.expression)).toEqual([`rate(${minutes} ${minutes === 1 ? 'minute' : 'minutes'})`]);
    const described = await firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: output(job, 'ResultsDelivery') }));
    expect(described.DeliveryStreamDescription?.Destinations?.[0]?.ExtendedS3DestinationDescription?.BufferingHints).toEqual({
      IntervalInSeconds: profile.firehoseBufferInterval,
      SizeInMBs: profile.firehoseBufferSizeMb,
    });
  } finally {
    lambda.destroy();
    firehose.destroy();
  }
});

test('interactive: records reach the mapper and the reducer through the push subscriptions of their consumers', async () => {
  const job = 'sensor-averages';
  const mappings = (role: 'Mapper' | 'Reducer') => cloud.pollers.list().find((m) => m.config.functionName === output(job, `${role}Function`))!;
  const [mapper, reducer] = [mappings('Mapper'), mappings('Reducer')];
  // Pushed, not polled: a consumer mapping waits only for pushes once it has read its shards.
  expect(mapper.pushed && reducer.pushed).toBe(true);
  const events = sensorEvents(200, { sensors: 10, startMs: Math.floor(Date.now() / 300_000) * 300_000 - 600_000, spanMs: 300_000, seed: 5 });
  const response = await cloud.clients.kinesis.send(
    new PutRecordsCommand({ StreamName: output(job, 'InputStream'), Records: events.map((e) => ({ PartitionKey: e.sensorId, Data: Buffer.from(JSON.stringify(e)) })) }),
  );
  expect(response.FailedRecordCount ?? 0).toBe(0);
  await cloud.waitForIdle({ timeoutMs: 120_000, settleMs: 500 });
  expect(mapper.stats().records).toBe(events.length);
  expect(mapper.pushes).toBeGreaterThan(0);
  expect(reducer.stats().records).toBeGreaterThan(0);
  expect(reducer.pushes).toBeGreaterThan(0);
});
