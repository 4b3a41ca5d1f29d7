// Bench: 1,000,000 sensor events end to end on the embedded local cloud, deployed from a real
// `cdk synth`: produce → mapper → shuffle → reducer → closer → Firehose → S3, against the raw
// kinesalite PutRecords rate measured in the same run. Reports throughput, peak RSS and whether
// the results are exact.
import { CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeAggregate } from '../../functions/core/kpl';
import { outputKey, stackName } from '../../infra/outputs';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { latestResults, readJsonLines } from '../lib/output-reader';
import { synth } from '../lib/synth';

export interface EndToEndResult {
  events: number;
  aggregation: number;
  rawPutRecordsPerSec: number;
  produceSeconds: number;
  totalSeconds: number;
  eventsPerSec: number;
  ratioToRawPutRecords: number;
  peakRssMb: number;
  results: number;
  exact: boolean;
}

const JOB = 'sensor-averages';
const WINDOW = 300_000;

async function putAll(cloud: LocalCloud, stream: string, entries: PutRecordsRequestEntry[]): Promise<void> {
  let pending = entries;
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt > 20) throw new Error(`PutRecords to ${stream} kept failing`);
    if (attempt > 0) await new Promise((r) => setTimeout(r, 20 * attempt));
    const response = await cloud.clients.kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: pending }));
    pending = pending.filter((_, i) => response.Records?.[i]?.ErrorCode);
  }
}

/** Single-event PutRecords into a scratch stream: the emulator's raw ingest rate. */
async function rawPutRate(cloud: LocalCloud, count: number): Promise<number> {
  const stream = 'riffle-bench-raw';
  await cloud.clients.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 2 }));
  while ((await cloud.clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary?.StreamStatus !== 'ACTIVE') {
    await new Promise((r) => setTimeout(r, 50));
  }
  const data = Buffer.from(JSON.stringify({ sensorId: 'sensor-0000', ts: Date.now(), temperature: 20.5, humidity: 40 }));
  const started = process.hrtime.bigint();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < count; i += 500) {
    inFlight.push(putAll(cloud, stream, Array.from({ length: Math.min(500, count - i) }, (_, j) => ({ PartitionKey: `k${i + j}`, Data: data }))));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
}

export async function benchEndToEnd(options: { events?: number; aggregation?: number; log?: (line: string) => void } = {}): Promise<EndToEndResult> {
  const events = options.events ?? 1_000_000;
  const aggregation = options.aggregation ?? 100;
  const log = options.log ?? (() => undefined);
  const assembly = mkdtempSync(path.join(os.tmpdir(), 'riffle-bench-cdk-'));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'riffle-bench-cloud-'));
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  try {
    await synth({ outdir: assembly, jobs: [JOB], log });
    const cloud = await startLocalCloud({ port: 0, dataDir, assembly, log: () => undefined, warn: log, functionLogs: () => undefined });
    try {
      const raw = await rawPutRate(cloud, 50_000);
      log(`  raw PutRecords: ${Math.round(raw).toLocaleString()} records/s`);
      const outputs = cloud.outputs[stackName(JOB)] ?? {};
      const name = (key: Parameters<typeof outputKey>[1]) => outputs[outputKey(JOB, key)] as string;
      const start = Math.floor((Date.now() - 2 * 3_600_000) / WINDOW) * WINDOW;
      const expected = new Map<string, number>();
      const started = Date.now();
      const inFlight: Promise<void>[] = [];
      let batch: PutRecordsRequestEntry[] = [];
      for (let i = 0; i < events; i += aggregation) {
        const users = [];
        for (let j = i; j < Math.min(events, i + aggregation); j++) {
          const sensorId = `sensor-${String(j % 1_000).padStart(4, '0')}`;
          const ts = start + Math.floor((j / events) * 3_600_000);
          const event = { sensorId, ts, temperature: Math.round((18 + 6 * Math.sin(ts / 600_000 + (j % 1_000))) * 100) / 100, humidity: 30 + (j % 50) };
          const id = `${sensorId}|${Math.floor(ts / WINDOW) * WINDOW}`;
          expected.set(id, (expected.get(id) ?? 0) + 1);
          users.push({ partitionKey: sensorId, data: Buffer.from(JSON.stringify(event)) });
        }
        const first = users[0] as { partitionKey: string; data: Buffer };
        batch.push(aggregation > 1 ? { PartitionKey: first.partitionKey, Data: encodeAggregate(users) } : { PartitionKey: first.partitionKey, Data: first.data });
        if (batch.length === 500 || i + aggregation >= events) {
          inFlight.push(putAll(cloud, name('InputStream'), batch));
          batch = [];
          if (inFlight.length >= 4) await inFlight.shift();
        }
        if (i % 100_000 === 0 && i > 0) log(`  produced ${i.toLocaleString()} events`);
      }
      await Promise.all(inFlight);
      const produceSeconds = (Date.now() - started) / 1000;
      log(`  produced ${events.toLocaleString()} events in ${produceSeconds.toFixed(1)} s; waiting for the pipeline…`);
      await cloud.waitForIdle({ timeoutMs: 1_800_000, settleMs: 2_000 });
      const drained = await cloud.runtime.invoke(name('CloserFunction'), { drain: true });
      if (!drained.ok) throw new Error(`closer failed: ${drained.payload}`);
      await cloud.server.firehose.flushAll();
      const totalSeconds = (Date.now() - started) / 1000;
      const s3 = new S3Client({ endpoint: cloud.endpoint, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, forcePathStyle: true });
      const results = latestResults(await readJsonLines(s3, name('Bucket'), `results/job=${JOB}/`));
      s3.destroy();
      const exact = results.length === expected.size && results.every((r) => expected.get(`${String(r.key)}|${Date.parse(String(r.windowStart))}`) === r.count);
      return {
        events,
        aggregation,
        rawPutRecordsPerSec: Math.round(raw),
        produceSeconds,
        totalSeconds,
        eventsPerSec: Math.round(events / totalSeconds),
        ratioToRawPutRecords: events / totalSeconds / raw,
        peakRssMb: Math.round(peakRss / 1024 / 1024),
        results: results.length,
        exact,
      };
    } finally {
      await cloud.stop();
    }
  } finally {
    clearInterval(sampler);
    rmSync(assembly, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
}
