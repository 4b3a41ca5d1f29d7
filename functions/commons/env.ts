// The environment variables through which the CDK stack configures every Riffle function.
// Handlers read nothing else: the same bundle runs on AWS, LocalStack and the embedded cloud.
export const ENV = {
  /** Job name, e.g. 'sensor-averages' (looked up in jobs/index.ts, bundled into the function). */
  job: 'RIFFLE_JOB',
  /** DynamoDB table holding window state and per-shard watermark progress. */
  stateTable: 'RIFFLE_STATE_TABLE',
  /** Kinesis shuffle stream name (mapper → reducer). */
  shuffleStream: 'RIFFLE_SHUFFLE_STREAM',
  /** Firehose delivery stream for results/ . */
  resultsDelivery: 'RIFFLE_RESULTS_DELIVERY',
  /** Firehose delivery stream for late/ . */
  lateDelivery: 'RIFFLE_LATE_DELIVERY',
  /** Firehose delivery stream for rejected/ . */
  rejectedDelivery: 'RIFFLE_REJECTED_DELIVERY',
  /** Name of the closer function, invoked asynchronously by the reducer after its batches. */
  closerFunction: 'RIFFLE_CLOSER_FUNCTION',
  /** Number of shuffle buckets (partition keys) partials are packed into. */
  shuffleBuckets: 'RIFFLE_SHUFFLE_BUCKETS',
  /** Days a CLOSED window item is kept (for late detection) before DynamoDB TTL removes it. */
  closedRetentionDays: 'RIFFLE_CLOSED_RETENTION_DAYS',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/** Read a required variable; the error names it so a misconfigured deployment is obvious in logs. */
export function requireEnv(name: EnvName, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new Error(`environment variable ${name} is not set; it is set by the Riffle CDK stack (infra/)`);
  }
  return value;
}
