// Verifier, fault plan: which faults are armed before which round, the closer crash at the end of
// input, and the report of what actually fired (cloud.faults.fired() plus each armed service
// fault's own counter). Faults are counted from the moment they are armed (local/faults.ts), so
// arming per round spreads them over the run: a crash while late events are flowing (round 2+)
// exercises more than a crash in the first batch, when the watermark is still −∞.
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import type { ArmedServiceFault, LocalCloud } from '../../../local/cloud';
import { openPartitions, STATE_TABLE } from '../../../functions/contract/table';

/** The physical names the faults target (from the stack outputs). */
export interface FaultTargets {
  job: string;
  mapper: string;
  reducer: string;
  closer: string;
  table: string;
  shuffleStream: string;
  resultsDelivery: string;
  lateDelivery: string;
  rejectedDelivery: string;
}

export interface PlannedFault {
  id: string;
  category: string;
  /** Round before which it is armed (0-based), or 'drain'. */
  round: number | 'drain';
  description: string;
  /** How to tell whether it fired: a function fault's target and kind, a service fault's handle, or a count. */
  match: { target: string; kind: string } | { armed: ArmedServiceFault } | { count: () => number };
}

export interface FaultReportRow {
  id: string;
  category: string;
  description: string;
  armed: string;
  fired: number;
}

export interface DrainOutcome {
  /** Windows open when the input ended (closed by the drain). */
  due: number;
  /** The closer's crashed first drain attempt (undefined without faults or with nothing due). */
  crash?: { afterCalls: number; message: string };
}

interface FaultSpec {
  id: string;
  /** The kind of fault it stands for (the verdict wants each kind to fire). */
  category: string;
  /** Armed before round `slot` (0-based; with fewer rounds, the last round). */
  slot: number;
  description: string;
  arm(cloud: LocalCloud, t: FaultTargets): PlannedFault['match'];
}

/** The fault plan, in arming order. Ids name them for --skip-faults. */
export const FAULT_PLAN: readonly FaultSpec[] = [
  {
    id: 'reducer-duplicate',
    category: 'duplicate batch delivery',
    slot: 0,
    description: 'reducer: shuffle batch 2 delivered twice',
    arm: (c, t) => (c.faults.duplicateBatch(t.reducer, { batch: 2 }), { target: t.reducer, kind: 'duplicateBatch' }),
  },
  {
    id: 'firehose-rejected',
    category: 'Firehose partial failure',
    slot: 0,
    description: 'Firehose rejected/: half the records of 1 PutRecordBatch fail',
    arm: (c, t) => ({ armed: c.faults.failFirehoseRecords({ stream: t.rejectedDelivery, times: 1, fraction: 0.5 }) }),
  },
  {
    id: 'shuffle-partial',
    category: 'Kinesis partial failure',
    slot: 0,
    description: 'Kinesis shuffle: half the records of 2 mapper PutRecords fail',
    arm: (c, t) => ({ armed: c.faults.throttleKinesis({ stream: t.shuffleStream, operation: 'PutRecords', times: 2, perRecord: { fraction: 0.5 } }) }),
  },
  {
    // Calls 1–3 of a mapper batch: progress read, write-ahead, shuffle PutRecords. Dying right
    // after the 3rd leaves its partials on the shuffle stream and the batch unacknowledged; the
    // retry re-emits them (the fence must skip them) and only then writes late/ and rejected/.
    id: 'mapper-crash',
    category: 'mapper crash mid-batch',
    slot: 1,
    description: 'mapper: crash mid-batch, after its shuffle put (first batch of the round)',
    arm: (c, t) => (c.faults.crashAfter(t.mapper, { invocation: 1, afterCalls: 3 }), { target: t.mapper, kind: 'crashAfterCalls' }),
  },
  {
    id: 'reducer-timeout',
    category: 'function timeout',
    slot: 1,
    description: 'reducer: timed out 100 ms into a batch (first of the round)',
    arm: (c, t) => (c.faults.timeout(t.reducer, { invocation: 1, afterMs: 100 }), { target: t.reducer, kind: 'timeout' }),
  },
  {
    id: 'dynamo-batchget',
    category: 'DynamoDB throttling',
    slot: 1,
    description: 'DynamoDB: 2 BatchGetItem throttled',
    arm: (c, t) => ({ armed: c.faults.throttleDynamo({ table: t.table, operations: ['BatchGetItem'], times: 2 }) }),
  },
  {
    id: 'firehose-results',
    category: 'Firehose partial failure',
    slot: 1,
    description: 'Firehose results/: half the records of 2 PutRecordBatch fail',
    arm: (c, t) => ({ armed: c.faults.failFirehoseRecords({ stream: t.resultsDelivery, times: 2, fraction: 0.5 }) }),
  },
  {
    // A Lambda timeout as AWS produces it: the handler finished its work (partials, late/,
    // rejected/ out) but the invocation is reported as timed out 10 s after it started — well past
    // the reducer's 5 s batching window, so the retry runs after its partials were applied
    // and reads a watermark that its own first attempt advanced.
    id: 'mapper-timeout',
    category: 'function timeout',
    slot: 2,
    description: 'mapper: work done, then timed out at 10 s (first batch of the round)',
    arm: (c, t) => (c.faults.timeout(t.mapper, { invocation: 1, afterMs: 10_000 }), { target: t.mapper, kind: 'timeout' }),
  },
  {
    id: 'mapper-duplicate',
    category: 'duplicate batch delivery',
    slot: 2,
    description: 'mapper: input batch delivered twice (second of the round)',
    arm: (c, t) => (c.faults.duplicateBatch(t.mapper, { batch: 2 }), { target: t.mapper, kind: 'duplicateBatch' }),
  },
  {
    id: 'dynamo-put',
    category: 'DynamoDB throttling',
    slot: 2,
    description: 'DynamoDB: 3 PutItem throttled',
    arm: (c, t) => ({ armed: c.faults.throttleDynamo({ table: t.table, operations: ['PutItem'], times: 3 }) }),
  },
  {
    id: 'dynamo-query',
    category: 'DynamoDB throttling',
    slot: 2,
    description: 'DynamoDB: 1 Query throttled',
    arm: (c, t) => ({ armed: c.faults.throttleDynamo({ table: t.table, operations: ['Query'], times: 1 }) }),
  },
  {
    id: 'firehose-late',
    category: 'Firehose partial failure',
    slot: 2,
    description: 'Firehose late/: a third of the records of 2 PutRecordBatch fail',
    arm: (c, t) => ({ armed: c.faults.failFirehoseRecords({ stream: t.lateDelivery, times: 2, fraction: 1 / 3 }) }),
  },
];

/** The closer crash at the end of input (see drain()). */
export const CLOSER_CRASH = 'closer-crash';
export const FAULT_IDS = [...FAULT_PLAN.map((f) => f.id), CLOSER_CRASH];

/** Arms the faults planned for `round` (0-based) of `rounds`, except `skip`; returns what was armed. */
export function armRound(cloud: LocalCloud, t: FaultTargets, round: number, rounds: number, skip: ReadonlySet<string> = new Set()): PlannedFault[] {
  return FAULT_PLAN.filter((f) => Math.min(f.slot, rounds - 1) === round && !skip.has(f.id)).map((f) => ({
    id: f.id,
    category: f.category,
    round,
    description: f.description,
    match: f.arm(cloud, t),
  }));
}

/** Windows still open (items in the sparse open-windows index, any close time). */
export async function openWindowCount(cloud: LocalCloud, t: FaultTargets): Promise<number> {
  let total = 0;
  for (const partition of openPartitions(t.job)) {
    let start: Record<string, never> | undefined;
    do {
      const page = await cloud.clients.dynamodb.send(
        new QueryCommand({
          TableName: t.table,
          IndexName: STATE_TABLE.openWindowsIndex,
          KeyConditionExpression: '#p = :p',
          ExpressionAttributeNames: { '#p': STATE_TABLE.openPartitionKey },
          ExpressionAttributeValues: { ':p': { S: partition } },
          Select: 'COUNT',
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      total += page.Count ?? 0;
      start = page.LastEvaluatedKey as Record<string, never> | undefined;
    } while (start);
  }
  return total;
}

/**
 * End of input: close everything with `{ drain: true }`. With faults, the first drain attempt is
 * crashed right after its last Firehose PutRecordBatch — results emitted, windows not yet flipped
 * to CLOSED — and the second attempt must re-emit the same versions (downstream keeps one per
 * resultId). The closer's calls for a tumbling/hopping drain: 1 progress Query, 8 open-index
 * Queries, ⌈due/100⌉ BatchGetItem, ⌈due/500⌉ PutRecordBatch (functions/closer.ts). The scheduler
 * is stopped first so that no scheduled run takes the armed crash.
 */
export async function drain(cloud: LocalCloud, t: FaultTargets, crash: boolean, planned: PlannedFault[]): Promise<DrainOutcome> {
  cloud.scheduler.stop();
  const due = await openWindowCount(cloud, t);
  const outcome: DrainOutcome = { due };
  if (crash && due > 0) {
    const afterCalls = 1 + 8 + Math.ceil(due / 100) + Math.ceil(due / 500);
    cloud.faults.crashAfter(t.closer, { invocation: 1, afterCalls });
    const first = await cloud.runtime.invoke(t.closer, { drain: true });
    // Counted as fired only if the invocation really died (the fault log records arming hits).
    const crashed = !first.ok;
    planned.push({
      id: CLOSER_CRASH,
      category: 'closer crash',
      round: 'drain',
      description: `closer: crash after emitting, before closing (drain, call ${afterCalls})`,
      match: { count: () => (crashed ? 1 : 0) },
    });
    outcome.crash = { afterCalls, message: crashed ? first.payload.slice(0, 200) : 'the closer did not crash' };
  }
  const closed = await cloud.runtime.invoke(t.closer, { drain: true });
  if (!closed.ok) throw new Error(`the closer's drain failed: ${closed.payload}`);
  await cloud.waitForIdle({ timeoutMs: 120_000, settleMs: 500 });
  await cloud.server.firehose.flushAll();
  return outcome;
}

/** Planned faults with how often each fired (function faults from the fired log, service faults from their handles). */
export function faultReport(cloud: LocalCloud, planned: readonly PlannedFault[]): FaultReportRow[] {
  const log = cloud.faults.fired().functions;
  return planned.map((p) => {
    const m = p.match;
    const fired = 'armed' in m ? m.armed.fired : 'count' in m ? m.count() : log.filter((f) => f.target === m.target && f.kind === m.kind).length;
    return { id: p.id, category: p.category, description: p.description, armed: p.round === 'drain' ? 'drain' : `round ${p.round + 1}`, fired };
  });
}
