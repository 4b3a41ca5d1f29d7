// What `npm run replay` will do, decided before it touches anything (and all that --dry-run
// prints): the ranges to re-drive through the mapper — the job's mapper failure records, the open
// gaps no failure record covers (their records are read from the stream after the gap's start),
// or one explicit range — and what it cannot do (reducer failure records, gaps whose start is
// unknown). Pure: the inputs are read by run.ts.
import { compareSequenceNumbers } from '../../../functions/core/positions';
import { openGaps, type Gap, type MapperProgress } from '../../../functions/core/progress';
import { gapCovers } from '../../../functions/core/protocol/replay';
import { isFunction, type FailureRange } from './failures';

/** One range to replay: [first, last], or (after, last] when only the record before it is known. */
export interface ReplayRange {
  readonly shardId: string;
  readonly first?: string;
  readonly after?: string;
  readonly last: string;
  readonly fromFailureRecord: boolean;
  /** Where it comes from, for the terminal. */
  readonly source: string;
}

export interface ReplayPlanned {
  readonly ranges: ReplayRange[];
  /** Things the tool cannot do: each makes it exit non-zero. */
  readonly problems: string[];
  readonly openGaps: { shardId: string; gap: Gap }[];
}

export interface PlanInput {
  readonly failures: readonly FailureRange[];
  readonly mapperFunction: string;
  readonly reducerFunction: string;
  readonly mappers: readonly MapperProgress[];
  /** --shard/--from-seq/--to-seq: replay only this. */
  readonly explicit?: { shardId: string; first: string; last: string };
}

export function planReplayRun(input: PlanInput): ReplayPlanned {
  const problems: string[] = [];
  const gaps = input.mappers.flatMap((m) => openGaps(m).map((gap) => ({ shardId: m.shardId, gap })));
  if (input.explicit) {
    const { shardId, first, last } = input.explicit;
    if (compareSequenceNumbers(first, last) > 0) problems.push(`--from-seq ${first} is after --to-seq ${last}; swap them`);
    return { ranges: problems.length ? [] : [{ shardId, first, last, fromFailureRecord: false, source: 'the range given' }], problems, openGaps: gaps };
  }
  const ranges: ReplayRange[] = [];
  for (const f of input.failures) {
    if (isFunction(f.functionArn, input.mapperFunction)) {
      ranges.push({ shardId: f.shardId, first: f.first, last: f.last, fromFailureRecord: true, source: f.key });
    } else if (isFunction(f.functionArn, input.reducerFunction)) {
      problems.push(
        `${f.key}: a reducer batch (shuffle ${f.shardId} ${f.first}..${f.last}) was skipped; replay re-drives mapper batches only — re-run the mapper batches it came from with --shard/--from-seq/--to-seq if they are in a gap, or reprocess the affected windows`,
      );
    }
  }
  for (const { shardId, gap } of gaps) {
    const covered = ranges.some((r) => r.shardId === shardId && r.first !== undefined && gapCovers(gap, r.first, r.last));
    if (covered) continue;
    const start = gap.replayedThrough ?? gap.after;
    if (start === null) {
      problems.push(`shard ${shardId}: a gap up to ${gap.to} has no failure record and no known start; pass --shard ${shardId} --from-seq <its first record> --to-seq ${gap.to}, or --abandon-gap ${gap.to}`);
      continue;
    }
    ranges.push({ shardId, after: start, last: gap.to, fromFailureRecord: false, source: `the open gap ${gap.after ?? 'start'}..${gap.to}` });
  }
  return { ranges, problems, openGaps: gaps };
}
