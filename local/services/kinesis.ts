// Kinesis Data Streams in the local cloud: kinesalite, called in-process, behind a thin front
// that counts requests and records, and injects throttling (whole-request
// ProvisionedThroughputExceededException, or PutRecords partial failures like real Kinesis).
// JSON (the SDKs) and CBOR (the Java SDK/KCL) content types both pass through untouched. Tags,
// server-side encryption and the stream mode, which kinesalite does not keep, are kept by
// kinesis-settings.ts (JSON clients).
import { createDecipheriv } from 'node:crypto';
import { ITERATOR_PWD_IV, ITERATOR_PWD_KEY } from 'kinesalite/db';
import { crashPoint } from '../crash-points';
import type { EmbeddedBackend } from './embedded';
import { CONSUMER_OPERATIONS, StreamConsumers } from './kinesis-consumers';
import { StreamSettings } from './kinesis-settings';
import { errorType, header, isRecord, jsonError, requestId } from './http';
import type { ServiceRequest, ServiceResponse } from './http';
import type { RecordSelector, ServiceFaults } from './service-faults';
import type { StatsRecorder } from './stats';

const THROTTLED = 'ProvisionedThroughputExceededException';

/** Minimal CBOR encoding of a string→string map (error bodies for CBOR clients). */
function cborStringMap(map: Record<string, string>): Buffer {
  const head = (major: number, length: number): Buffer => {
    if (length < 24) return Buffer.from([(major << 5) | length]);
    if (length < 256) return Buffer.from([(major << 5) | 24, length]);
    const b = Buffer.alloc(3);
    b[0] = (major << 5) | 25;
    b.writeUInt16BE(length, 1);
    return b;
  };
  const text = (s: string): Buffer => {
    const bytes = Buffer.from(s, 'utf8');
    return Buffer.concat([head(3, bytes.length), bytes]);
  };
  const entries = Object.entries(map);
  return Buffer.concat([head(5, entries.length), ...entries.flatMap(([k, v]) => [text(k), text(v)])]);
}

/** The stream a kinesalite shard iterator points into (it is AES-encrypted with a fixed key). */
export function streamOfShardIterator(iterator: string): string | undefined {
  try {
    const buffer = Buffer.from(iterator, 'base64');
    const decipher = createDecipheriv('aes-256-cbc', ITERATOR_PWD_KEY, ITERATOR_PWD_IV);
    const plain = Buffer.concat([decipher.update(buffer.subarray(8)), decipher.final()]).toString('utf8');
    return plain.split('/')[1];
  } catch {
    return undefined;
  }
}

function streamOf(operation: string, data: Record<string, unknown>): string | undefined {
  if (typeof data.StreamName === 'string') return data.StreamName;
  if (typeof data.StreamARN === 'string') return data.StreamARN;
  if (operation === 'GetRecords' && typeof data.ShardIterator === 'string') return streamOfShardIterator(data.ShardIterator);
  return undefined;
}

/** Counts occurrences of a byte pattern (records in a GetRecords response, without parsing 10 MB of JSON). */
function countOccurrences(haystack: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

const SEQUENCE_FIELD = Buffer.from('"SequenceNumber":"');

/** Decoded size of a base64 string, without decoding it. */
function base64Bytes(data: string): number {
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return Math.floor((data.length * 3) / 4) - padding;
}

/** Operations whose answer (or part of it) comes from the stream settings, not kinesalite alone. */
const SETTINGS_OPERATIONS = new Set(['CreateStream', 'AddTagsToStream', 'RemoveTagsFromStream', 'ListTagsForStream', 'StartStreamEncryption', 'StopStreamEncryption']);

export class KinesisService {
  private readonly settings: StreamSettings;
  /** Enhanced fan-out: stream consumers and the push subscriptions of event source mappings on them. */
  readonly consumers = new StreamConsumers();

  constructor(
    private readonly backend: EmbeddedBackend,
    private readonly faults: ServiceFaults,
    private readonly stats: StatsRecorder,
    private readonly accountId: string,
  ) {
    this.settings = new StreamSettings(backend);
  }

  async handle(req: ServiceRequest, operation: string): Promise<ServiceResponse> {
    this.stats.request('kinesis', operation);
    const contentType = (header(req, 'content-type') ?? '').split(';')[0]?.trim() ?? '';
    const isJson = contentType !== 'application/x-amz-cbor-1.1';
    const needsBody = isJson && (operation === 'PutRecords' || operation === 'PutRecord' || SETTINGS_OPERATIONS.has(operation) || CONSUMER_OPERATIONS.has(operation) || this.faults.kinesisArmed);
    let data: Record<string, unknown> | undefined;
    if (needsBody) {
      try {
        const parsed: unknown = JSON.parse(req.body.toString('utf8'));
        if (isRecord(parsed)) data = parsed;
      } catch {
        // kinesalite answers SerializationException itself
      }
    }

    if (this.faults.kinesisArmed) {
      const stream = data ? streamOf(operation, data) : undefined;
      const decision = this.faults.takeKinesis(operation, stream);
      if (decision?.kind === 'request') return this.throttled(contentType, stream);
      if (decision?.kind === 'records' && data && Array.isArray(data.Records)) return this.partialPutRecords(req, contentType, data, data.Records, decision.selector, stream);
    }

    if (CONSUMER_OPERATIONS.has(operation)) {
      const answer = data ? this.consumers.handle(operation, data) : jsonError('SerializationException', 'consumer operations take a JSON body');
      if (answer.status >= 400) this.stats.error('kinesis', errorType(Buffer.from(String(answer.body ?? ''))));
      return answer;
    }
    if (data && SETTINGS_OPERATIONS.has(operation)) {
      const answer = await this.settings.handle(operation, data);
      if (answer) {
        if (answer.status >= 400) this.stats.error('kinesis', errorType(Buffer.from(String(answer.body ?? ''))));
        return answer;
      }
    }
    const response = await this.backend.dispatch(req.method, '/', req.headers, req.body);
    if (isJson && (operation === 'DescribeStream' || operation === 'DescribeStreamSummary')) {
      this.account(operation, response.status, response.body, data);
      return this.settings.describe(operation, response);
    }
    if (operation === 'PutRecords' && response.status === 200) crashPoint('kinesis.put-records.stored', () => (data ? streamOf(operation, data) : undefined));
    if ((operation === 'PutRecords' || operation === 'PutRecord') && response.status === 200) this.consumers.stored(data ? streamOf(operation, data) : undefined);
    this.account(operation, response.status, response.body, data);
    return { status: response.status, headers: response.headers, body: response.body };
  }

  private account(operation: string, status: number, body: Buffer, data: Record<string, unknown> | undefined): void {
    if (status >= 400) {
      this.stats.error('kinesis', errorType(body));
      return;
    }
    const live = this.stats.live.kinesis;
    if (operation === 'PutRecords' && data && Array.isArray(data.Records)) {
      let failed = 0;
      try {
        const parsed = JSON.parse(body.toString('utf8')) as { FailedRecordCount?: number };
        failed = parsed.FailedRecordCount ?? 0;
      } catch {
        // CBOR or unexpected: count all as written
      }
      const bytesBefore = live.bytesPut;
      live.recordsPut += data.Records.length - failed;
      for (const r of data.Records) if (isRecord(r) && typeof r.Data === 'string') live.bytesPut += base64Bytes(r.Data);
      this.stats.kinesisPut(streamOf(operation, data), data.Records.length - failed, live.bytesPut - bytesBefore);
    } else if (operation === 'PutRecord') {
      live.recordsPut++;
      if (data && typeof data.Data === 'string') live.bytesPut += base64Bytes(data.Data);
      if (data) this.stats.kinesisPut(streamOf(operation, data), 1, typeof data.Data === 'string' ? base64Bytes(data.Data) : 0);
    } else if (operation === 'GetRecords') {
      live.recordsRead += countOccurrences(body, SEQUENCE_FIELD);
    }
  }

  private throttled(contentType: string, stream: string | undefined): ServiceResponse {
    this.stats.error('kinesis', THROTTLED);
    const message = `Rate exceeded for shard shardId-000000000000 in stream ${stream ?? 'unknown'} under account ${this.accountId}.`;
    const cbor = contentType === 'application/x-amz-cbor-1.1';
    return {
      status: 400,
      headers: { 'content-type': cbor ? contentType : 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId(), 'x-amzn-errortype': THROTTLED },
      body: cbor ? cborStringMap({ __type: THROTTLED, message }) : JSON.stringify({ __type: THROTTLED, message }),
    };
  }

  /** PutRecords with some records throttled: the others are written, results merged in order. */
  private async partialPutRecords(
    req: ServiceRequest,
    contentType: string,
    data: Record<string, unknown>,
    records: unknown[],
    selector: RecordSelector,
    stream: string | undefined,
  ): Promise<ServiceResponse> {
    const failing = records.map((_, i) => selector(i));
    const kept = records.filter((_, i) => !failing[i]);
    const failedCount = records.length - kept.length;
    this.faults.recordFired('throttleKinesis', stream ?? '*', 'PutRecords', failedCount);
    let written: { SequenceNumber?: string; ShardId?: string; ErrorCode?: string; ErrorMessage?: string }[] = [];
    let backendFailed = 0;
    if (kept.length > 0) {
      const body = Buffer.from(JSON.stringify({ ...data, Records: kept }));
      const response = await this.backend.dispatch(req.method, '/', req.headers, body);
      if (response.status !== 200) {
        this.stats.error('kinesis', errorType(response.body));
        return { status: response.status, headers: response.headers, body: response.body };
      }
      const parsed = JSON.parse(response.body.toString('utf8')) as { Records: typeof written; FailedRecordCount?: number };
      written = parsed.Records;
      backendFailed = parsed.FailedRecordCount ?? 0;
    }
    let next = 0;
    const merged = records.map((_, i) =>
      failing[i]
        ? { ErrorCode: THROTTLED, ErrorMessage: `Rate exceeded for shard in stream ${stream ?? 'unknown'} under account ${this.accountId}.` }
        : (written[next++] ?? {}),
    );
    if (kept.length > backendFailed) this.consumers.stored(stream);
    const live = this.stats.live.kinesis;
    live.recordsPut += kept.length - backendFailed;
    this.stats.kinesisPut(stream, kept.length - backendFailed, 0);
    return {
      status: 200,
      headers: { 'content-type': contentType || 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId() },
      body: JSON.stringify({ FailedRecordCount: failedCount + backendFailed, Records: merged }),
    };
  }
}
