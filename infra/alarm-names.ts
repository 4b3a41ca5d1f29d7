// The names of the stack's CloudWatch alarms (infra/constructs/operations.ts creates them), for
// the readers that find them by name — the console's pipeline view. No CDK import: the console
// loads this at run time. test/infra/stack.test.ts checks the template has exactly these alarms.
import { stackName } from './outputs';

/** Alarms of each job, named `Riffle-<job>-<suffix>`. */
export const JOB_ALARMS = [
  'watermark-held',
  'mapper-iterator-age',
  'reducer-iterator-age',
  'mapper-errors',
  'reducer-errors',
  'closer-errors',
  'mapper-throttles',
  'reducer-throttles',
  'closer-throttles',
  'results-delivery-freshness',
  'results-delivery-success',
  'late-delivery-freshness',
  'late-delivery-success',
  'rejected-delivery-freshness',
  'rejected-delivery-success',
  'rejected-rate',
] as const;

/** Alarms of each stack (one per input source), named `Riffle-<source>-<suffix>`. */
export const STACK_ALARMS = ['failed-batches', 'delivery-errors', 'state-throttled-requests', 'state-throttle-events', 'state-index-throttle-events'] as const;

export function jobAlarmNames(job: string): string[] {
  return JOB_ALARMS.map((suffix) => `Riffle-${job}-${suffix}`);
}

export function stackAlarmNames(source: string): string[] {
  return STACK_ALARMS.map((suffix) => `${stackName(source)}-${suffix}`);
}
