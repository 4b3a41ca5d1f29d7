// The metrics AWS services publish about themselves, published by the embedded cloud from its own
// counters so that alarms, dashboards and the console read the same names on every target:
//   AWS/Lambda   {FunctionName}: Invocations, Errors, Duration, IteratorAge, ConcurrentExecutions
//   AWS/Kinesis  {StreamName}: IncomingRecords, IncomingBytes, GetRecords.Records,
//                GetRecords.IteratorAgeMilliseconds
//   AWS/Firehose {DeliveryStreamName}: IncomingRecords, IncomingBytes, DeliveryToS3.Records,
//                DeliveryToS3.Bytes
//   AWS/S3       {BucketName, FilterId}: PutRequests under the prefix of each of the bucket's
//                request-metrics filters (counted by listing the prefix, as objects appear)
// Sampled every few seconds; each sample carries the change since the previous one.
// Differences from AWS, by construction: Duration's per-sample min/max are the sample's mean;
// Throttles is never published (the local runtime queues instead of throttling).
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { LocalCloudWatch } from './index';

export interface FunctionCounters {
  invocations: number;
  errors: number;
  totalDurationMs: number;
  concurrent: number;
}
export interface MappingCounters {
  functionName: string;
  streamName: string;
  batches: number;
  records: number;
  iteratorAgeMs: number;
}
export interface ServiceCounters {
  kinesis: { streams: Record<string, { recordsPut: number; bytesPut: number }> };
  firehose: { streams: Record<string, { recordsIn: number; bytesIn: number; recordsDelivered: number; bytesWritten: number }> };
}

export interface ServiceMetricsSource {
  functions(): Record<string, FunctionCounters>;
  mappings(): readonly MappingCounters[];
  services(): ServiceCounters;
  readonly s3: Pick<S3Client, 'send'>;
}

export interface BucketFilter {
  readonly bucket: string;
  readonly id: string;
  readonly prefix: string;
}

type Snapshot = Map<string, number>;

export class ServiceMetricsPublisher {
  private previous: Snapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private filters: BucketFilter[] = [];
  private readonly seenObjects = new Map<string, Set<string>>();
  private sampling: Promise<void> | undefined;

  constructor(
    private readonly cw: LocalCloudWatch,
    private readonly source: ServiceMetricsSource,
    private readonly intervalMs = 5_000,
  ) {}

  /** S3 request-metrics filters to count PutRequests for (from the deployed buckets). */
  watch(filters: readonly BucketFilter[]): void {
    for (const f of filters) if (!this.filters.some((g) => g.bucket === f.bucket && g.id === f.id)) this.filters.push(f);
  }

  start(): void {
    if (this.timer) return;
    this.previous = this.counters();
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sampling;
  }

  /** Publishes what changed since the last sample (also called by the timer). */
  sample(nowMs = Date.now()): Promise<void> {
    this.sampling ??= this.run(nowMs).finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  private counters(): Snapshot {
    const c: Snapshot = new Map();
    for (const [fn, s] of Object.entries(this.source.functions())) {
      c.set(`fn:${fn}:invocations`, s.invocations);
      c.set(`fn:${fn}:errors`, s.errors);
      c.set(`fn:${fn}:duration`, s.totalDurationMs);
    }
    for (const m of this.source.mappings()) {
      c.set(`esm:${m.functionName}:${m.streamName}:batches`, m.batches);
      c.set(`esm:${m.functionName}:${m.streamName}:records`, m.records);
    }
    const services = this.source.services();
    for (const [name, s] of Object.entries(services.kinesis.streams)) {
      c.set(`ks:${name}:records`, s.recordsPut);
      c.set(`ks:${name}:bytes`, s.bytesPut);
    }
    for (const [name, s] of Object.entries(services.firehose.streams)) {
      c.set(`fh:${name}:in`, s.recordsIn);
      c.set(`fh:${name}:inBytes`, s.bytesIn);
      c.set(`fh:${name}:delivered`, s.recordsDelivered);
      c.set(`fh:${name}:deliveredBytes`, s.bytesWritten);
    }
    return c;
  }

  private async run(nowMs: number): Promise<void> {
    const now = this.counters();
    const before = this.previous ?? new Map<string, number>();
    this.previous = now;
    const delta = (key: string): number => Math.max(0, (now.get(key) ?? 0) - (before.get(key) ?? 0));
    const sum = (ns: string, name: string, dims: Record<string, string>, value: number, unit = 'Count') => {
      if (value > 0) this.cw.put(ns, name, dims, { sum: value, count: 1, min: value, max: value }, nowMs, unit);
    };

    for (const [fn, s] of Object.entries(this.source.functions())) {
      const dims = { FunctionName: fn };
      const invocations = delta(`fn:${fn}:invocations`);
      if (invocations > 0) {
        const errors = delta(`fn:${fn}:errors`);
        this.cw.put('AWS/Lambda', 'Invocations', dims, { sum: invocations, count: invocations, min: 1, max: 1 }, nowMs, 'Count');
        this.cw.put('AWS/Lambda', 'Errors', dims, { sum: errors, count: invocations, min: 0, max: errors > 0 ? 1 : 0 }, nowMs, 'Count');
        const mean = delta(`fn:${fn}:duration`) / invocations;
        this.cw.put('AWS/Lambda', 'Duration', dims, { sum: mean * invocations, count: invocations, min: mean, max: mean }, nowMs, 'Milliseconds');
      }
      if (s.concurrent > 0) this.cw.put('AWS/Lambda', 'ConcurrentExecutions', dims, s.concurrent, nowMs, 'Count');
    }
    const streamAge = new Map<string, number>();
    for (const m of this.source.mappings()) {
      const key = `esm:${m.functionName}:${m.streamName}`;
      const records = delta(`${key}:records`);
      sum('AWS/Kinesis', 'GetRecords.Records', { StreamName: m.streamName }, records);
      if (delta(`${key}:batches`) > 0 || records > 0) {
        this.cw.put('AWS/Lambda', 'IteratorAge', { FunctionName: m.functionName }, m.iteratorAgeMs, nowMs, 'Milliseconds');
        streamAge.set(m.streamName, Math.max(streamAge.get(m.streamName) ?? 0, m.iteratorAgeMs));
      }
    }
    for (const [stream, age] of streamAge) this.cw.put('AWS/Kinesis', 'GetRecords.IteratorAgeMilliseconds', { StreamName: stream }, age, nowMs, 'Milliseconds');
    const services = this.source.services();
    for (const name of Object.keys(services.kinesis.streams)) {
      sum('AWS/Kinesis', 'IncomingRecords', { StreamName: name }, delta(`ks:${name}:records`));
      sum('AWS/Kinesis', 'IncomingBytes', { StreamName: name }, delta(`ks:${name}:bytes`), 'Bytes');
    }
    for (const name of Object.keys(services.firehose.streams)) {
      const dims = { DeliveryStreamName: name };
      sum('AWS/Firehose', 'IncomingRecords', dims, delta(`fh:${name}:in`));
      sum('AWS/Firehose', 'IncomingBytes', dims, delta(`fh:${name}:inBytes`), 'Bytes');
      sum('AWS/Firehose', 'DeliveryToS3.Records', dims, delta(`fh:${name}:delivered`));
      sum('AWS/Firehose', 'DeliveryToS3.Bytes', dims, delta(`fh:${name}:deliveredBytes`), 'Bytes');
    }
    for (const f of this.filters) {
      const seen = this.seenObjects.get(`${f.bucket}/${f.id}`) ?? new Set<string>();
      this.seenObjects.set(`${f.bucket}/${f.id}`, seen);
      let fresh = 0;
      try {
        let token: string | undefined;
        do {
          const page = await this.source.s3.send(new ListObjectsV2Command({ Bucket: f.bucket, Prefix: f.prefix, ...(token ? { ContinuationToken: token } : {}) }));
          for (const o of page.Contents ?? []) {
            if (o.Key && !seen.has(o.Key)) {
              seen.add(o.Key);
              fresh++;
            }
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
      } catch {
        continue; // the bucket is being created or the cloud is stopping: count at the next sample
      }
      sum('AWS/S3', 'PutRequests', { BucketName: f.bucket, FilterId: f.id }, fresh);
    }
  }
}
