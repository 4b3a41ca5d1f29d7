// Powertools logger and metrics shared by the handlers: structured JSON logs with the Lambda
// context, and CloudWatch metrics as EMF. Namespace and service come from the environment the
// stack sets (POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME); the only extra dimension
// is `job` — the alarms in infra/ match exactly these dimensions (docs/CONTRACTS.md).
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const METRICS_NAMESPACE = 'Riffle';

export const METRIC = {
  events: 'Events',
  rejected: 'RejectedEvents',
  late: 'LateEvents',
  latePartials: 'LatePartials',
  partials: 'Partials',
  shuffleRecords: 'ShuffleRecords',
  duplicatePartials: 'DuplicatePartials',
  stateWrites: 'StateWrites',
  stateConflicts: 'StateConflicts',
  windowsClosed: 'WindowsClosed',
} as const;

export function powertools(role: 'mapper' | 'reducer' | 'closer', job: string): { logger: Logger; metrics: Metrics } {
  const logger = new Logger({ persistentLogAttributes: { job, role } });
  const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE });
  metrics.setDefaultDimensions({ job });
  return { logger, metrics };
}
