// A test harness that runs the real mapper, reducer and closer handlers against the embedded
// services (kinesalite, dynalite, S3 and the Firehose emulator behind one endpoint), driving the
// Kinesis polling by hand so that tests can shape every delivery: batch sizes, redeliveries,
// crashes after partial side effects. (The embedded cloud's own ESM pollers are tested in e2e.)
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateDeliveryStreamCommand, FirehoseClient } from '@aws-sdk/client-firehose';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordsCommand,
  type _Record,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { createCloser, type CloserSummary } from '../../functions/closer';
import { createClients, type Clients } from '../../functions/commons/clients';
import type { Job } from '../../functions/core/job';
import { STATE_TABLE } from '../../functions/contract';
import { createMapperHandler } from '../../functions/mapper';
import { createReducerHandler } from '../../functions/reducer';
import { startLocalServer, type LocalServer } from '../../local/server';
import { latestResults, readJsonLines } from '../../scripts/lib/output-reader';
import { fakeContext, kinesisStreamRecord } from './factories';

export interface HarnessOptions {
  job: Job;
  inputShards?: number;
  shuffleBuckets?: number;
}

type Handler = (event: KinesisStreamEvent, context: ReturnType<typeof fakeContext>) => Promise<KinesisStreamBatchResponse>;

interface Cursor {
  shardId: string;
  /** Records fetched but not yet checkpointed, in order. */
  buffer: _Record[];
  iterator: string | undefined;
}

const BUCKET = 'riffle-test-output';
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

export class PipelineHarness {
  server!: LocalServer;
  clients!: Clients;
  s3!: S3Client;
  readonly names: { input: string; shuffle: string; table: string; results: string; late: string; rejected: string };
  mapper!: Handler;
  reducer!: Handler;
  closer!: ReturnType<typeof createCloser>;
  private readonly cursors = new Map<string, Cursor[]>();
  invocations = { mapper: 0, reducer: 0 };

  constructor(readonly options: HarnessOptions) {
    const n = options.job.name;
    this.names = { input: `${n}-input`, shuffle: `${n}-shuffle`, table: `${n}-state`, results: `${n}-results`, late: `${n}-late`, rejected: `${n}-rejected` };
  }

  async start(): Promise<this> {
    this.server = await startLocalServer({ port: 0, ttlSweepIntervalMs: 0 });
    Object.assign(process.env, this.server.clientEnv, { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'ERROR' });
    this.clients = createClients();
    const kinesis = this.clients.kinesis;
    this.s3 = new S3Client({});
    await kinesis.send(new CreateStreamCommand({ StreamName: this.names.input, ShardCount: this.options.inputShards ?? 1 }));
    await kinesis.send(new CreateStreamCommand({ StreamName: this.names.shuffle, ShardCount: 1 }));
    for (const stream of [this.names.input, this.names.shuffle]) {
      for (;;) {
        const s = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
        if (s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    await new DynamoDBClient({}).send(
      new CreateTableCommand({
        TableName: this.names.table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: STATE_TABLE.partitionKey, AttributeType: 'S' },
          { AttributeName: STATE_TABLE.sortKey, AttributeType: 'S' },
          { AttributeName: STATE_TABLE.openPartitionKey, AttributeType: 'S' },
          { AttributeName: STATE_TABLE.openSortKey, AttributeType: 'N' },
        ],
        KeySchema: [
          { AttributeName: STATE_TABLE.partitionKey, KeyType: 'HASH' },
          { AttributeName: STATE_TABLE.sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: STATE_TABLE.openWindowsIndex,
            KeySchema: [
              { AttributeName: STATE_TABLE.openPartitionKey, KeyType: 'HASH' },
              { AttributeName: STATE_TABLE.openSortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
      }),
    );
    await this.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const firehose = new FirehoseClient({});
    const timeKey = { results: '.windowStart', late: '.windowStart', rejected: '.rejectedAt' } as const;
    for (const kind of ['results', 'late', 'rejected'] as const) {
      await firehose.send(
        new CreateDeliveryStreamCommand({
          DeliveryStreamName: this.names[kind],
          DeliveryStreamType: 'DirectPut',
          ExtendedS3DestinationConfiguration: {
            BucketARN: `arn:aws:s3:::${BUCKET}`,
            RoleARN: 'arn:aws:iam::000000000000:role/firehose',
            Prefix: `${kind}/job=${this.options.job.name}/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/`,
            ErrorOutputPrefix: `errors/${kind}/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/`,
            BufferingHints: { IntervalInSeconds: 900, SizeInMBs: 64 },
            CompressionFormat: 'GZIP',
            DynamicPartitioningConfiguration: { Enabled: true },
            ProcessingConfiguration: {
              Enabled: true,
              Processors: [
                {
                  Type: 'MetadataExtraction',
                  Parameters: [
                    { ParameterName: 'MetadataExtractionQuery', ParameterValue: `{dt: ${timeKey[kind]}[0:10], hour: ${timeKey[kind]}[11:13]}` },
                    { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' },
                  ],
                },
              ],
            },
          },
        }),
      );
    }
    const job = this.options.job;
    const common = { job: job.name, stateTable: this.names.table, shuffleBuckets: this.options.shuffleBuckets ?? 4 };
    const mapperSettings = { ...common, shuffleStream: this.names.shuffle, lateDelivery: this.names.late, rejectedDelivery: this.names.rejected };
    this.mapper = createMapperHandler(job, mapperSettings, this.clients) as unknown as Handler;
    this.reducer = createReducerHandler(job, { ...common, resultsDelivery: this.names.results, lateDelivery: this.names.late, closerFunction: undefined }, this.clients) as unknown as Handler;
    this.closer = createCloser(job, { ...common, resultsDelivery: this.names.results, closedRetentionDays: 7 }, this.clients);
    return this;
  }

  async stop(): Promise<void> {
    // Keep-alive sockets would keep jest (and the process) alive after the tests.
    for (const client of Object.values(this.clients ?? {})) client.destroy();
    this.s3?.destroy();
    await this.server?.stop();
  }

  /** Put events (objects, strings or raw buffers) on the input stream; partition key = `keyOf`. */
  async produce(events: readonly unknown[], keyOf: (e: unknown, i: number) => string = (_e, i) => `p${i}`): Promise<void> {
    for (let i = 0; i < events.length; i += 500) {
      const chunk = events.slice(i, i + 500);
      const response = await this.clients.kinesis.send(
        new PutRecordsCommand({
          StreamName: this.names.input,
          Records: chunk.map((e, j) => ({
            PartitionKey: keyOf(e, i + j),
            Data: Buffer.isBuffer(e) ? e : Buffer.from(typeof e === 'string' ? e : JSON.stringify(e)),
          })),
        }),
      );
      if (response.FailedRecordCount) throw new Error(`produce: ${response.FailedRecordCount} records failed`);
    }
  }

  private async cursorsOf(stream: string): Promise<Cursor[]> {
    let cursors = this.cursors.get(stream);
    if (!cursors) {
      const shards = await this.clients.kinesis.send(new ListShardsCommand({ StreamName: stream }));
      cursors = [];
      for (const shard of shards.Shards ?? []) {
        const it = await this.clients.kinesis.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
        cursors.push({ shardId: shard.ShardId as string, buffer: [], iterator: it.ShardIterator });
      }
      this.cursors.set(stream, cursors);
    }
    return cursors;
  }

  private async fill(cursor: Cursor, stream: string): Promise<void> {
    while (cursor.iterator) {
      const page = await this.clients.kinesis.send(new GetRecordsCommand({ ShardIterator: cursor.iterator, Limit: 10_000 }));
      cursor.iterator = page.NextShardIterator;
      cursor.buffer.push(...(page.Records ?? []));
      if ((page.Records ?? []).length === 0) break;
    }
    void stream;
  }

  /**
   * Deliver a stream's pending records to a handler like an ESM with ReportBatchItemFailures:
   * batches of `batchSize` per shard, resuming from the lowest reported failure. `intercept`
   * may replace an invocation (to inject faults); returning undefined means "invoke normally".
   */
  async pump(
    which: 'mapper' | 'reducer',
    options: { batchSize?: number; maxInvocations?: number; intercept?: (event: KinesisStreamEvent, invoke: () => Promise<KinesisStreamBatchResponse>) => Promise<KinesisStreamBatchResponse> } = {},
  ): Promise<number> {
    const stream = which === 'mapper' ? this.names.input : this.names.shuffle;
    const handler = which === 'mapper' ? this.mapper : this.reducer;
    const batchSize = options.batchSize ?? 100;
    let invocations = 0;
    for (const cursor of await this.cursorsOf(stream)) {
      await this.fill(cursor, stream);
      while (cursor.buffer.length > 0) {
        if (options.maxInvocations !== undefined && invocations >= options.maxInvocations) return invocations;
        // Lambda caps a batch's invocation payload at 6 MB, whatever the batch size.
        let bytes = 0;
        let take = 0;
        while (take < Math.min(batchSize, cursor.buffer.length)) {
          const size = Math.ceil(((cursor.buffer[take]!.Data as Uint8Array).length * 4) / 3) + 400;
          if (take > 0 && bytes + size > MAX_PAYLOAD_BYTES) break;
          bytes += size;
          take++;
        }
        const batch = cursor.buffer.slice(0, take);
        const event: KinesisStreamEvent = {
          Records: batch.map((r) =>
            kinesisStreamRecord({
              shardId: cursor.shardId,
              sequenceNumber: r.SequenceNumber as string,
              partitionKey: r.PartitionKey as string,
              data: Buffer.from(r.Data as Uint8Array),
              arrivalMs: r.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
            }),
          ),
        };
        invocations++;
        this.invocations[which]++;
        const invoke = () => handler(event, fakeContext());
        let response: KinesisStreamBatchResponse;
        try {
          response = options.intercept ? await options.intercept(event, invoke) : await invoke();
        } catch {
          continue; // whole batch failed: Lambda retries it (the loop redelivers from the same point)
        }
        const failures = response.batchItemFailures.map((f) => f.itemIdentifier);
        const lowest = batch.findIndex((r) => failures.includes(r.SequenceNumber as string));
        cursor.buffer.splice(0, lowest < 0 ? batch.length : lowest);
      }
    }
    return invocations;
  }

  /** Map everything, reduce everything, then close (drain closes every window). */
  async runToEnd(options: { mapperBatch?: number; reducerBatch?: number; drain?: boolean } = {}): Promise<CloserSummary> {
    await this.pump('mapper', { batchSize: options.mapperBatch ?? 100 });
    await this.pump('reducer', { batchSize: options.reducerBatch ?? 100 });
    return this.closer({ drain: options.drain ?? true });
  }

  async output(kind: 'results' | 'late' | 'rejected'): Promise<Record<string, unknown>[]> {
    await this.server.firehose.flushAll();
    return readJsonLines(this.s3, BUCKET, `${kind}/`);
  }

  async results(): Promise<Record<string, unknown>[]> {
    return latestResults(await this.output('results'));
  }
}
