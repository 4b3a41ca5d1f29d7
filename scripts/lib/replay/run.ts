// `npm run replay` against one target: read the job's progress partition (open gaps) and the
// on-failure destination, plan (plan.ts), then re-drive each range through the deployed mapper in
// chunks (stream.ts), printing progress; or abandon a gap. Everything it could not do is collected
// and makes the command exit non-zero.
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { StateStore } from '../../../functions/commons/state-store';
import { parseProgressItems } from '../../../functions/core/progress';
import { abandonGap } from '../../../functions/core/protocol/replay';
import { jobOutput, type Target } from '../targets';
import { readFailureRanges } from './failures';
import { planReplayRun, type ReplayRange } from './plan';
import { chunks, invokeReplay, readRange, ReplayError, replayEvent } from './stream';

export interface ReplayOptions {
  readonly job: string;
  readonly dryRun: boolean;
  readonly explicit?: { shardId: string; first: string; last: string };
  readonly abandon?: { shardId: string; gapTo: string };
}

export interface ReplaySummary {
  failureRecords: number;
  ranges: number;
  batches: number;
  records: number;
  partials: number;
  shuffleRecords: number;
  gapsClosed: number;
  /** Ranges the mapper found nothing to do for (already replayed, or processed). */
  nothingToDo: number;
  openGapsBefore: number;
  /** Failure records removed once their range was applied (so an old one is never replayed after its gap is forgotten). */
  failureRecordsRemoved: number;
  problems: string[];
}

function describe(range: ReplayRange): string {
  return `${range.shardId} ${range.first ?? `after ${range.after}`}..${range.last}`;
}

export async function runReplay(target: Target, options: ReplayOptions, log: (line: string) => void): Promise<ReplaySummary> {
  const config = target.clientConfig();
  const dynamo = new DynamoDBClient(config);
  const doc = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  const s3 = new S3Client(config);
  const kinesis = new KinesisClient(config);
  const lambda = new LambdaClient(config);
  const name = (key: Parameters<typeof jobOutput>[2]) => jobOutput(target, options.job, key);
  const summary: ReplaySummary = { failureRecords: 0, ranges: 0, batches: 0, records: 0, partials: 0, shuffleRecords: 0, gapsClosed: 0, nothingToDo: 0, openGapsBefore: 0, failureRecordsRemoved: 0, problems: [] };
  try {
    const store = new StateStore(doc, name('StateTable'));
    if (options.abandon) {
      const { shardId, gapTo } = options.abandon;
      const before = parseProgressItems(await store.readProgress(options.job)).mappers.find((m) => m.shardId === shardId);
      const gap = before?.gaps?.find((g) => g.to === gapTo && g.closed === undefined);
      if (!gap) throw new ReplayError(`shard ${shardId} has no open gap ending at ${gapTo}; run replay --dry-run to list the open gaps`);
      log(`abandoning the gap ${shardId} ${gap.after ?? 'start'}..${gap.to}: its records are lost for good; the watermark is released`);
      if (!options.dryRun) {
        await store.updateMapperProgress(options.job, shardId, (current) => current && abandonGap(current, gapTo));
        summary.gapsClosed++;
      }
      return summary;
    }
    const mappers = parseProgressItems(await store.readProgress(options.job)).mappers;
    const failures = options.explicit ? { ranges: [], problems: [] } : await readFailureRanges(s3, name('Bucket'));
    summary.failureRecords = failures.ranges.length;
    summary.problems.push(...failures.problems);
    const plan = planReplayRun({ failures: failures.ranges, mapperFunction: name('MapperFunction'), reducerFunction: name('ReducerFunction'), mappers, ...(options.explicit ? { explicit: options.explicit } : {}) });
    summary.problems.push(...plan.problems);
    summary.openGapsBefore = plan.openGaps.length;
    summary.ranges = plan.ranges.length;
    for (const { shardId, gap } of plan.openGaps) log(`open gap: ${shardId} ${gap.after ?? 'start'}..${gap.to}${gap.replayedThrough ? ` (replayed through ${gap.replayedThrough})` : ''}${gap.traced ? '' : ' (untraced)'}`);
    if (plan.ranges.length === 0) log('nothing to replay: no mapper failure records and no open gaps');
    const stream = name('InputStream');
    const streamArn = `arn:aws:kinesis:${target.region ?? 'us-east-1'}:000000000000:stream/${stream}`;
    const mapper = name('MapperFunction');
    for (const [i, range] of plan.ranges.entries()) {
      let records: Awaited<ReturnType<typeof readRange>>;
      try {
        records = await readRange(kinesis, stream, range.shardId, range);
      } catch (error) {
        summary.problems.push(`${describe(range)}: could not read it from ${stream} (${(error as Error).message}); if its records are past retention, --abandon-gap the gap`);
        continue;
      }
      const head = records[0];
      if (!head || (range.first !== undefined && head.sequenceNumber !== range.first) || records[records.length - 1]?.sequenceNumber !== range.last) {
        summary.problems.push(
          `${describe(range)}: ${records.length === 0 ? 'no records' : 'only part of the range'} could be read from ${stream} (past its retention?); if they are gone for good, run replay --shard ${range.shardId} --abandon-gap <the gap's end> (listed by --dry-run)`,
        );
        continue;
      }
      const request = { shardId: range.shardId, first: range.first ?? head.sequenceNumber, last: range.last, fromFailureRecord: range.fromFailureRecord };
      const parts = chunks(records);
      log(`[${i + 1}/${plan.ranges.length}] ${describe(range)}: ${records.length} records in ${parts.length} batch(es), from ${range.source}${options.dryRun ? ' (dry run: not sent)' : ''}`);
      if (options.dryRun) continue;
      let done = true;
      for (const part of parts) {
        const answer = await invokeReplay(lambda, mapper, replayEvent(part, request, streamArn, target.region ?? 'us-east-1'));
        if (answer.outcome === 'refused') {
          summary.problems.push(`${describe(range)}: the mapper refused: ${answer.reason ?? 'no reason given'}`);
          done = false;
          break;
        }
        if (answer.outcome === 'nothing') {
          summary.nothingToDo++;
          log(`  nothing to do: ${answer.reason ?? ''}`);
          break;
        }
        summary.batches++;
        summary.records += answer.records;
        summary.partials += answer.partials;
        summary.shuffleRecords += answer.shuffleRecords;
        if (answer.gapClosed) summary.gapsClosed++;
        log(`  ${part[0]?.sequenceNumber}..${part[part.length - 1]?.sequenceNumber}: ${answer.records} records, ${answer.partials} partials re-emitted${answer.gapClosed ? ', gap closed' : ''}`);
      }
      // Applied (or found applied): the failure record is consumed. The shard's item keeps only the
      // last closed gaps, so an old record replayed again after its gap was forgotten would count twice.
      if (done && range.fromFailureRecord) {
        await s3.send(new DeleteObjectCommand({ Bucket: name('Bucket'), Key: range.source }));
        summary.failureRecordsRemoved++;
      }
    }
    return summary;
  } finally {
    for (const client of [doc, dynamo, s3, kinesis, lambda]) client.destroy();
  }
}
