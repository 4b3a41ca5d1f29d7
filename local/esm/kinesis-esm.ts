// A Kinesis event source mapping, polled like Lambda does: one reader per shard (new shards are
// picked up, children after their parents), GetRecords from the checkpoint or StartingPosition,
// batches of up to BatchSize records and 6 MB, MaximumBatchingWindowInSeconds, and — per shard,
// strictly in order (per partition key with ParallelizationFactor > 1) — retries,
// BisectBatchOnFunctionError, ReportBatchItemFailures, MaximumRetryAttempts,
// MaximumRecordAgeInSeconds and an S3 on-failure destination. A caught-up shard is polled about
// once a second, like Lambda's pollers; a mapping on an enhanced fan-out consumer does not poll: it
// reads when the local Kinesis pushes (records stored on the stream, after the ~70 ms propagation
// delay of SubscribeToShard).
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type KinesisClient,
  type Shard,
  type _Record,
} from '@aws-sdk/client-kinesis';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { crashPoint } from '../crash-points';
import type { Faults } from '../faults';
import type { InvokeResult, Invoker } from '../lambda/types';
import { CheckpointStore } from './checkpoints';
import {
  batchLength,
  bisect,
  eventPayload,
  failureObjectKey,
  failureRecord,
  laneOf,
  parseBatchItemFailures,
  splitExpired,
  toStreamRecord,
  type EventContext,
  type FailureCondition,
  type StreamRecord,
} from './records';

export type StartingPosition = 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';

/** An AWS::Lambda::EventSourceMapping for a Kinesis stream, with Lambda's defaults applied. */
export interface KinesisEsmConfig {
  /** The mapping's UUID (what Ref returns; part of the S3 on-failure key). */
  readonly uuid: string;
  /** The template's logical ID, for fault targeting and logs. */
  readonly logicalId?: string;
  readonly functionName: string;
  readonly functionArn: string;
  readonly streamName: string;
  readonly streamArn: string;
  /** EventSourceArn when it is an enhanced fan-out consumer: records are pushed instead of polled. */
  readonly consumerArn?: string;
  /** Default 100, max 10,000. */
  readonly batchSize: number;
  /** Default 0 (invoke as soon as records are available), max 300. */
  readonly maxBatchingWindowSeconds: number;
  readonly startingPosition: StartingPosition;
  /** For AT_TIMESTAMP: epoch seconds. */
  readonly startingPositionTimestamp?: number;
  /** Concurrent batches per shard, 1–10 (records of one partition key stay in order). */
  readonly parallelizationFactor: number;
  readonly bisectBatchOnFunctionError: boolean;
  /** -1 = retry until the record expires. */
  readonly maximumRetryAttempts: number;
  /** -1 = no limit. */
  readonly maximumRecordAgeSeconds: number;
  /** FunctionResponseTypes includes ReportBatchItemFailures. */
  readonly reportBatchItemFailures: boolean;
  /** DestinationConfig.OnFailure.Destination (only S3 bucket ARNs are delivered locally). */
  readonly onFailureDestination?: string;
  /** Execution role ARN, shown as each record's invokeIdentityArn. */
  readonly invokeIdentityArn?: string;
}

export interface EsmDeps {
  readonly kinesis: KinesisClient;
  /** Needed for an S3 on-failure destination. */
  readonly s3?: S3Client;
  readonly invoker: Invoker;
  readonly region: string;
  /** Checkpoints are persisted under <dataDir>/esm/ when given. */
  readonly dataDir?: string;
  readonly faults?: Faults;
  readonly log?: (line: string) => void;
  /** Pause between GetRecords calls on a caught-up shard (Lambda: ~1 s). Default 1,000 ms. */
  readonly idlePollMs?: number;
  /** Push subscriptions of the local Kinesis (enhanced fan-out); without them a consumer mapping polls. */
  readonly subscriptions?: { subscribe(stream: string, listener: () => void): () => void; watch?(stream: string, listener: () => void): () => void };
  /** How often ListShards looks for new shards. Default 5 s. */
  readonly shardRefreshMs?: number;
  /** Delay before retry n (1-based) of a failed batch. Default 100 ms doubling to 2 s. */
  readonly retryDelayMs?: (retry: number) => number;
  /** Records read ahead per shard before waiting for the function. Default max(10,000, 2 × BatchSize × lanes). */
  readonly readAheadRecords?: number;
}

export interface ShardStats {
  checkpoint?: string;
  ended: boolean;
  /** Last GetRecords returned nothing (the reader is at the tip of the shard). */
  caughtUp: boolean;
  /** Fetched records not yet handled. */
  buffered: number;
  inFlight: boolean;
}

export interface EsmStats {
  readonly uuid: string;
  readonly functionName: string;
  readonly streamName: string;
  /** Batches taken from the stream (not counting retries, bisected halves or duplicates). */
  batches: number;
  /** Records handled (processed, discarded or sent to the on-failure destination). */
  records: number;
  invocations: number;
  functionErrors: number;
  retries: number;
  bisects: number;
  /** Invocations whose response reported batch item failures (or failed the whole batch). */
  partialFailures: number;
  expiredRecords: number;
  /** Records dropped with no usable on-failure destination. */
  discardedRecords: number;
  failedDestinationWrites: number;
  failedDestinationErrors: number;
  duplicatesDelivered: number;
  /** Age of the last record of the last processed batch when it finished (Lambda's IteratorAge). */
  iteratorAgeMs: number;
  lastProcessingResult: string;
  shards: Record<string, ShardStats>;
}

type Wake = () => void;

/** A wake-up signal: wait() resolves on notify(), on timeout, or on abort. */
class Signal {
  private waiters: Wake[] = [];
  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  wait(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
      this.waiters.push(done);
      if (ms !== undefined) timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      }, Math.max(0, ms));
    });
  }
}

interface SubBatch {
  records: StreamRecord[];
  /** Retries used (a bisect does not use one: "Splitting batches doesn't consume the retry quota"). */
  retries: number;
  invokes: number;
  lastFunctionError: string | null;
}

const MAX_SHARD_READ = 10_000;
/**
 * Bytes of event JSON a shard reader buffers ahead of its lanes. Lambda's own pollers do not
 * hold a shard's backlog in memory either; without a byte bound, 10,000 large records (KPL
 * aggregates, shuffle bundles) per shard cost hundreds of MB. Two full 6 MB batches per lane
 * keep every lane busy.
 */
const READ_AHEAD_BYTES_PER_LANE = 12 * 1024 * 1024;

export class KinesisEventSourceMapping {
  readonly config: KinesisEsmConfig;
  private readonly deps: EsmDeps;
  private readonly checkpoints: CheckpointStore;
  private readonly readers = new Map<string, ShardReader>();
  private readonly finished = new Set<string>();
  private readonly wake = new Signal();
  readonly eventContext: EventContext;
  private stopping = false;
  private started = false;
  /** Aborts Kinesis reads on stop (a hung GetRecords must not hold up shutdown). */
  private readonly abort = new AbortController();
  /** When this process created the mapping's origin (LATEST can then use a real LATEST iterator). */
  private originIsNew = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private unwatch: (() => void) | undefined;
  /** Push notifications received (enhanced fan-out mappings). */
  pushes = 0;
  /** Lanes invoke what they hold without waiting out MaximumBatchingWindowInSeconds (see cutBatchingWindows). */
  windowsCut = false;
  private refreshing: Promise<void> | undefined;
  readonly counters: Omit<EsmStats, 'shards' | 'uuid' | 'functionName' | 'streamName'> = {
    batches: 0,
    records: 0,
    invocations: 0,
    functionErrors: 0,
    retries: 0,
    bisects: 0,
    partialFailures: 0,
    expiredRecords: 0,
    discardedRecords: 0,
    failedDestinationWrites: 0,
    failedDestinationErrors: 0,
    duplicatesDelivered: 0,
    iteratorAgeMs: 0,
    lastProcessingResult: 'No records processed',
  };

  constructor(config: KinesisEsmConfig, deps: EsmDeps) {
    this.config = {
      ...config,
      batchSize: Math.min(Math.max(1, Math.floor(config.batchSize)), 10_000),
      parallelizationFactor: Math.min(Math.max(1, Math.floor(config.parallelizationFactor)), 10),
    };
    this.deps = deps;
    this.checkpoints = new CheckpointStore(config.uuid, config.streamArn, deps.dataDir);
    this.eventContext = {
      region: deps.region,
      streamArn: config.streamArn,
      invokeIdentityArn: config.invokeIdentityArn ?? `arn:aws:iam::${accountOf(config.streamArn)}:role/${config.functionName}-role`,
    };
  }

  /** Discovers the shards and starts polling them. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.originIsNew = !this.checkpoints.hasOrigin();
    if (this.config.consumerArn) {
      if (this.deps.subscriptions) {
        this.unsubscribe = this.deps.subscriptions.subscribe(this.config.streamName, () => {
          this.pushes += 1;
          for (const reader of this.readers.values()) reader.pushed();
        });
      } else this.log(`${this.config.consumerArn}: no push subscriptions on this Kinesis; polling instead`);
    }
    // Every mapping (polling ones too) learns at once that records were stored, so a reader asleep
    // between polls is not taken for caught up (isIdle) while new records wait on its shard.
    this.unwatch = this.deps.subscriptions?.watch?.(this.config.streamName, () => {
      for (const reader of this.readers.values()) reader.stored();
    });
    this.checkpoints.originMs();
    await this.refreshShards();
    const every = this.deps.shardRefreshMs ?? 5000;
    this.refreshTimer = setInterval(() => void this.refreshShards(), every);
    this.refreshTimer.unref();
  }

  /**
   * Stops polling. The invocation in flight on each shard finishes (no further retries or
   * batches start), then checkpoints are written; unhandled records are read again next start.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    this.unwatch?.();
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.wake.notify();
    this.abort.abort();
    await this.refreshing;
    await Promise.all([...this.readers.values()].map((r) => r.stop()));
    await this.checkpoints.settle();
    this.checkpoints.flush();
  }

  /** Records reach this mapping by push (an enhanced fan-out consumer), not by polling. */
  get pushed(): boolean {
    return this.config.consumerArn !== undefined && this.deps.subscriptions !== undefined;
  }

  /**
   * For a bounded input (tests, tools waiting for idle): batches gathering in a batching window are
   * invoked now instead of when the window ends; `false` restores the configured windows.
   */
  cutBatchingWindows(on: boolean): void {
    this.windowsCut = on;
    if (!on) return;
    for (const reader of this.readers.values()) {
      reader.wakeLanes();
      reader.wakePoll();
    }
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  get abortSignal(): AbortSignal {
    return this.abort.signal;
  }

  /** A LATEST mapping started for the first time in this process may use a real LATEST iterator. */
  get latestIsFresh(): boolean {
    return this.originIsNew;
  }

  stats(): EsmStats {
    const shards: Record<string, ShardStats> = {};
    for (const [id, cp] of Object.entries(this.checkpoints.all())) {
      shards[id] = { ...(cp.sequenceNumber ? { checkpoint: cp.sequenceNumber } : {}), ended: cp.ended === true, caughtUp: cp.ended === true, buffered: 0, inFlight: false };
    }
    for (const [id, r] of this.readers) shards[id] = r.stats();
    return { uuid: this.config.uuid, functionName: this.config.functionName, streamName: this.config.streamName, ...this.counters, shards };
  }

  /** True when every shard reader is at the tip of its shard with nothing buffered or in flight. */
  isIdle(): boolean {
    for (const r of this.readers.values()) {
      const s = r.stats();
      if (!s.ended && (!s.caughtUp || s.buffered > 0 || s.inFlight)) return false;
    }
    return true;
  }

  log(line: string): void {
    (this.deps.log ?? ((l: string) => console.log(l)))(`[esm ${this.config.logicalId ?? this.config.uuid}] ${line}`);
  }

  /** Sleeps up to `ms`, returning early when the mapping stops. */
  sleep(ms: number): Promise<void> {
    return this.stopping ? Promise.resolve() : this.wake.wait(ms);
  }

  // ---- shards ----

  private refreshShards(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    if (this.refreshing) return this.refreshing;
    this.refreshing = this.doRefresh()
      .catch((e: unknown) => this.log(`ListShards failed: ${errorText(e)}`))
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const shards: Shard[] = [];
    let token: string | undefined;
    do {
      const out = await this.deps.kinesis.send(
        new ListShardsCommand(token ? { NextToken: token } : { StreamName: this.config.streamName }),
        { abortSignal: this.abort.signal },
      );
      shards.push(...(out.Shards ?? []));
      token = out.NextToken;
    } while (token);
    const known = new Set(shards.map((s) => s.ShardId));
    for (const shard of shards) {
      const id = shard.ShardId;
      if (!id || this.readers.has(id) || this.finished.has(id) || this.stopping) continue;
      if (this.checkpoints.get(id)?.ended) {
        this.finished.add(id);
        continue;
      }
      // Lambda finishes a parent shard before reading its children (order across a reshard).
      const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter((p): p is string => !!p);
      const blocked = parents.some((p) => known.has(p) && !this.finished.has(p) && !this.checkpoints.get(p)?.ended);
      if (blocked) continue;
      const isChild = parents.some((p) => known.has(p));
      const reader = new ShardReader(this, this.deps, this.checkpoints, id, isChild);
      this.readers.set(id, reader);
      // The starting iterator is taken before start() resolves: a LATEST mapping then sees every
      // record written after it was created, with no race against the first GetShardIterator.
      await reader.init();
      reader.start(() => {
        this.readers.delete(id);
        this.finished.add(id);
        if (!this.stopping) {
          this.checkpoints.markEnded(id);
          void this.refreshShards();
        }
      });
    }
  }

  // ---- batch processing (called by lanes) ----

  /** Handles one batch to completion: success, partial success + retries, bisects, or the on-failure path. */
  async processBatch(reader: ShardReader, records: StreamRecord[]): Promise<void> {
    const c = this.counters;
    c.batches += 1;
    const duplicate = this.deps.faults?.takeDuplicate({
      uuid: this.config.uuid,
      functionName: this.config.functionName,
      ...(this.config.logicalId ? { logicalId: this.config.logicalId } : {}),
    });
    const work: SubBatch[] = [{ records, retries: 0, invokes: 0, lastFunctionError: null }];
    let firstAttempt = true;
    while (work.length > 0) {
      const sub = work[0] as SubBatch;
      if (!firstAttempt && this.stopping) return; // drain: no retries while stopping
      firstAttempt = false;

      const { expired, fresh } = splitExpired(sub.records, Date.now(), this.config.maximumRecordAgeSeconds);
      if (expired.length > 0) {
        c.expiredRecords += expired.length;
        await this.toFailureDestination(reader.shardId, 'RecordAgeExceeded', expired, Math.max(1, sub.invokes), null);
        reader.markDone(expired);
        sub.records = fresh;
      }
      if (sub.records.length === 0) {
        work.shift();
        continue;
      }

      const result = await this.invoke(sub.records);
      if (!result) {
        // Not invoked (function missing, runtime stopping): Lambda retries until the records expire.
        await this.sleep(this.retryDelay(1));
        continue;
      }
      sub.invokes += 1;
      crashPoint('esm.batch.invoked', this.config.functionName);

      if (result.ok) {
        const verdict = this.config.reportBatchItemFailures
          ? parseBatchItemFailures(result.payload, new Set(sub.records.map((r) => r.sequenceNumber)))
          : ({ kind: 'success' } as const);
        if (verdict.kind === 'success') {
          c.lastProcessingResult = 'OK';
          reader.markDone(sub.records);
          work.shift();
          continue;
        }
        c.partialFailures += 1;
        sub.lastFunctionError = null;
        if (verdict.kind === 'partial') {
          const at = sub.records.findIndex((r) => r.sequenceNumber === verdict.resumeFrom);
          reader.markDone(sub.records.slice(0, at));
          sub.records = sub.records.slice(at);
          c.lastProcessingResult = `PROBLEM: partial batch failure, resuming at ${verdict.resumeFrom}`;
        } else {
          c.lastProcessingResult = `PROBLEM: ${verdict.reason}`;
        }
      } else {
        c.functionErrors += 1;
        sub.lastFunctionError = result.functionError ?? 'Unhandled';
        c.lastProcessingResult = `PROBLEM: Function call failed: ${result.error?.errorType ?? 'Error'}`;
        if (this.config.bisectBatchOnFunctionError && sub.records.length > 1) {
          const [left, right] = bisect(sub.records);
          c.bisects += 1;
          work.splice(0, 1, ...[left, right].map((r) => ({ records: r, retries: sub.retries, invokes: 0, lastFunctionError: null })));
          continue;
        }
      }

      const max = this.config.maximumRetryAttempts;
      if (max >= 0 && sub.retries >= max) {
        await this.toFailureDestination(reader.shardId, 'RetryAttemptsExhausted', sub.records, sub.invokes, sub.lastFunctionError);
        reader.markDone(sub.records);
        work.shift();
        continue;
      }
      sub.retries += 1;
      c.retries += 1;
      await this.sleep(this.retryDelay(sub.retries));
    }
    if (duplicate && !this.stopping) {
      // At-least-once redelivery: the same batch again after it was handled.
      c.duplicatesDelivered += 1;
      await this.invoke(records);
    }
  }

  private retryDelay(retry: number): number {
    return this.deps.retryDelayMs ? this.deps.retryDelayMs(retry) : Math.min(100 * 2 ** (retry - 1), 2000);
  }

  private async invoke(records: readonly StreamRecord[]): Promise<InvokeResult | undefined> {
    try {
      const result = await this.deps.invoker.invoke(this.config.functionName, eventPayload(records));
      this.counters.invocations += 1;
      return result;
    } catch (e) {
      this.log(`invoke ${this.config.functionName} failed: ${errorText(e)}`);
      return undefined;
    }
  }

  private async toFailureDestination(
    shardId: string,
    condition: FailureCondition,
    records: readonly StreamRecord[],
    invokeCount: number,
    functionError: string | null,
  ): Promise<void> {
    const c = this.counters;
    const dest = this.config.onFailureDestination;
    const range = `${records[0]?.sequenceNumber}..${records[records.length - 1]?.sequenceNumber}`;
    const bucket = dest ? /^arn:[^:]+:s3:::([^/]+)$/.exec(dest)?.[1] : undefined;
    if (!bucket || !this.deps.s3) {
      c.discardedRecords += records.length;
      this.log(`${condition}: discarded ${records.length} record(s) ${shardId} ${range}${dest ? ` (destination ${dest} is not supported locally)` : ''}`);
      return;
    }
    const now = Date.now();
    const body = JSON.stringify(
      failureRecord({
        condition,
        functionArn: this.config.functionArn,
        streamArn: this.config.streamArn,
        shardId,
        records,
        approximateInvokeCount: invokeCount,
        functionError,
        nowMs: now,
        includePayload: true,
      }),
    );
    const key = failureObjectKey(this.config.uuid, shardId, now);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
        c.failedDestinationWrites += 1;
        this.log(`${condition}: ${records.length} record(s) ${shardId} ${range} → s3://${bucket}/${key}`);
        return;
      } catch (e) {
        if (attempt >= 5 || this.stopping) {
          c.failedDestinationErrors += 1;
          c.discardedRecords += records.length;
          this.log(`could not write the on-failure record to s3://${bucket}/${key}: ${errorText(e)}`);
          return;
        }
        await this.sleep(200 * attempt);
      }
    }
  }
}

/** Reads one shard and feeds its records to ParallelizationFactor lanes. */
class ShardReader {
  private readonly lanes: Lane[];
  /** Sequence numbers fetched and not yet known handled, in shard order (head = oldest). */
  private readonly order: string[] = [];
  private orderHead = 0;
  private readonly done = new Set<string>();
  private readonly readAhead: number;
  private readonly fetchWake = new Signal();
  /** Enhanced fan-out: a push arrived since the last GetRecords began. */
  private pushPending = false;
  private readonly pushWake = new Signal();
  /** Records stored on the stream (any shard) since reader start: a read that began before a store may not have seen it. */
  private storedCount = 0;
  /** Ends a polling reader's pause between reads early (bounded input: waitForIdle). */
  private readonly pollWake = new Signal();
  private buffered = 0;
  private bufferedBytes = 0;
  private readonly readAheadBytes: number;
  private caughtUp = false;
  private readingDone = false;
  private lastFetched: string | undefined;
  /** Records that arrived before this (epoch ms) are skipped: AT_TIMESTAMP / resumed LATEST. */
  private skipBeforeMs: number | undefined;
  private loops: Promise<void>[] = [];

  constructor(
    readonly esm: KinesisEventSourceMapping,
    private readonly deps: EsmDeps,
    private readonly checkpoints: CheckpointStore,
    readonly shardId: string,
    private readonly isChild: boolean,
  ) {
    const cfg = esm.config;
    this.lanes = Array.from({ length: cfg.parallelizationFactor }, () => new Lane(this));
    this.readAhead = deps.readAheadRecords ?? Math.max(MAX_SHARD_READ, 2 * cfg.batchSize * cfg.parallelizationFactor);
    this.readAheadBytes = READ_AHEAD_BYTES_PER_LANE * cfg.parallelizationFactor;
  }

  private iterator: string | undefined;

  /** Gets the starting shard iterator (a failure is retried by the fetch loop). */
  async init(): Promise<void> {
    try {
      this.iterator = await this.initialIterator();
    } catch (e) {
      if (!this.esm.isStopping) this.esm.log(`${this.shardId}: GetShardIterator failed: ${errorText(e)} (retrying)`);
    }
  }

  start(onEnded: () => void): void {
    const fetch = this.fetchLoop();
    const lanes = this.lanes.map((l) => l.run());
    this.loops = [fetch, ...lanes];
    void Promise.all(this.loops).then(() => {
      if (this.readingDone && !this.esm.isStopping) onEnded();
    });
  }

  /** Records were stored on the stream: until a read that started after this comes back empty, the reader is not caught up. */
  stored(): void {
    this.storedCount += 1;
    this.caughtUp = false;
    if (this.esm.windowsCut) this.pollWake.notify();
  }

  wakePoll(): void {
    this.pollWake.notify();
  }

  /** The local Kinesis pushed: records were stored on the stream. */
  pushed(): void {
    this.pushPending = true;
    this.pushWake.notify();
  }

  wakeLanes(): void {
    for (const l of this.lanes) l.wake.notify();
  }

  async stop(): Promise<void> {
    this.pushWake.notify();
    this.pollWake.notify();
    this.fetchWake.notify();
    for (const l of this.lanes) l.wake.notify();
    await Promise.all(this.loops);
  }

  get config(): KinesisEsmConfig {
    return this.esm.config;
  }

  get finishedReading(): boolean {
    return this.readingDone;
  }

  stats(): ShardStats {
    const cp = this.checkpoints.get(this.shardId);
    return {
      ...(cp?.sequenceNumber ? { checkpoint: cp.sequenceNumber } : {}),
      ended: cp?.ended === true,
      caughtUp: this.caughtUp || this.readingDone,
      buffered: this.buffered,
      inFlight: this.lanes.some((l) => l.busy),
    };
  }

  /** Records are handled: advance the checkpoint over the handled prefix of the shard. */
  markDone(records: readonly StreamRecord[]): void {
    if (records.length === 0) return;
    for (const r of records) this.done.add(r.sequenceNumber);
    this.buffered -= records.length;
    for (const r of records) this.bufferedBytes -= r.json.length;
    const c = this.esm.counters;
    c.records += records.length;
    const last = records[records.length - 1];
    if (last) c.iteratorAgeMs = Date.now() - last.arrivalMs;
    let advanced: string | undefined;
    while (this.orderHead < this.order.length) {
      const seq = this.order[this.orderHead] as string;
      if (!this.done.has(seq)) break;
      this.done.delete(seq);
      advanced = seq;
      this.orderHead += 1;
    }
    if (this.orderHead > 4096 && this.orderHead * 2 > this.order.length) {
      this.order.splice(0, this.orderHead);
      this.orderHead = 0;
    }
    if (advanced !== undefined) this.checkpoints.advance(this.shardId, advanced);
    this.fetchWake.notify();
  }

  /** Records before the starting position: checkpointed past without being delivered. */
  private skip(records: readonly StreamRecord[]): void {
    const last = records[records.length - 1];
    if (!last) return;
    this.lastFetched = last.sequenceNumber;
    if (this.orderHead >= this.order.length) this.checkpoints.advance(this.shardId, last.sequenceNumber);
  }

  private async initialIterator(): Promise<string | undefined> {
    const cfg = this.config;
    const cp = this.checkpoints.get(this.shardId);
    const base = { StreamName: cfg.streamName, ShardId: this.shardId };
    let input: ConstructorParameters<typeof GetShardIteratorCommand>[0];
    const after = this.lastFetched ?? cp?.sequenceNumber;
    if (after) {
      input = { ...base, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: after };
    } else if (this.isChild || cfg.startingPosition === 'TRIM_HORIZON') {
      input = { ...base, ShardIteratorType: 'TRIM_HORIZON' };
    } else if (cfg.startingPosition === 'LATEST' && this.esm.latestIsFresh) {
      input = { ...base, ShardIteratorType: 'LATEST' };
    } else {
      // AT_TIMESTAMP, or LATEST resumed in a later run (LATEST is fixed when the mapping is first
      // created; see CheckpointStore.originMs). Read from TRIM_HORIZON and skip older records:
      // kinesalite never answers an AT_TIMESTAMP GetShardIterator when no record is that recent.
      this.skipBeforeMs =
        cfg.startingPosition === 'AT_TIMESTAMP' ? (cfg.startingPositionTimestamp ?? 0) * 1000 : this.checkpoints.originMs();
      input = { ...base, ShardIteratorType: 'TRIM_HORIZON' };
    }
    const out = await this.deps.kinesis.send(new GetShardIteratorCommand(input), { abortSignal: this.esm.abortSignal });
    return out.ShardIterator;
  }

  private async fetchLoop(): Promise<void> {
    const esm = this.esm;
    let iterator = this.iterator;
    let failures = 0;
    while (!esm.isStopping) {
      try {
        if (!iterator) iterator = await this.initialIterator();
        if (!iterator) {
          this.readingDone = true;
          break;
        }
        if (this.buffered >= this.readAhead || this.bufferedBytes >= this.readAheadBytes) {
          await this.fetchWake.wait(1000);
          continue;
        }
        this.pushPending = false;
        const storedBeforeRead = this.storedCount;
        const out = await this.deps.kinesis.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: Math.min(MAX_SHARD_READ, this.readAhead - this.buffered) }),
          { abortSignal: esm.abortSignal },
        );
        failures = 0;
        let records = (out.Records ?? []).map((r) => this.toRecord(r));
        if (this.skipBeforeMs !== undefined && records.length > 0) {
          const from = this.skipBeforeMs;
          const keep = records.findIndex((r) => r.arrivalMs >= from);
          const skipped = keep < 0 ? records : records.slice(0, keep);
          if (keep >= 0) {
            records = records.slice(keep);
            this.skipBeforeMs = undefined;
          } else records = [];
          this.skip(skipped);
        }
        if (records.length > 0) {
          this.caughtUp = false;
          this.buffered += records.length;
          for (const r of records) {
            this.bufferedBytes += r.json.length;
            this.order.push(r.sequenceNumber);
            const lane = this.lanes[laneOf(r.partitionKey, this.lanes.length)] as Lane;
            lane.push(r);
          }
          this.lastFetched = records[records.length - 1]?.sequenceNumber;
        }
        if (!out.NextShardIterator) {
          this.readingDone = true; // closed shard read to its end
          break;
        }
        iterator = out.NextShardIterator;
        if (records.length === 0) {
          // Caught up only if nothing was stored while this read was on its way (it may have missed it).
          this.caughtUp = this.storedCount === storedBeforeRead;
          if (esm.pushed) {
            // No timer: the next read is the push of the next stored records (or stop).
            if (!this.pushPending && !esm.isStopping) await this.pushWake.wait();
          } else if (!(esm.windowsCut && !this.caughtUp) && !esm.isStopping) {
            // AWS's pace for a caught-up shard; a bounded input (windows cut) reads stored records at once.
            await this.pollWake.wait(this.deps.idlePollMs ?? 1000);
          }
        }
      } catch (e) {
        if (esm.isStopping) break;
        failures += 1;
        const name = e instanceof Error ? e.name : '';
        if (name === 'ExpiredIteratorException' || name === 'InvalidArgumentException') iterator = undefined;
        if (failures === 1 || failures % 50 === 0) esm.log(`${this.shardId}: ${errorText(e)} (retrying)`);
        await esm.sleep(Math.min(100 * 2 ** Math.min(failures, 5), 3000));
      }
    }
    for (const l of this.lanes) l.wake.notify();
  }

  private toRecord(r: _Record): StreamRecord {
    return toStreamRecord(this.esm.eventContext, {
      shardId: this.shardId,
      sequenceNumber: r.SequenceNumber ?? '0',
      partitionKey: r.PartitionKey ?? '',
      data: r.Data ?? new Uint8Array(),
      arrivalMs: r.ApproximateArrivalTimestamp ? r.ApproximateArrivalTimestamp.getTime() : Date.now(),
    });
  }
}

/** One of a shard's ParallelizationFactor in-order batch pipelines. */
class Lane {
  readonly wake = new Signal();
  private queue: StreamRecord[] = [];
  private head = 0;
  /** When the oldest queued record was received (start of the batching window). */
  private windowStart: number | undefined;
  busy = false;

  constructor(private readonly reader: ShardReader) {}

  push(r: StreamRecord): void {
    if (this.size() === 0) this.windowStart = Date.now();
    this.queue.push(r);
    this.wake.notify();
  }

  private size(): number {
    return this.queue.length - this.head;
  }

  async run(): Promise<void> {
    const esm = this.reader.esm;
    const cfg = esm.config;
    for (;;) {
      if (esm.isStopping) return;
      const size = this.size();
      if (size === 0) {
        if (this.reader.finishedReading) return;
        await this.wake.wait(1000);
        continue;
      }
      const pending = this.queue.slice(this.head, this.head + cfg.batchSize);
      const n = batchLength(pending, cfg.batchSize);
      const full = n >= cfg.batchSize || n < pending.length; // count or 6 MB reached
      const windowMs = cfg.maxBatchingWindowSeconds * 1000;
      const waited = Date.now() - (this.windowStart ?? 0);
      if (!full && !this.reader.finishedReading && !esm.windowsCut && waited < windowMs) {
        await this.wake.wait(windowMs - waited);
        continue;
      }
      const batch = this.queue.slice(this.head, this.head + n);
      this.head += n;
      if (this.head > 8192 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.windowStart = this.size() > 0 ? Date.now() : undefined;
      this.busy = true;
      try {
        await esm.processBatch(this.reader, batch);
      } catch (e) {
        esm.log(`batch on ${this.reader.shardId} failed unexpectedly: ${errorText(e)}`);
      } finally {
        this.busy = false;
      }
    }
  }
}

function accountOf(arn: string): string {
  return arn.split(':')[4] || '000000000000';
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** A fresh mapping UUID (the deployer derives stable ones from the template instead). */
export function newMappingUuid(): string {
  return randomUUID();
}
