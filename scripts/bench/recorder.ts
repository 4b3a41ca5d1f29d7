// Counting what the handlers send, for the cost model: every record Kinesis PutRecords and Firehose
// PutRecordBatch accepted (sizes per stream, with the services' billing roundings), the wall time of
// every handler invocation per role, and DynamoDB request units per phase from the local server's
// stats. The emulators count requests; only the SDK call sees each record's size.
import { FirehoseClient, PutRecordBatchCommand, type PutRecordBatchCommandOutput } from '@aws-sdk/client-firehose';
import { KinesisClient, PutRecordsCommand, type PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { LocalStats } from '../../local/server';
import { addRecord, emptySizes, type CapacityUnits, type LambdaUsage, type RecordSizes } from './cost';

type Send = (command: unknown, ...rest: unknown[]) => Promise<unknown>;

/** Tallies accepted records per Kinesis stream and Firehose delivery stream while installed. */
export class PutRecorder {
  readonly kinesis = new Map<string, RecordSizes>();
  readonly firehose = new Map<string, RecordSizes>();
  /** Conditional writes of window/session items (keys `J#<job>#K#…`), successful or not. */
  stateWrites = 0;
  private readonly restores: (() => void)[] = [];

  /** Wraps the clients' send(); the handlers and the producer must use these client objects. */
  watch(clients: { kinesis: KinesisClient; firehose: FirehoseClient; dynamo: DynamoDBDocumentClient }): this {
    this.wrap(clients.dynamo, (real, command, rest) => {
      if (command instanceof PutCommand && String(command.input.Item?.pk ?? '').includes('#K#')) this.stateWrites++;
      return real(command, ...rest);
    });
    this.wrap(clients.kinesis, async (real, command, rest) => {
      const response = await real(command, ...rest);
      if (command instanceof PutRecordsCommand) {
        const entries = (response as PutRecordsCommandOutput).Records ?? [];
        const tally = this.tally(this.kinesis, command.input.StreamName ?? command.input.StreamARN ?? '?');
        (command.input.Records ?? []).forEach((r, i) => {
          if (!entries[i]?.ErrorCode) addRecord(tally, r.Data?.length ?? 0);
        });
      }
      return response;
    });
    this.wrap(clients.firehose, async (real, command, rest) => {
      const response = await real(command, ...rest);
      if (command instanceof PutRecordBatchCommand) {
        const entries = (response as PutRecordBatchCommandOutput).RequestResponses ?? [];
        const tally = this.tally(this.firehose, command.input.DeliveryStreamName ?? '?');
        (command.input.Records ?? []).forEach((r, i) => {
          if (!entries[i]?.ErrorCode) addRecord(tally, r.Data?.length ?? 0);
        });
      }
      return response;
    });
    return this;
  }

  restore(): void {
    for (const r of this.restores.splice(0)) r();
  }

  kinesisOf(stream: string): RecordSizes {
    return this.kinesis.get(stream) ?? emptySizes();
  }

  firehoseOf(stream: string): RecordSizes {
    return this.firehose.get(stream) ?? emptySizes();
  }

  private tally(map: Map<string, RecordSizes>, name: string): RecordSizes {
    let t = map.get(name);
    if (!t) map.set(name, (t = emptySizes()));
    return t;
  }

  private wrap(client: object, around: (real: Send, command: unknown, rest: unknown[]) => Promise<unknown>): void {
    const holder = client as { send: Send };
    const real = holder.send.bind(client) as Send;
    holder.send = (command, ...rest) => around(real, command, rest);
    this.restores.push(() => {
      holder.send = real;
    });
  }
}

/** Wall time of handler invocations, per role. */
export class InvocationTimer {
  private readonly byRole = new Map<string, number[]>();

  add(role: string, ms: number): void {
    let list = this.byRole.get(role);
    if (!list) this.byRole.set(role, (list = []));
    list.push(ms);
  }

  /** Runs `fn`, recording its duration under `role` (also when it throws). */
  async time<T>(role: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      this.add(role, performance.now() - started);
    }
  }

  durations(role: string): readonly number[] {
    return this.byRole.get(role) ?? [];
  }

  /** Lambda bills whole milliseconds, rounded up, per invocation. */
  usage(role: string, memoryMb: number): LambdaUsage {
    const list = this.durations(role);
    return { invocations: list.length, durationMs: list.reduce((a, ms) => a + Math.ceil(ms), 0), memoryMb };
  }
}

/** A table's request units in a stats snapshot. */
export function tableUnits(stats: LocalStats, table: string): CapacityUnits {
  const t = stats.dynamodb.tables[table];
  return { writeUnits: t?.writeUnits ?? 0, readUnits: t?.readUnits ?? 0 };
}

export function unitsBetween(before: CapacityUnits, after: CapacityUnits): CapacityUnits {
  return { writeUnits: after.writeUnits - before.writeUnits, readUnits: after.readUnits - before.readUnits };
}

/** p-quantile (0–1) of a sample, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}
