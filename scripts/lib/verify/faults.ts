// Verifier, fault plan: which faults are armed before which round, the closer crash at the end of
// input, and the report of what actually fired (cloud.faults.fired() plus each armed service
// fault's own counter). Faults are counted from the moment they are armed (local/faults.ts), so
// arming per round spreads them over the run: a crash while late events are flowing (round 2+)
// exercises more than a crash in the first batch, when the watermark is still −∞.
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import type { ArmedServiceFault, LocalCloud } from '../../../local/cloud';

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
  /** Round before which it is armed (0-based), or 'drain'. */
  round: number | 'drain';
  description: string;
  /** How to tell whether it fired: a function fault's target and kind, or a service fault's handle. */
  match: { target: string; kind: string } | { armed: ArmedServiceFault };
}

export interface FaultReportRow {
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

/** Arms the faults planned for `round` (0-based) of `rounds`; returns what was armed. */
export function armRound(cloud: LocalCloud, t: FaultTargets, round: number, rounds: number): PlannedFault[] {
  const last = rounds - 1;
  // With fewer than three rounds, later slots collapse onto the last round.
  const slot = (n: number) => Math.min(n, last);
  const planned: PlannedFault[] = [];
  const fn = (description: string, target: string, kind: string) => planned.push({ round, description, match: { target, kind } });
  const svc = (description: string, armed: ArmedServiceFault) => planned.push({ round, description, match: { armed } });

  if (round === slot(0)) {
    cloud.faults.duplicateBatch(t.reducer, { batch: 2 });
    fn('reducer: shuffle batch 2 delivered twice', t.reducer, 'duplicateBatch');
    svc('Firehose rejected/: half the records of 1 PutRecordBatch fail', cloud.faults.failFirehoseRecords({ stream: t.rejectedDelivery, times: 1, fraction: 0.5 }));
    svc(
      'Kinesis shuffle: half the records of 2 mapper PutRecords fail',
      cloud.faults.throttleKinesis({ stream: t.shuffleStream, operation: 'PutRecords', times: 2, perRecord: { fraction: 0.5 } }),
    );
  }
  if (round === slot(1)) {
    // Calls 1–3 of a mapper batch: progress read, write-ahead, shuffle PutRecords. Dying right
    // after the 3rd leaves its partials on the shuffle stream and the batch unacknowledged; the
    // retry re-emits them (the fence must skip them) and only then writes late/ and rejected/.
    cloud.faults.crashAfter(t.mapper, { invocation: 1, afterCalls: 3 });
    fn('mapper: crash mid-batch, after its shuffle put (first batch of the round)', t.mapper, 'crashAfterCalls');
    cloud.faults.timeout(t.reducer, { invocation: 1, afterMs: 100 });
    fn('reducer: timed out 100 ms into a batch (first of the round)', t.reducer, 'timeout');
    svc('DynamoDB: 2 BatchGetItem throttled', cloud.faults.throttleDynamo({ table: t.table, operations: ['BatchGetItem'], times: 2 }));
    svc('Firehose results/: half the records of 2 PutRecordBatch fail', cloud.faults.failFirehoseRecords({ stream: t.resultsDelivery, times: 2, fraction: 0.5 }));
  }
  if (round === slot(2)) {
    cloud.faults.duplicateBatch(t.mapper, { batch: 1 });
    fn('mapper: input batch delivered twice (first of the round)', t.mapper, 'duplicateBatch');
    svc('DynamoDB: 3 PutItem throttled', cloud.faults.throttleDynamo({ table: t.table, operations: ['PutItem'], times: 3 }));
    svc('DynamoDB: 1 Query throttled', cloud.faults.throttleDynamo({ table: t.table, operations: ['Query'], times: 1 }));
    svc('Firehose late/: a third of the records of 2 PutRecordBatch fail', cloud.faults.failFirehoseRecords({ stream: t.lateDelivery, times: 2, fraction: 1 / 3 }));
  }
  return planned;
}

/** Windows still open (items in the sparse open-windows index, any close time). */
export async function openWindowCount(cloud: LocalCloud, t: FaultTargets): Promise<number> {
  let total = 0;
  // docs/CONTRACTS.md: GSI `open-windows`, partition `J#<job>#O#<0–7>`, sort key `closeAt`.
  for (let p = 0; p < 8; p++) {
    let start: Record<string, never> | undefined;
    do {
      const page = await cloud.clients.dynamodb.send(
        new QueryCommand({
          TableName: t.table,
          IndexName: 'open-windows',
          KeyConditionExpression: 'openPk = :p',
          ExpressionAttributeValues: { ':p': { S: `J#${t.job}#O#${p}` } },
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
export async function drain(cloud: LocalCloud, t: FaultTargets, withFaults: boolean, planned: PlannedFault[]): Promise<DrainOutcome> {
  cloud.scheduler.stop();
  const due = await openWindowCount(cloud, t);
  const outcome: DrainOutcome = { due };
  if (withFaults && due > 0) {
    const afterCalls = 1 + 8 + Math.ceil(due / 100) + Math.ceil(due / 500);
    cloud.faults.crashAfter(t.closer, { invocation: 1, afterCalls });
    planned.push({ round: 'drain', description: `closer: crash after emitting, before closing (drain, call ${afterCalls})`, match: { target: t.closer, kind: 'crashAfterCalls' } });
    const first = await cloud.runtime.invoke(t.closer, { drain: true });
    outcome.crash = { afterCalls, message: first.ok ? 'the closer did not crash' : first.payload.slice(0, 200) };
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
    const fired = 'armed' in p.match ? p.match.armed.fired : log.filter((f) => 'target' in p.match && f.target === p.match.target && f.kind === p.match.kind).length;
    return { description: p.description, armed: p.round === 'drain' ? 'drain' : `round ${p.round + 1}`, fired };
  });
}
