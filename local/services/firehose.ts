// The local cloud's Amazon Data Firehose: DirectPut delivery streams to S3, speaking the real JSON
// protocol (Firehose_20150804.*), with what Riffle's stack relies on and LocalStack skips:
// buffering by size and interval per partition, prefix expressions, dynamic partitioning with JQ
// (MetadataExtraction), record de-aggregation, the delimiter processor, the error output prefix
// (records whose partition keys cannot be extracted, as `partitioning-failed`), GZIP, and AWS's
// object naming. Unsupported settings (Lambda processors, format conversion, other destinations)
// are rejected at CreateDeliveryStream so a stack fails at deploy instead of behaving differently.
//
// Objects go to an ObjectSink (the local S3, written directly: atomic, no HTTP hop). Delivery
// stream definitions persist in `stateFile`; buffers are flushed by stop(), never persisted.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { compileJq, JqRuntimeError, JqUnsupportedError } from './jq';
import type { JqProgram, JqValue } from './jq';
import {
  compilePrefix,
  effectiveDataPrefix,
  effectiveErrorPrefix,
  objectName,
  PrefixError,
  renderPrefix,
} from './firehose-prefix';
import type { CompiledPrefix } from './firehose-prefix';
import { isRecord, jsonError, jsonResponse, parseJsonObject } from './http';
import type { ServiceResponse } from './http';
import type { RecordSelector } from './service-faults';

const gzip = promisify(gzipCallback);

/** Where delivered objects go: the local S3 in the server, an in-memory map in unit tests. */
export interface ObjectSink {
  putObject(bucket: string, key: string, body: Buffer, options: { readonly contentType?: string }): Promise<unknown>;
}

export interface FirehoseLogger {
  warn(message: string): void;
}

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
  /** Clock for arrival timestamps (tests). */
  readonly now?: () => number;
  /** Asked at each PutRecordBatch which records to fail (the server's ServiceFaults). */
  readonly faults?: { takeFirehose(stream: string): RecordSelector | undefined; recordFired?(kind: 'failFirehoseRecords', target: string, operation: string, records: number): void };
  readonly logger?: FirehoseLogger;
}

/** A configuration AWS would reject or the emulator cannot honour (→ InvalidArgumentException). */
export class FirehoseConfigError extends Error {
  override readonly name = 'FirehoseConfigError';
}

class FirehoseApiError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export interface DeliveryStreamStats {
  recordsIn: number;
  bytesIn: number;
  /** Records answered with an ErrorCode because of an injected fault (never buffered). */
  recordsFailedByFault: number;
  recordsDelivered: number;
  objectsWritten: number;
  /** Bytes written to S3 (after compression). */
  bytesWritten: number;
  errorRecords: number;
  errorObjects: number;
  /** Objects that could not be written after retries (their records are lost; logged). */
  deliveryFailures: number;
}

export type FirehoseStats = DeliveryStreamStats & { streams: Record<string, DeliveryStreamStats> };

interface Deaggregation {
  readonly kind: 'JSON' | 'DELIMITED';
  readonly delimiter?: Buffer;
}

interface StreamConfig {
  readonly bucket: string;
  readonly dataPrefix: CompiledPrefix;
  readonly errorPrefix: CompiledPrefix;
  readonly intervalSeconds: number;
  readonly sizeBytes: number;
  readonly gzip: boolean;
  readonly extension: string;
  readonly dynamicPartitioning: boolean;
  readonly jq?: JqProgram;
  readonly appendDelimiter?: Buffer;
  readonly deaggregation?: Deaggregation;
}

interface PartitionBuffer {
  readonly id: string;
  readonly kind: 'data' | 'error';
  readonly partitionKeys?: Readonly<Record<string, string>>;
  readonly errorType?: string;
  readonly chunks: Buffer[];
  bytes: number;
  records: number;
  readonly oldestArrival: number;
  timer?: NodeJS.Timeout;
}

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
  readonly buffers: Map<string, PartitionBuffer>;
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
const PARTITIONING_FAILED = 'partitioning-failed';
const RETRY_DELAYS_MS = [200, 500, 1_000, 2_000, 4_000];

function emptyStats(): DeliveryStreamStats {
  return { recordsIn: 0, bytesIn: 0, recordsFailedByFault: 0, recordsDelivered: 0, objectsWritten: 0, bytesWritten: 0, errorRecords: 0, errorObjects: 0, deliveryFailures: 0 };
}

// ---- configuration ---------------------------------------------------------------------------------

function num(value: unknown, what: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new FirehoseConfigError(`${what} must be a number between ${min} and ${max}, got ${JSON.stringify(value)}`);
  return n;
}

function bool(value: unknown): boolean {
  return value === true || value === 'true';
}

function str(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new FirehoseConfigError(`${what} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function processorParameters(processor: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  const params = processor.Parameters;
  if (params === undefined) return out;
  if (!Array.isArray(params)) throw new FirehoseConfigError('ProcessingConfiguration.Processors[].Parameters must be a list');
  for (const p of params) {
    if (!isRecord(p)) continue;
    const name = str(p.ParameterName, 'ParameterName');
    const value = p.ParameterValue;
    if (name) out.set(name, typeof value === 'string' ? value : JSON.stringify(value));
  }
  return out;
}

/** Firehose takes delimiters base64-encoded; accept the common literal `\n` too. */
function decodeDelimiter(value: string | undefined, fallback: string): Buffer {
  if (value === undefined) return Buffer.from(fallback);
  if (value === '\\n' || value === '\n') return Buffer.from('\n');
  const decoded = Buffer.from(value, 'base64');
  if (decoded.length === 0 || decoded.toString('base64').replace(/=+$/, '') !== value.replace(/=+$/, '')) {
    throw new FirehoseConfigError(`Delimiter must be base64-encoded (e.g. "Cg==" for a newline), got ${JSON.stringify(value)}`);
  }
  return decoded;
}

/**
 * Validates a CreateDeliveryStream input (API or CloudFormation `AWS::KinesisFirehose::DeliveryStream`
 * properties: same field names) and compiles what delivery needs.
 */
export function compileStreamConfig(input: Record<string, unknown>): StreamConfig {
  const type = str(input.DeliveryStreamType, 'DeliveryStreamType') ?? 'DirectPut';
  if (type !== 'DirectPut') {
    throw new FirehoseConfigError(`DeliveryStreamType ${type} is not supported by the local cloud (DirectPut only: producers call PutRecord/PutRecordBatch)`);
  }
  for (const other of [
    'RedshiftDestinationConfiguration',
    'ElasticsearchDestinationConfiguration',
    'AmazonopensearchserviceDestinationConfiguration',
    'AmazonOpenSearchServerlessDestinationConfiguration',
    'SplunkDestinationConfiguration',
    'HttpEndpointDestinationConfiguration',
    'SnowflakeDestinationConfiguration',
    'IcebergDestinationConfiguration',
  ]) {
    if (input[other] !== undefined) throw new FirehoseConfigError(`${other} is not supported by the local cloud (S3 destinations only)`);
  }
  const extended = input.ExtendedS3DestinationConfiguration;
  const plain = input.S3DestinationConfiguration;
  const dest = isRecord(extended) ? extended : isRecord(plain) ? plain : undefined;
  if (!dest) throw new FirehoseConfigError('a destination is required: ExtendedS3DestinationConfiguration or S3DestinationConfiguration');

  const bucketArn = str(dest.BucketARN, 'BucketARN') ?? '';
  const bucketMatch = /^arn:[^:]+:s3:::([A-Za-z0-9.\-_]{1,255})$/.exec(bucketArn);
  if (!bucketMatch?.[1]) throw new FirehoseConfigError(`BucketARN must look like arn:aws:s3:::bucket, got ${JSON.stringify(bucketArn)}`);

  const hints = isRecord(dest.BufferingHints) ? dest.BufferingHints : {};
  const intervalSeconds = num(hints.IntervalInSeconds, 'BufferingHints.IntervalInSeconds', 0, 900, 300);
  const sizeMb = num(hints.SizeInMBs, 'BufferingHints.SizeInMBs', 1, 128, 5);

  const compressionFormat = str(dest.CompressionFormat, 'CompressionFormat') ?? 'UNCOMPRESSED';
  const compression = compressionFormat.toUpperCase();
  if (compression !== 'UNCOMPRESSED' && compression !== 'GZIP') {
    throw new FirehoseConfigError(`CompressionFormat ${compressionFormat} is not supported by the local cloud (UNCOMPRESSED or GZIP)`);
  }
  const fileExtension = str(dest.FileExtension, 'FileExtension');
  if (fileExtension !== undefined && fileExtension !== '' && !/^\.[0-9a-z!\-_.*'()]+$/.test(fileExtension)) {
    throw new FirehoseConfigError(`FileExtension must start with "." and use [0-9a-z!-_.*'()], got ${JSON.stringify(fileExtension)}`);
  }
  const timeZone = str(dest.CustomTimeZone, 'CustomTimeZone');
  if (timeZone && timeZone !== 'UTC') throw new FirehoseConfigError(`CustomTimeZone ${timeZone} is not supported by the local cloud (UTC only)`);
  if (isRecord(dest.DataFormatConversionConfiguration) && bool(dest.DataFormatConversionConfiguration.Enabled ?? true)) {
    throw new FirehoseConfigError('DataFormatConversionConfiguration (Parquet/ORC) is not supported by the local cloud');
  }
  if ((str(dest.S3BackupMode, 'S3BackupMode') ?? 'Disabled') !== 'Disabled') {
    throw new FirehoseConfigError('S3BackupMode Enabled is not supported by the local cloud');
  }

  const dynamicPartitioning = isRecord(dest.DynamicPartitioningConfiguration) && bool(dest.DynamicPartitioningConfiguration.Enabled);

  let jq: JqProgram | undefined;
  let appendDelimiter: Buffer | undefined;
  let deaggregation: Deaggregation | undefined;
  const processing = isRecord(dest.ProcessingConfiguration) ? dest.ProcessingConfiguration : undefined;
  if (processing && bool(processing.Enabled ?? true) && processing.Processors !== undefined) {
    if (!Array.isArray(processing.Processors)) throw new FirehoseConfigError('ProcessingConfiguration.Processors must be a list');
    for (const processor of processing.Processors) {
      if (!isRecord(processor)) continue;
      const params = processorParameters(processor);
      const processorType = str(processor.Type, 'Processor Type');
      switch (processorType) {
        case 'MetadataExtraction': {
          const engine = params.get('JsonParsingEngine') ?? 'JQ-1.6';
          if (engine !== 'JQ-1.6') throw new FirehoseConfigError(`JsonParsingEngine must be JQ-1.6, got ${JSON.stringify(engine)}`);
          const query = params.get('MetadataExtractionQuery');
          if (!query) throw new FirehoseConfigError('MetadataExtraction needs a MetadataExtractionQuery parameter');
          try {
            jq = compileJq(query);
          } catch (err) {
            if (err instanceof JqUnsupportedError) throw new FirehoseConfigError(`MetadataExtractionQuery: ${err.message}`);
            throw err;
          }
          break;
        }
        case 'AppendDelimiterToRecord':
          appendDelimiter = decodeDelimiter(params.get('Delimiter'), '\n');
          break;
        case 'RecordDeAggregation': {
          const subType = params.get('SubRecordType') ?? 'JSON';
          if (subType === 'JSON') deaggregation = { kind: 'JSON' };
          else if (subType === 'DELIMITED') deaggregation = { kind: 'DELIMITED', delimiter: decodeDelimiter(params.get('Delimiter'), '\n') };
          else throw new FirehoseConfigError(`RecordDeAggregation SubRecordType must be JSON or DELIMITED, got ${JSON.stringify(subType)}`);
          break;
        }
        default:
          throw new FirehoseConfigError(
            `processor type ${JSON.stringify(processorType)} is not supported by the local cloud ` +
              `(supported: MetadataExtraction with JQ-1.6, AppendDelimiterToRecord, RecordDeAggregation; Lambda processors do not run locally)`,
          );
      }
    }
  }

  let rawPrefix: CompiledPrefix;
  let rawErrorPrefix: CompiledPrefix;
  try {
    rawPrefix = compilePrefix(str(dest.Prefix, 'Prefix') ?? '', 'Prefix');
    rawErrorPrefix = compilePrefix(str(dest.ErrorOutputPrefix, 'ErrorOutputPrefix') ?? '', 'ErrorOutputPrefix');
  } catch (err) {
    if (err instanceof PrefixError) throw new FirehoseConfigError(err.message);
    throw err;
  }
  // AWS's semantic rules for prefixes (https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html).
  if (rawPrefix.usesErrorOutputType) throw new FirehoseConfigError('Prefix cannot contain !{firehose:error-output-type} (it belongs in ErrorOutputPrefix)');
  if (rawErrorPrefix.queryKeys.length > 0) throw new FirehoseConfigError('ErrorOutputPrefix cannot contain !{partitionKeyFromQuery:…} expressions');
  if (rawPrefix.hasExpressions && !rawErrorPrefix.source) {
    throw new FirehoseConfigError('ErrorOutputPrefix cannot be null or empty when Prefix contains expressions');
  }
  if (rawErrorPrefix.hasExpressions && !rawErrorPrefix.usesErrorOutputType) {
    throw new FirehoseConfigError('ErrorOutputPrefix with expressions must contain !{firehose:error-output-type}');
  }
  if (dynamicPartitioning) {
    if (!rawErrorPrefix.source) throw new FirehoseConfigError('ErrorOutputPrefix is required when dynamic partitioning is enabled');
    if (rawPrefix.queryKeys.length === 0) {
      throw new FirehoseConfigError('dynamic partitioning is enabled but Prefix has no !{partitionKeyFromQuery:…} expression');
    }
    if (!jq) throw new FirehoseConfigError('Prefix uses !{partitionKeyFromQuery:…} but no MetadataExtraction processor (JQ) is configured');
    const produced = jq.objectKeys;
    if (produced) {
      for (const key of rawPrefix.queryKeys) {
        if (!produced.includes(key)) throw new FirehoseConfigError(`Prefix uses !{partitionKeyFromQuery:${key}} but the MetadataExtractionQuery ${JSON.stringify(jq.source)} does not produce "${key}"`);
      }
    }
  } else {
    if (rawPrefix.queryKeys.length > 0) throw new FirehoseConfigError('Prefix uses !{partitionKeyFromQuery:…} but DynamicPartitioningConfiguration is not enabled');
    if (jq) throw new FirehoseConfigError('MetadataExtraction requires DynamicPartitioningConfiguration.Enabled');
  }

  return {
    bucket: bucketMatch[1],
    dataPrefix: effectiveDataPrefix(rawPrefix),
    errorPrefix: effectiveErrorPrefix(rawErrorPrefix),
    intervalSeconds,
    sizeBytes: sizeMb * 1024 * 1024,
    gzip: compression === 'GZIP',
    // AWS appends the compression's extension unless FileExtension overrides it.
    extension: fileExtension ?? (compression === 'GZIP' ? '.gz' : ''),
    dynamicPartitioning,
    ...(jq ? { jq } : {}),
    ...(appendDelimiter ? { appendDelimiter } : {}),
    ...(deaggregation ? { deaggregation } : {}),
  };
}

/** Splits concatenated JSON documents (`{..}{..}` or newline-separated), like RecordDeAggregation/JSON. */
export function splitJsonRecords(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      if (start < 0) start = i;
    } else if (c === 0x7b || c === 0x5b) {
      if (depth === 0 && start < 0) start = i;
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0 && start >= 0) {
        out.push(data.subarray(start, i + 1));
        start = -1;
      }
    } else if (depth === 0 && c !== undefined && c > 0x20 && start < 0) {
      start = i; // a scalar document; runs to the next whitespace
      let j = i;
      while (j < data.length && (data[j] ?? 0) > 0x20) j++;
      out.push(data.subarray(start, j));
      start = -1;
      i = j;
    }
  }
  if (depth !== 0 || start >= 0) throw new FirehoseApiError('InvalidArgumentException', 'record is not a sequence of complete JSON documents');
  return out;
}

function splitDelimited(data: Buffer, delimiter: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  for (let i = data.indexOf(delimiter, pos); i >= 0; i = data.indexOf(delimiter, pos)) {
    if (i > pos) out.push(data.subarray(pos, i));
    pos = i + delimiter.length;
  }
  if (pos < data.length) out.push(data.subarray(pos));
  return out;
}

function partitionValue(value: JqValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

// ---- the emulator ------------------------------------------------------------------------------------

export class FirehoseEmulator {
  private readonly streams = new Map<string, DeliveryStream>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly timeScale: number;
  private readonly now: () => number;
  private readonly logger: FirehoseLogger;
  private readonly totals: DeliveryStreamStats = emptyStats();
  private stopping = false;

  constructor(private readonly options: FirehoseEmulatorOptions) {
    this.timeScale = options.timeScale ?? 1;
    if (!(this.timeScale >= 0)) throw new Error(`timeScale must be >= 0, got ${this.timeScale}`);
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? { warn: (m) => console.warn(`[riffle local firehose] ${m}`) };
    this.load();
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
    const stream = this.require(name);
    // Deliver what was accepted rather than drop it (AWS may lose buffered data; locally that only confuses).
    const flushed = this.flushStream(stream);
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
  putRecords(name: string, records: readonly Buffer[]): void {
    const stream = this.require(name);
    for (const record of records) this.accept(stream, record, this.now());
  }

  /** Delivers every buffered partition now and waits until all objects are written. */
  async flushAll(): Promise<void> {
    for (const stream of this.streams.values()) void this.flushStream(stream);
    await this.drain();
  }

  /** Flushes, then refuses further records. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.flushAll();
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
    let n = 0;
    for (const s of this.streams.values()) for (const b of s.buffers.values()) n += b.records;
    return n;
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
        return jsonResponse(this.putRecordApi(data));
      case 'PutRecordBatch':
        return jsonResponse(this.putRecordBatchApi(data));
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

  private putRecordApi(data: Record<string, unknown>): Record<string, unknown> {
    this.checkOpen();
    const stream = this.require(this.nameOf(data));
    const record = this.decodeRecord(data.Record, -1);
    this.accept(stream, record, this.now());
    return { RecordId: recordId(), Encrypted: false };
  }

  private putRecordBatchApi(data: Record<string, unknown>): Record<string, unknown> {
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
    const responses = buffers.map((buffer, i) => {
      if (failing?.(i)) {
        failed++;
        return { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'Slow down.' };
      }
      this.accept(stream, buffer, arrival);
      return { RecordId: recordId() };
    });
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
    await this.flushStream(stream);
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
      DeliveryStreamEncryptionConfiguration: { Status: 'DISABLED' },
      DeliveryStreamType: stream.type,
      VersionId: String(stream.version),
      CreateTimestamp: stream.createdAt / 1000,
      ...(stream.lastUpdatedAt ? { LastUpdateTimestamp: stream.lastUpdatedAt / 1000 } : {}),
      Destinations: [destination],
      HasMoreDestinations: false,
    };
  }

  // ---- buffering ------------------------------------------------------------------------------------

  private register(name: string, input: Record<string, unknown>, config: StreamConfig, version: number, createdAt: number, tags: Record<string, string>): DeliveryStream {
    const stream: DeliveryStream = {
      name,
      arn: `arn:aws:firehose:${this.options.region}:${this.options.accountId}:deliverystream/${name}`,
      type: 'DirectPut',
      createdAt,
      version,
      input,
      config,
      buffers: new Map(),
      tags,
      stats: emptyStats(),
    };
    this.streams.set(name, stream);
    return stream;
  }

  private accept(stream: DeliveryStream, record: Buffer, arrival: number): void {
    stream.stats.recordsIn++;
    stream.stats.bytesIn += record.length;
    this.totals.recordsIn++;
    this.totals.bytesIn += record.length;
    const config = stream.config;
    let subRecords: Buffer[];
    try {
      subRecords = !config.deaggregation
        ? [record]
        : config.deaggregation.kind === 'JSON'
          ? splitJsonRecords(record)
          : splitDelimited(record, config.deaggregation.delimiter ?? Buffer.from('\n'));
    } catch (err) {
      this.acceptError(stream, record, arrival, 'DynamicPartitioning.MetadataExtractionFailed', (err as Error).message);
      return;
    }
    for (const sub of subRecords) {
      let partitionKeys: Record<string, string> | undefined;
      if (config.dynamicPartitioning && config.jq) {
        const extracted = this.extractKeys(config, sub);
        if (typeof extracted === 'string') {
          this.acceptError(stream, sub, arrival, 'DynamicPartitioning.MetadataExtractionFailed', extracted);
          continue;
        }
        partitionKeys = extracted;
      }
      const payload = config.appendDelimiter ? Buffer.concat([sub, config.appendDelimiter]) : sub;
      const id = partitionKeys ? `d:${JSON.stringify(config.dataPrefix.queryKeys.map((k) => partitionKeys?.[k]))}` : 'd:';
      this.append(stream, id, { kind: 'data', ...(partitionKeys ? { partitionKeys } : {}) }, payload, arrival);
    }
  }

  /** Partition key values for a record, or the reason extraction failed. */
  private extractKeys(config: StreamConfig, record: Buffer): Record<string, string> | string {
    let parsed: JqValue;
    try {
      parsed = JSON.parse(record.toString('utf8')) as JqValue;
    } catch {
      return 'Non JSON record provided';
    }
    let result: JqValue;
    try {
      result = config.jq ? config.jq.evaluate(parsed) : null;
    } catch (err) {
      if (err instanceof JqRuntimeError) return `JQ query failed: ${err.message}`;
      throw err;
    }
    if (result === null || typeof result !== 'object' || Array.isArray(result)) return 'the JQ query did not produce an object';
    const keys: Record<string, string> = {};
    for (const key of config.dataPrefix.queryKeys) {
      const value = partitionValue(result[key]);
      if (value === undefined) return `partitionKeyFromQuery:${key} evaluated to ${JSON.stringify(result[key] ?? null)}; a partition key must be a string or number`;
      if (value === '') return `partitionKeyFromQuery:${key} evaluated to an empty string`;
      keys[key] = value;
    }
    return keys;
  }

  private acceptError(stream: DeliveryStream, raw: Buffer, arrival: number, errorCode: string, errorMessage: string): void {
    stream.stats.errorRecords++;
    this.totals.errorRecords++;
    const line = JSON.stringify({
      attemptsMade: 1,
      arrivalTimestamp: arrival,
      errorCode,
      errorMessage,
      attemptEndingTimestamp: this.now(),
      rawData: raw.toString('base64'),
      deliveryStreamARN: stream.arn,
    });
    this.append(stream, `e:${PARTITIONING_FAILED}`, { kind: 'error', errorType: PARTITIONING_FAILED }, Buffer.from(`${line}\n`), arrival);
  }

  private append(
    stream: DeliveryStream,
    id: string,
    shape: { kind: 'data' | 'error'; partitionKeys?: Record<string, string>; errorType?: string },
    payload: Buffer,
    arrival: number,
  ): void {
    let buffer = stream.buffers.get(id);
    if (!buffer) {
      buffer = { id, ...shape, chunks: [], bytes: 0, records: 0, oldestArrival: arrival };
      stream.buffers.set(id, buffer);
      const created = buffer;
      const delay = stream.config.intervalSeconds * 1000 * this.timeScale;
      // Interval 0 (zero buffering) still coalesces the records of one request.
      created.timer = delay === 0 ? setTimeout(() => this.flushBuffer(stream, created), 0) : setTimeout(() => this.flushBuffer(stream, created), delay);
      created.timer.unref();
    }
    buffer.chunks.push(payload);
    buffer.bytes += payload.length;
    buffer.records++;
    if (buffer.bytes >= stream.config.sizeBytes) this.flushBuffer(stream, buffer);
  }

  private flushStream(stream: DeliveryStream): Promise<void> {
    for (const buffer of [...stream.buffers.values()]) this.flushBuffer(stream, buffer);
    return this.drain();
  }

  private async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private flushBuffer(stream: DeliveryStream, buffer: PartitionBuffer): void {
    if (stream.buffers.get(buffer.id) !== buffer) return; // already flushed
    stream.buffers.delete(buffer.id);
    if (buffer.timer) clearTimeout(buffer.timer);
    const delivery = this.deliver(stream, buffer)
      .catch((err: Error) => {
        stream.stats.deliveryFailures++;
        this.totals.deliveryFailures++;
        this.logger.warn(`delivery for ${stream.name} failed: ${err.message}`);
      })
      .finally(() => this.inflight.delete(delivery));
    this.inflight.add(delivery);
  }

  private async deliver(stream: DeliveryStream, buffer: PartitionBuffer): Promise<void> {
    const config = stream.config;
    const raw = Buffer.concat(buffer.chunks, buffer.bytes);
    const body = config.gzip ? await gzip(raw) : raw;
    const prefix =
      buffer.kind === 'data'
        ? renderPrefix(config.dataPrefix, { timestampMs: buffer.oldestArrival, ...(buffer.partitionKeys ? { partitionKeys: buffer.partitionKeys } : {}) })
        : renderPrefix(config.errorPrefix, { timestampMs: buffer.oldestArrival, errorOutputType: buffer.errorType ?? PARTITIONING_FAILED });
    const key = prefix + objectName(stream.name, stream.version, buffer.oldestArrival, config.extension);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.options.sink.putObject(config.bucket, key, body, { contentType: 'application/octet-stream' });
        break;
      } catch (err) {
        const delay = RETRY_DELAYS_MS[attempt];
        if (delay === undefined || this.stopping) {
          stream.stats.deliveryFailures++;
          this.totals.deliveryFailures++;
          this.logger.warn(`could not deliver s3://${config.bucket}/${key} (${buffer.records} records) for ${stream.name}: ${(err as Error).message}`);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    const s = stream.stats;
    if (buffer.kind === 'data') {
      s.recordsDelivered += buffer.records;
      this.totals.recordsDelivered += buffer.records;
    } else {
      s.errorObjects++;
      this.totals.errorObjects++;
    }
    s.objectsWritten++;
    s.bytesWritten += body.length;
    this.totals.objectsWritten++;
    this.totals.bytesWritten += body.length;
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
    writeFileAtomicSync(file, JSON.stringify({ streams }, null, 2));
  }
}

function writeFileAtomicSync(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function recordId(): string {
  return randomBytes(42).toString('base64');
}
