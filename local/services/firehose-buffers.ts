// Firehose's buffer engine: routed records collect in one buffer per (delivery stream, partition)
// until its size hint or interval is reached, then become one S3 object (GZIP if configured)
// under the prefix rendered for that partition, with AWS's object naming, written to an
// ObjectSink with retries. With a journal (firehose-journal.ts), each request's records are in
// their buffers' segments before add() returns, a segment is deleted only after its object is
// written, and recover() delivers whatever a killed process left: see that file for why this
// gives every acknowledged record exactly once in S3.
import { randomUUID } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { StreamConfig } from './firehose-config';
import { objectName, renderPrefix } from './firehose-prefix';
import type { Segment, SegmentHeader, SegmentStore } from './firehose-journal';
import { PARTITIONING_FAILED, type RoutedRecord } from './firehose-records';
import { parquetBody, type FormatConversion } from './format-conversion/parquet';

const gzip = promisify(gzipCallback);

/** Where delivered objects go: the local S3 in the server, an in-memory map in unit tests. Durable once putObject resolves. */
export interface ObjectSink {
  putObject(bucket: string, key: string, body: Buffer, options: { readonly contentType?: string }): Promise<unknown>;
}

export interface FirehoseLogger {
  warn(message: string): void;
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
  /** Objects that could not be written after retries (kept in the journal for the next start, or lost without one; logged). */
  deliveryFailures: number;
  /** Records a previous process accepted and this one delivered from its journal. */
  recordsRecovered: number;
}

export function emptyStats(): DeliveryStreamStats {
  return { recordsIn: 0, bytesIn: 0, recordsFailedByFault: 0, recordsDelivered: 0, objectsWritten: 0, bytesWritten: 0, errorRecords: 0, errorObjects: 0, deliveryFailures: 0, recordsRecovered: 0 };
}

/** What the engine needs of a delivery stream. */
export interface BufferedStream {
  readonly name: string;
  readonly version: number;
  readonly config: StreamConfig;
  readonly stats: DeliveryStreamStats;
}

/** An object in the making: its records and where it goes (fixed when the buffer opens). */
interface PartitionBuffer {
  readonly id: string;
  readonly stream: string;
  readonly kind: 'data' | 'error';
  readonly bucket: string;
  readonly key: string;
  readonly gzip: boolean;
  /** Data buffers of a stream that converts: the object is Parquet. */
  readonly conversion?: FormatConversion;
  readonly chunks: Buffer[];
  bytes: number;
  readonly segment?: Segment;
  timer?: NodeJS.Timeout;
}

export interface BufferEngineOptions {
  readonly sink: ObjectSink;
  /** Multiplies IntervalInSeconds. */
  readonly timeScale: number;
  readonly logger: FirehoseLogger;
  /** Write-ahead journal; without it buffers live in memory only. */
  readonly segments?: SegmentStore;
  /** Totals over all streams. */
  readonly totals: DeliveryStreamStats;
  /** A stream's counters, if it still exists (recovered segments may outlive their stream). */
  readonly statsOf: (stream: string) => DeliveryStreamStats | undefined;
  /** A stream's record format conversion, if it converts (recovered data segments are converted with it). */
  readonly conversionOf?: (stream: string) => FormatConversion | undefined;
}

const RETRY_DELAYS_MS = [200, 500, 1_000, 2_000, 4_000];

export class BufferEngine {
  private readonly streams = new Map<string, Map<string, PartitionBuffer>>();
  private readonly inflight = new Set<Promise<void>>();
  private stopping = false;

  constructor(private readonly options: BufferEngineOptions) {}

  /**
   * Buffers one request's routed records: each touched buffer journals its share with one write
   * before it holds it in memory. Resolves when those writes are durable per the fsync policy —
   * the moment the request may be acknowledged.
   */
  add(stream: BufferedStream, routed: readonly RoutedRecord[], arrival: number): Promise<void> {
    if (routed.length === 0) return Promise.resolve();
    const groups = new Map<string, RoutedRecord[]>();
    for (const r of routed) {
      const group = groups.get(r.partition);
      if (group) group.push(r);
      else groups.set(r.partition, [r]);
    }
    const durable: Promise<void>[] = [];
    for (const group of groups.values()) {
      const first = group[0] as RoutedRecord;
      const buffer = this.bufferFor(stream, first, arrival);
      const payloads = group.map((r) => r.payload);
      if (buffer.segment) durable.push(buffer.segment.append(payloads));
      for (const p of payloads) {
        buffer.chunks.push(p);
        buffer.bytes += p.length;
      }
      if (buffer.bytes >= stream.config.sizeBytes) this.flushBuffer(buffer);
    }
    return durable.length === 1 ? (durable[0] as Promise<void>) : Promise.all(durable).then(() => undefined);
  }

  /** Delivers every buffer of a stream now and waits until all deliveries in flight are done. */
  flushStream(name: string): Promise<void> {
    for (const buffer of [...(this.streams.get(name)?.values() ?? [])]) this.flushBuffer(buffer);
    return this.drain();
  }

  async flushAll(): Promise<void> {
    for (const buffers of this.streams.values()) for (const buffer of [...buffers.values()]) this.flushBuffer(buffer);
    await this.drain();
  }

  /** Flushes and stops retrying failed deliveries (a failed object stays in the journal). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.flushAll();
  }

  bufferedRecords(): number {
    let n = 0;
    for (const buffers of this.streams.values()) for (const b of buffers.values()) n += b.chunks.length;
    return n;
  }

  /**
   * Delivers the segments a killed process left in the journal, one at a time (bounded memory),
   * each to the object key recorded in it. flushAll() and stop() wait for this too.
   */
  recover(): number {
    const store = this.options.segments;
    if (!store) return 0;
    const found = store.recover((m) => this.options.logger.warn(m));
    if (found.length === 0) return 0;
    let records = 0;
    for (const s of found) records += s.records.length;
    this.options.logger.warn(`recovering ${records} record(s) accepted before a crash: ${found.length} journal segment(s) in ${store.dir}`);
    const work = (async () => {
      for (const s of found) {
        const buffer: PartitionBuffer = { id: `recovered:${s.file}`, stream: s.header.stream, kind: s.header.kind, bucket: s.header.bucket, key: s.header.key, gzip: s.header.gzip, ...conversionOf(s.header.kind, this.options.conversionOf?.(s.header.stream)), chunks: s.records, bytes: s.records.reduce((n, r) => n + r.length, 0) };
        const delivered = await this.deliver(buffer, s.file);
        if (delivered) {
          this.options.totals.recordsRecovered += s.records.length;
          const st = this.options.statsOf(s.header.stream);
          if (st) st.recordsRecovered += s.records.length;
        }
      }
    })();
    this.track(work);
    return records;
  }

  private async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private track(p: Promise<unknown>): void {
    const tracked = p
      .then(() => undefined)
      .catch((err: Error) => this.options.logger.warn(`delivery failed: ${err.message}`))
      .finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
  }

  private bufferFor(stream: BufferedStream, first: RoutedRecord, arrival: number): PartitionBuffer {
    let buffers = this.streams.get(stream.name);
    if (!buffers) {
      buffers = new Map();
      this.streams.set(stream.name, buffers);
    }
    const existing = buffers.get(first.partition);
    if (existing) return existing;
    const config = stream.config;
    // The key is fixed now (AWS names an object by its oldest record's arrival): the journal
    // records it, so a redelivery after a crash writes the same object.
    const prefix =
      first.kind === 'data'
        ? renderPrefix(config.dataPrefix, { timestampMs: arrival, ...(first.partitionKeys ? { partitionKeys: first.partitionKeys } : {}) })
        : renderPrefix(config.errorPrefix, { timestampMs: arrival, errorOutputType: first.errorType ?? PARTITIONING_FAILED });
    const key = prefix + objectName(stream.name, stream.version, arrival, config.extension, randomUUID());
    const header: SegmentHeader = { v: 1, stream: stream.name, kind: first.kind, bucket: config.bucket, key, gzip: config.gzip, openedAt: arrival };
    const segment = this.options.segments?.open(header);
    const buffer: PartitionBuffer = { id: first.partition, stream: stream.name, kind: first.kind, bucket: config.bucket, key, gzip: config.gzip, ...conversionOf(first.kind, config.conversion), chunks: [], bytes: 0, ...(segment ? { segment } : {}) };
    buffers.set(first.partition, buffer);
    const delay = config.intervalSeconds * 1000 * this.options.timeScale;
    // Interval 0 (zero buffering) still coalesces the records of one request.
    buffer.timer = setTimeout(() => this.flushBuffer(buffer), delay);
    buffer.timer.unref();
    return buffer;
  }

  private flushBuffer(buffer: PartitionBuffer): void {
    const buffers = this.streams.get(buffer.stream);
    if (buffers?.get(buffer.id) !== buffer) return; // already flushed
    buffers.delete(buffer.id);
    if (buffer.timer) clearTimeout(buffer.timer);
    this.track(this.deliver(buffer, buffer.segment?.file));
  }

  /** Writes the object (with retries), then drops its journal segment. True when written. */
  private async deliver(buffer: PartitionBuffer, journalFile: string | undefined): Promise<boolean> {
    const raw = Buffer.concat(buffer.chunks, buffer.bytes);
    const body = buffer.conversion ? parquetBody(buffer.conversion, buffer.chunks) : buffer.gzip ? await gzip(raw) : raw;
    const records = buffer.chunks.length;
    const streamStats = this.options.statsOf(buffer.stream);
    const count = (f: (s: DeliveryStreamStats) => void): void => {
      f(this.options.totals);
      if (streamStats) f(streamStats);
    };
    for (let attempt = 0; ; attempt++) {
      try {
        await this.options.sink.putObject(buffer.bucket, buffer.key, body, { contentType: 'application/octet-stream' });
        break;
      } catch (err) {
        const delay = RETRY_DELAYS_MS[attempt];
        if (delay === undefined || this.stopping) {
          count((s) => s.deliveryFailures++);
          const kept = journalFile ? `; kept in the journal (${journalFile}), delivered at the next start` : '; the records are lost';
          this.options.logger.warn(`could not deliver s3://${buffer.bucket}/${buffer.key} (${records} records) for ${buffer.stream}: ${(err as Error).message}${kept}`);
          await buffer.segment?.close();
          return false;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    if (buffer.segment) await buffer.segment.remove();
    else if (journalFile) await removeRecovered(journalFile);
    count((s) => {
      if (buffer.kind === 'data') s.recordsDelivered += records;
      else s.errorObjects++;
      s.objectsWritten++;
      s.bytesWritten += body.length;
    });
    return true;
  }
}

/** Only data buffers are converted (error output stays JSON lines, as on AWS). */
function conversionOf(kind: 'data' | 'error', conversion: FormatConversion | undefined): { conversion?: FormatConversion } {
  return kind === 'data' && conversion ? { conversion } : {};
}

async function removeRecovered(file: string): Promise<void> {
  await unlink(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
