// Request and capacity counters of the local cloud, read through `server.stats()` and
// `GET /_riffle/stats`. The benchmark counts DynamoDB reads/writes with them (per operation and
// as consumed capacity units) and compares Kinesis throughput.
import type { FirehoseStats } from './firehose';

export interface DynamoTableStats {
  /** Requests per operation that touched the table. */
  operations: Record<string, number>;
  readUnits: number;
  writeUnits: number;
}

export interface LocalStats {
  /** Requests per service and operation (plug-in services count under their `name`). */
  requests: Record<string, Record<string, number>>;
  /** Error responses per service and error type (injected faults included). */
  errors: Record<string, Record<string, number>>;
  dynamodb: {
    /** Capacity units as DynamoDB would bill them (dynalite's item-size estimate: ⌈bytes / 1 KB⌉ per write, ⌈bytes / 4 KB⌉ per read, halved when eventually consistent). */
    readUnits: number;
    writeUnits: number;
    tables: Record<string, DynamoTableStats>;
    /** Items removed by the TTL sweeper. */
    ttlDeletes: number;
  };
  kinesis: {
    /** Records accepted by PutRecord/PutRecords. */
    recordsPut: number;
    bytesPut: number;
    /** Records returned by GetRecords. */
    recordsRead: number;
    /** Records and bytes accepted per stream name (the CloudWatch AWS/Kinesis metrics' source). */
    streams: Record<string, { recordsPut: number; bytesPut: number }>;
  };
  firehose: FirehoseStats;
  s3: { objectsPut: number; bytesPut: number };
}

export type MutableStats = Omit<LocalStats, 'firehose'>;

export function emptyStats(): MutableStats {
  return {
    requests: {},
    errors: {},
    dynamodb: { readUnits: 0, writeUnits: 0, tables: {}, ttlDeletes: 0 },
    kinesis: { recordsPut: 0, bytesPut: 0, recordsRead: 0, streams: {} },
    s3: { objectsPut: 0, bytesPut: 0 },
  };
}

export class StatsRecorder {
  private data: MutableStats = emptyStats();

  request(service: string, operation: string): void {
    const byOp = (this.data.requests[service] ??= {});
    byOp[operation] = (byOp[operation] ?? 0) + 1;
  }

  error(service: string, type: string): void {
    const byType = (this.data.errors[service] ??= {});
    byType[type] = (byType[type] ?? 0) + 1;
  }

  dynamoTable(table: string, operation: string): DynamoTableStats {
    const stats = (this.data.dynamodb.tables[table] ??= { operations: {}, readUnits: 0, writeUnits: 0 });
    stats.operations[operation] = (stats.operations[operation] ?? 0) + 1;
    return stats;
  }

  dynamoUnits(table: string, read: number, write: number): void {
    const stats = (this.data.dynamodb.tables[table] ??= { operations: {}, readUnits: 0, writeUnits: 0 });
    stats.readUnits += read;
    stats.writeUnits += write;
    this.data.dynamodb.readUnits += read;
    this.data.dynamodb.writeUnits += write;
  }

  kinesisPut(stream: string | undefined, records: number, bytes: number): void {
    if (stream === undefined) return;
    const name = stream.includes(':stream/') ? stream.slice(stream.indexOf(':stream/') + 8) : stream;
    const s = (this.data.kinesis.streams[name] ??= { recordsPut: 0, bytesPut: 0 });
    s.recordsPut += records;
    s.bytesPut += bytes;
  }

  get live(): MutableStats {
    return this.data;
  }

  snapshot(firehose: FirehoseStats): LocalStats {
    return { ...(structuredClone(this.data) as MutableStats), firehose };
  }

  reset(): void {
    this.data = emptyStats();
  }
}
