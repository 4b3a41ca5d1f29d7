// Bench: 1,000,000 sensor events end to end on the embedded local cloud, deployed from a real
// `cdk synth`: produce → mapper → shuffle → reducer → closer → Firehose → S3, against the raw
// kinesalite PutRecords rate of the same kind of records (KPL-aggregated alike), in events/s,
// measured in the same run (3 repetitions; the 1M-event run itself once). Reports throughput, peak
// RSS and whether the results are exact.
import { CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeAggregate } from '../../functions/core/kpl';
import { outputKey, stackName } from '../../infra/outputs';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { latestResults, readJsonLines } from '../lib/output-reader';
import { synth } from '../lib/synth';
import { spread as spreadOf } from './mapper-core';

export interface EndToEndResult {
  events: number;
  aggregation: number;
  /** Raw ingest of the same kind of records (aggregated like the run), events/s: min / median / max of RAW_REPETITIONS. */
  rawEventsPerSec: { min: number; median: number; max: number; repetitions: number };
  produceSeconds: number;
  totalSeconds: number;
  eventsPerSec: number;
  /** End-to-end events/s ÷ each raw repetition's events/s: min / median / max. */
  ratioToRaw: { min: number; median: number; max: number };
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

/**
 * The emulator's raw ingest of the same kind of records the run produces: W-shaped events, KPL
 * aggregates of `aggregation` user records (or single events), PutRecords of 500 into a scratch
 * stream of the input stream's shard count, 4 in flight like the producer loop. Events/s, so the
 * end-to-end ratio compares events with events and aggregates with aggregates. One scratch stream
 * per repetition.
 */
async function rawPutRate(cloud: LocalCloud, events: number, aggregation: number, repetition: number): Promise<number> {
  const stream = `riffle-bench-raw-${repetition}`;
  await cloud.clients.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: 1 }));
  while ((await cloud.clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary?.StreamStatus !== 'ACTIVE') {
    await new Promise((r) => setTimeout(r, 50));
  }
  const records: PutRecordsRequestEntry[] = [];
  for (let i = 0; i < events; i += aggregation) {
    const users = [];
    for (let j = i; j < Math.min(events, i + aggregation); j++) {
      const sensorId = `sensor-${String(j % 1_000).padStart(4, '0')}`;
      users.push({ partitionKey: sensorId, data: Buffer.from(JSON.stringify({ sensorId, ts: Date.now(), temperature: 20.5 + (j % 70) / 10, humidity: 30 + (j % 50) })) });
    }
    const first = users[0] as { partitionKey: string; data: Buffer };
    records.push(aggregation > 1 ? { PartitionKey: first.partitionKey, Data: encodeAggregate(users) } : { PartitionKey: first.partitionKey, Data: first.data });
  }
  const started = process.hrtime.bigint();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < records.length; i += 500) {
    inFlight.push(putAll(cloud, stream, records.slice(i, i + 500)));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
  return events / (Number(process.hrtime.bigint() - started) / 1e9);
}

const RAW_REPETITIONS = 3;

export async function benchEndToEnd(options: { events?: number; aggregation?: number; log?: (line: string) => void } = {}): Promise<EndToEndResult> {
  const events = options.events ?? 1_000_000;
  const aggregation = options.aggregation ?? 100;
  const log = options.log ?? (() => undefined);
  const assembly = mkdtempSync(path.join(os.tmpdir(), 'riffle-bench-cdk-'));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'riffle-bench-cloud-'));
  let peakRss = 0;
  // Functions run as child processes (local/lambda): their resident memory is added to this
  // process's, read from /proc (Linux; elsewhere only this process is counted, and the report says so).
  let functionPids: () => number[] = () => [];
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss + functionPids().reduce((sum, pid) => sum + residentBytes(pid), 0))), 100);
  try {
    await synth({ outdir: assembly, jobs: [JOB], log });
    const cloud = await startLocalCloud({ port: 0, dataDir, assembly, log: () => undefined, warn: log, functionLogs: () => undefined });
    functionPids = () => cloud.runtime.processIds();
    try {
      // Enough records for ≥ 10 PutRecords calls of 500 (aggregates carry `aggregation` events each).
      const rawSample = Math.min(events, aggregation > 1 ? 500_000 : 50_000);
      const raws: number[] = [];
      for (let rep = 0; rep < RAW_REPETITIONS; rep++) raws.push(await rawPutRate(cloud, rawSample, aggregation, rep));
      log(`  raw PutRecords of the same records: ${raws.map((r) => Math.round(r).toLocaleString()).join(', ')} events/s`);
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
        rawEventsPerSec: { ...spreadOf(raws.map(Math.round)), repetitions: RAW_REPETITIONS },
        produceSeconds,
        totalSeconds,
        eventsPerSec: Math.round(events / totalSeconds),
        ratioToRaw: spreadOf(raws.map((raw) => events / totalSeconds / raw)),
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

/** Resident set of a process in bytes (VmRSS of /proc/<pid>/status); 0 where /proc is absent or the process is gone. */
function residentBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
