// Powertools logger and metrics shared by the handlers: structured JSON logs with the Lambda
// context, and CloudWatch metrics as EMF. Namespace and `service` come from the environment the
// stack sets (POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME); the only extra dimension is
// `job` — the alarms in infra/ match exactly these dimensions (functions/contract/metrics.ts).
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, type FunctionRole } from '../contract/metrics';

export function powertools(role: FunctionRole, job: string): { logger: Logger; metrics: Metrics } {
  const logger = new Logger({ persistentLogAttributes: { job, role } });
  const metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE });
  metrics.setDefaultDimensions({ job });
  return { logger, metrics };
}
