// Powertools logger and metrics shared by the handlers: structured JSON logs with the Lambda
// context, and CloudWatch metrics as EMF in namespace 'Riffle' with a `job` dimension (the
// alarms in infra/constructs/operations.ts read these names).
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
  watermarkLag: 'WatermarkLagMs',
} as const;

export function powertools(role: 'mapper' | 'reducer' | 'closer', job: string): { logger: Logger; metrics: Metrics } {
  const logger = new Logger({ serviceName: `riffle-${role}`, persistentLogAttributes: { job } });
  const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE, serviceName: `riffle-${role}` });
  metrics.setDefaultDimensions({ job });
  return { logger, metrics };
}
