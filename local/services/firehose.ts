// The local cloud's Amazon Data Firehose: DirectPut delivery streams to S3 speaking the real JSON
// protocol (Firehose_20150804.*), with what Riffle's stack relies on and LocalStack skips:
// buffering by size and interval per partition, prefix expressions, dynamic partitioning with JQ
// (MetadataExtraction), record de-aggregation, the delimiter processor, the error output prefix
// (records whose partition keys cannot be extracted, as `partitioning-failed`), GZIP, and AWS's
// object naming. This file is the API: the delivery stream registry (create, describe, update,
// tags, delete; definitions persisted in `stateFile`) and the JSON protocol with AWS's limits and
// error types. The parts:
//   firehose-config.ts   validating and compiling a stream's configuration
//   firehose-prefix.ts   prefix expressions and object names
//   firehose-records.ts  processors and routing of each record to a partition buffer
//   firehose-buffers.ts  buffering and delivery to S3 (an ObjectSink: the local S3, written directly)
//   firehose-journal.ts  the write-ahead journal that makes acknowledged records survive a crash
//
// Durability, like AWS's: records are in the journal (`<dir of stateFile>/journal/`, or
// `journalDir`) before PutRecord(Batch) answers, so a process killed at any instant loses none,
// and the next emulator on the same directory delivers them (each exactly once) as it starts.
// Default fsync policy 'commit': the answer also waits for an fsync of that write (requests in
// flight together share one), so an OS crash or power loss loses nothing acknowledged either.
// Without stateFile/journalDir (unit tests), buffers live in memory only.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FsyncPolicy } from '../durable/journal';
import { writeStateFileSync } from '../durable/state-file';
import { compileStreamConfig, FirehoseConfigError, num, str } from './firehose-config';
import type { StreamConfig } from './firehose-config';
import { BufferEngine, emptyStats } from './firehose-buffers';
import type { DeliveryStreamStats, FirehoseLogger, ObjectSink } from './firehose-buffers';
import { SegmentStore } from './firehose-journal';
import { routeRecord } from './firehose-records';
import type { RoutedRecord } from './firehose-records';
import { isRecord, jsonError, jsonResponse, parseJsonObject } from './http';
import type { ServiceResponse } from './http';
import type { RecordSelector } from './service-faults';
import { deliveryStreamEncryption } from './encryption';

export { compileStreamConfig, FirehoseConfigError } from './firehose-config';
export { splitJsonRecords } from './firehose-records';
export type { DeliveryStreamStats, FirehoseLogger, ObjectSink } from './firehose-buffers';

export interface FirehoseEmulatorOptions {
  readonly region: string;
  readonly accountId: string;
  readonly sink: ObjectSink;
  /**
   * Multiplies every stream's IntervalInSeconds (0.01 turns 60 s into 0.6 s) so tests and demos
   * need not wait for production buffering intervals. Default 1.
   */
  readonly timeScale?: number;
  /** JSON file persisting delivery stream definitions across restarts; none when omitted. */
  readonly stateFile?: string;
  /** Write-ahead journal directory. Default `journal/` next to stateFile; none without either. */
  readonly journalDir?: string;
  /** When an acknowledgement waits for an fsync (see local/durable/journal.ts). Default 'commit'. */
  readonly fsync?: FsyncPolicy;
  /** Clock for arrival timestamps (tests). */
  readonly now?: () => number;
  /** Asked at each PutRecordBatch which records to fail (the server's ServiceFaults). */
  readonly faults?: { takeFirehose(stream: string): RecordSelector | undefined; recordFired?(kind: 'failFirehoseRecords', target: string, operation: string, records: number): void };
  readonly logger?: FirehoseLogger;
}

class FirehoseApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export type FirehoseStats = DeliveryStreamStats & { streams: Record<string, DeliveryStreamStats> };

interface DeliveryStream {
  readonly name: string;
  readonly arn: string;
  readonly type: string;
  readonly createdAt: number;
  lastUpdatedAt?: number;
  version: number;
  /** The create input (API/CloudFormation shape), with UpdateDestination changes merged. */
  input: Record<string, unknown>;
  config: StreamConfig;
  tags: Record<string, string>;
  readonly stats: DeliveryStreamStats;
}

interface PersistedStream {
  readonly input: Record<string, unknown>;
  readonly version: number;
  readonly createdAt: number;
  readonly tags: Record<string, string>;
}

const MAX_RECORD_BYTES = 1_024_000; // 1,000 KiB
const MAX_BATCH_RECORDS = 500;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
const DESTINATION_ID = 'destinationId-000000000001';

export class FirehoseEmulator {
  private readonly streams = new Map<string, DeliveryStream>();
  private readonly timeScale: number;
  private readonly now: () => number;
  private readonly logger: FirehoseLogger;
  private readonly totals: DeliveryStreamStats = emptyStats();
  private readonly engine: BufferEngine;
  private stopping = false;

  constructor(private readonly options: FirehoseEmulatorOptions) {
    this.timeScale = options.timeScale ?? 1;
    if (!(this.timeScale >= 0)) throw new Error(`timeScale must be >= 0, got ${this.timeScale}`);
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? { warn: (m) => console.warn(`[riffle local firehose] ${m}`) };
    const journalDir = options.journalDir ?? (options.stateFile ? path.join(path.dirname(options.stateFile), 'journal') : undefined);
    this.engine = new BufferEngine({
      sink: options.sink,
      timeScale: this.timeScale,
      logger: this.logger,
      ...(journalDir ? { segments: new SegmentStore(journalDir, options.fsync ?? 'commit') } : {}),
      totals: this.totals,
      statsOf: (name) => this.streams.get(name)?.stats,
      conversionOf: (name) => this.streams.get(name)?.config.conversion,
    });
    this.load();
    // What a killed predecessor accepted goes out first (flushAll() and stop() wait for it).
    this.engine.recover();
  }

  // ---- programmatic API (the deployer, tests) -----------------------------------------------------

  /** CreateDeliveryStream from an API or CloudFormation-shaped input. Throws FirehoseConfigError. */
  createDeliveryStream(input: Record<string, unknown>): { DeliveryStreamARN: string } {
    const name = str(input.DeliveryStreamName, 'DeliveryStreamName');
    if (!name || !/^[a-zA-Z0-9_.-]{1,64}$/.test(name)) throw new FirehoseConfigError(`DeliveryStreamName must match [a-zA-Z0-9_.-]{1,64}, got ${JSON.stringify(name)}`);
    if (this.streams.has(name)) throw new FirehoseApiError('ResourceInUseException', `Firehose ${name} under accountId ${this.options.accountId} already exists`);
    const config = compileStreamConfig(input);
    const tags: Record<string, string> = {};
    if (Array.isArray(input.Tags)) for (const t of input.Tags) if (isRecord(t) && typeof t.Key === 'string') tags[t.Key] = typeof t.Value === 'string' ? t.Value : '';
    const stream = this.register(name, { ...input }, config, 1, this.now(), tags);
    this.save();
    return { DeliveryStreamARN: stream.arn };
  }

  deleteDeliveryStream(name: string): Promise<void> {
    this.require(name);
    // Deliver what was accepted rather than drop it (AWS may lose buffered data; locally that only confuses).
    const flushed = this.engine.flushStream(name);
    this.streams.delete(name);
    this.save();
    return flushed;
  }

  listDeliveryStreams(): string[] {
    return [...this.streams.keys()].sort();
  }

  hasDeliveryStream(name: string): boolean {
    return this.streams.has(name);
  }

  /** Accepts records as PutRecordBatch would (no fault injection, no size limits). */
  putRecords(name: string, records: readonly Buffer[]): Promise<void> {
    const stream = this.require(name);
    return this.accept(stream, records, this.now());
  }

  /** Delivers every buffered partition now and waits until all objects are written. */
  async flushAll(): Promise<void> {
    await this.engine.flushAll();
  }

  /** Flushes, then refuses further records. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.engine.stop();
  }

  stats(): FirehoseStats {
    const streams: Record<string, DeliveryStreamStats> = {};
    for (const s of this.streams.values()) streams[s.name] = { ...s.stats };
    return { ...this.totals, streams };
  }

  resetStats(): void {
    Object.assign(this.totals, emptyStats());
    for (const s of this.streams.values()) Object.assign(s.stats, emptyStats());
  }

  /** Records currently buffered (all streams), for progress displays and tests. */
  bufferedRecords(): number {
    return this.engine.bufferedRecords();
  }

  // ---- JSON protocol --------------------------------------------------------------------------------

  async handle(operation: string, body: Buffer): Promise<ServiceResponse> {
    const data = parseJsonObject(body);
    if (!data) return jsonError('SerializationException', 'the request body is not a JSON object');
    try {
      return await this.dispatch(operation, data);
    } catch (err) {
      if (err instanceof FirehoseApiError) return jsonError(err.type, err.message);
      if (err instanceof FirehoseConfigError) return jsonError('InvalidArgumentException', err.message);
      throw err;
    }
  }

  private async dispatch(operation: string, data: Record<string, unknown>): Promise<ServiceResponse> {
    switch (operation) {
      case 'CreateDeliveryStream':
        return jsonResponse(this.createDeliveryStream(data));
      case 'DeleteDeliveryStream':
        await this.deleteDeliveryStream(this.nameOf(data));
        return jsonResponse({});
      case 'DescribeDeliveryStream':
        return jsonResponse({ DeliveryStreamDescription: this.describe(this.require(this.nameOf(data))) });
      case 'ListDeliveryStreams': {
        const limit = num(data.Limit, 'Limit', 1, 10000, 10);
        const start = typeof data.ExclusiveStartDeliveryStreamName === 'string' ? data.ExclusiveStartDeliveryStreamName : '';
        const names = this.listDeliveryStreams().filter((n) => n > start);
        return jsonResponse({ DeliveryStreamNames: names.slice(0, limit), HasMoreDeliveryStreams: names.length > limit });
      }
      case 'PutRecord':
        return jsonResponse(await this.putRecordApi(data));
      case 'PutRecordBatch':
        return jsonResponse(await this.putRecordBatchApi(data));
      case 'UpdateDestination':
        return jsonResponse(await this.updateDestination(data));
      case 'TagDeliveryStream': {
        const stream = this.require(this.nameOf(data));
        if (Array.isArray(data.Tags)) for (const t of data.Tags) if (isRecord(t) && typeof t.Key === 'string') stream.tags[t.Key] = typeof t.Value === 'string' ? t.Value : '';
        this.save();
        return jsonResponse({});
      }
      case 'UntagDeliveryStream': {
        const stream = this.require(this.nameOf(data));
        if (Array.isArray(data.TagKeys)) for (const k of data.TagKeys) if (typeof k === 'string') delete stream.tags[k];
        this.save();
        return jsonResponse({});
      }
      case 'ListTagsForDeliveryStream': {
        const stream = this.require(this.nameOf(data));
        return jsonResponse({ Tags: Object.entries(stream.tags).map(([Key, Value]) => ({ Key, Value })), HasMoreTags: false });
      }
      default:
        return jsonError('UnknownOperationException', `the local cloud's Firehose does not implement ${operation}`);
    }
  }

  private nameOf(data: Record<string, unknown>): string {
    const name = data.DeliveryStreamName;
    if (typeof name !== 'string' || name === '') throw new FirehoseApiError('ValidationException', "1 validation error detected: Value null at 'deliveryStreamName' failed to satisfy constraint: Member must not be null");
    return name;
  }

  private require(name: string): DeliveryStream {
    const stream = this.streams.get(name);
    if (!stream) throw new FirehoseApiError('ResourceNotFoundException', `Firehose ${name} under account ${this.options.accountId} not found.`);
    return stream;
  }

  private decodeRecord(record: unknown, index: number): Buffer {
    const data = isRecord(record) ? record.Data : undefined;
    const where = index < 0 ? 'record.data' : `records.${index + 1}.member.data`;
    if (typeof data !== 'string') throw new FirehoseApiError('ValidationException', `1 validation error detected: Value null at '${where}' failed to satisfy constraint: Member must not be null`);
    const buffer = Buffer.from(data, 'base64');
    if (buffer.length > MAX_RECORD_BYTES) {
      throw new FirehoseApiError(
        'ValidationException',
        `1 validation error detected: Value at '${where}' failed to satisfy constraint: Member must have length less than or equal to ${MAX_RECORD_BYTES}`,
      );
    }
    return buffer;
  }

  private checkOpen(): void {
    if (this.stopping) throw new FirehoseApiError('ServiceUnavailableException', 'the local Firehose is shutting down');
  }

  private async putRecordApi(data: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.checkOpen();
    const stream = this.require(this.nameOf(data));
    const record = this.decodeRecord(data.Record, -1);
    await this.accept(stream, [record], this.now());
    return { RecordId: recordId(), Encrypted: false };
  }

  private async putRecordBatchApi(data: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.checkOpen();
    const stream = this.require(this.nameOf(data));
    const records = data.Records;
    if (!Array.isArray(records)) throw new FirehoseApiError('ValidationException', "1 validation error detected: Value null at 'records' failed to satisfy constraint: Member must not be null");
    if (records.length === 0 || records.length > MAX_BATCH_RECORDS) {
      throw new FirehoseApiError(
        'ValidationException',
        `1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length ${records.length === 0 ? 'greater than or equal to 1' : `less than or equal to ${MAX_BATCH_RECORDS}`}`,
      );
    }
    const buffers = records.map((r, i) => this.decodeRecord(r, i));
    const total = buffers.reduce((sum, b) => sum + b.length, 0);
    if (total > MAX_BATCH_BYTES) throw new FirehoseApiError('InvalidArgumentException', `Records size exceeds 4 MB limit (${total} bytes)`);

    const failing = this.options.faults?.takeFirehose(stream.name);
    const arrival = this.now();
    let failed = 0;
    const accepted: Buffer[] = [];
    const responses = buffers.map((buffer, i) => {
      if (failing?.(i)) {
        failed++;
        return { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' };
      }
      accepted.push(buffer);
      return { RecordId: recordId() };
    });
    // One journal write per partition buffer for the whole batch (group commit), before answering.
    await this.accept(stream, accepted, arrival);
    if (failing) {
      stream.stats.recordsFailedByFault += failed;
      this.totals.recordsFailedByFault += failed;
      this.options.faults?.recordFired?.('failFirehoseRecords', stream.name, 'PutRecordBatch', failed);
    }
    return { FailedPutCount: failed, Encrypted: false, RequestResponses: responses };
  }

  private async updateDestination(data: Record<string, unknown>): Promise<Record<string, unknown>> {
    const stream = this.require(this.nameOf(data));
    if (String(data.CurrentDeliveryStreamVersionId) !== String(stream.version)) {
      throw new FirehoseApiError('ConcurrentModificationException', `Firehose ${stream.name} version is ${stream.version}, not ${String(data.CurrentDeliveryStreamVersionId)}`);
    }
    const update = isRecord(data.ExtendedS3DestinationUpdate) ? data.ExtendedS3DestinationUpdate : isRecord(data.S3DestinationUpdate) ? data.S3DestinationUpdate : undefined;
    if (!update) throw new FirehoseApiError('InvalidArgumentException', 'UpdateDestination needs ExtendedS3DestinationUpdate or S3DestinationUpdate in the local cloud');
    const currentKey = isRecord(stream.input.ExtendedS3DestinationConfiguration) ? 'ExtendedS3DestinationConfiguration' : 'S3DestinationConfiguration';
    const current = stream.input[currentKey];
    const merged = { ...stream.input, [currentKey]: { ...(isRecord(current) ? current : {}), ...update } };
    const config = compileStreamConfig(merged);
    // Records accepted under the old configuration are delivered under it.
    await this.engine.flushStream(stream.name);
    stream.input = merged;
    stream.config = config;
    stream.version++;
    stream.lastUpdatedAt = this.now();
    this.save();
    return {};
  }

  private describe(stream: DeliveryStream): Record<string, unknown> {
    const input = stream.input;
    const extended = isRecord(input.ExtendedS3DestinationConfiguration) ? input.ExtendedS3DestinationConfiguration : undefined;
    const dest = extended ?? (isRecord(input.S3DestinationConfiguration) ? input.S3DestinationConfiguration : {});
    const c = stream.config;
    const common = {
      RoleARN: typeof dest.RoleARN === 'string' ? dest.RoleARN : `arn:aws:iam::${this.options.accountId}:role/firehose`,
      BucketARN: dest.BucketARN,
      Prefix: typeof dest.Prefix === 'string' ? dest.Prefix : '',
      ErrorOutputPrefix: typeof dest.ErrorOutputPrefix === 'string' ? dest.ErrorOutputPrefix : '',
      BufferingHints: { SizeInMBs: c.sizeBytes / (1024 * 1024), IntervalInSeconds: c.intervalSeconds },
      CompressionFormat: c.gzip ? 'GZIP' : 'UNCOMPRESSED',
      EncryptionConfiguration: { NoEncryptionConfig: 'NoEncryption' },
      CloudWatchLoggingOptions: { Enabled: false },
    };
    const destination: Record<string, unknown> = { DestinationId: DESTINATION_ID, S3DestinationDescription: common };
    if (extended) {
      destination.ExtendedS3DestinationDescription = {
        ...common,
        S3BackupMode: 'Disabled',
        ProcessingConfiguration: extended.ProcessingConfiguration ?? { Enabled: false, Processors: [] },
        DynamicPartitioningConfiguration: extended.DynamicPartitioningConfiguration ?? { Enabled: false },
        ...(typeof extended.FileExtension === 'string' ? { FileExtension: extended.FileExtension } : {}),
        ...(typeof extended.CustomTimeZone === 'string' ? { CustomTimeZone: extended.CustomTimeZone } : {}),
      };
    }
    return {
      DeliveryStreamName: stream.name,
      DeliveryStreamARN: stream.arn,
      DeliveryStreamStatus: 'ACTIVE',
      DeliveryStreamEncryptionConfiguration: deliveryStreamEncryption(input, this.options.accountId, this.options.region),
      DeliveryStreamType: stream.type,
      VersionId: String(stream.version),
      CreateTimestamp: stream.createdAt / 1000,
      ...(stream.lastUpdatedAt ? { LastUpdateTimestamp: stream.lastUpdatedAt / 1000 } : {}),
      Destinations: [destination],
      HasMoreDestinations: false,
    };
  }

  // ---- streams and records ------------------------------------------------------------------------

  private register(name: string, input: Record<string, unknown>, config: StreamConfig, version: number, createdAt: number, tags: Record<string, string>): DeliveryStream {
    const stream: DeliveryStream = {
      name,
      arn: `arn:aws:firehose:${this.options.region}:${this.options.accountId}:deliverystream/${name}`,
      type: 'DirectPut',
      createdAt,
      version,
      input,
      config,
      tags,
      stats: emptyStats(),
    };
    this.streams.set(name, stream);
    return stream;
  }

  /**
   * Routes one request's records through the stream's processors into its buffers: one journal
   * write per partition buffer touched. Resolves when they may be acknowledged.
   */
  private accept(stream: DeliveryStream, records: readonly Buffer[], arrival: number): Promise<void> {
    const routed: RoutedRecord[] = [];
    const context = { arrival, now: this.now(), streamArn: stream.arn };
    for (const record of records) {
      stream.stats.recordsIn++;
      stream.stats.bytesIn += record.length;
      this.totals.recordsIn++;
      this.totals.bytesIn += record.length;
      routeRecord(stream.config, record, context, routed);
    }
    for (const r of routed) {
      if (r.kind !== 'error') continue;
      stream.stats.errorRecords++;
      this.totals.errorRecords++;
    }
    return this.engine.add(stream, routed, arrival);
  }

  // ---- persistence ----------------------------------------------------------------------------------

  private load(): void {
    const file = this.options.stateFile;
    if (!file) return;
    let persisted: PersistedStream[];
    try {
      persisted = (JSON.parse(readFileSync(file, 'utf8')) as { streams: PersistedStream[] }).streams;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.logger.warn(`ignoring unreadable delivery stream state ${file}: ${(err as Error).message}`);
      return;
    }
    for (const p of persisted) {
      const name = typeof p.input.DeliveryStreamName === 'string' ? p.input.DeliveryStreamName : undefined;
      if (!name) continue;
      try {
        this.register(name, p.input, compileStreamConfig(p.input), p.version, p.createdAt, p.tags ?? {});
      } catch (err) {
        this.logger.warn(`dropping persisted delivery stream ${name}: ${(err as Error).message}`);
      }
    }
  }

  private save(): void {
    const file = this.options.stateFile;
    if (!file) return;
    const streams: PersistedStream[] = [...this.streams.values()].map((s) => ({ input: s.input, version: s.version, createdAt: s.createdAt, tags: s.tags }));
    // Synchronous and rare (create/update/delete): keeps the file consistent without a write queue.
    writeStateFileSync(file, JSON.stringify({ streams }, null, 2));
  }
}

function recordId(): string {
  return randomBytes(42).toString('base64');
}
