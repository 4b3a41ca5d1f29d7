// Stack outputs: the names scripts need (producers, the query CLI, tests), under stable keys
// documented in docs/CONTRACTS.md ("Stack outputs"). No CDK imports, so scripts can import this to
// find a value in cdk-outputs.json: outputs[stackName(job.source)][outputKey(job.name, 'InputStream')].
export { stackName } from './config';

/** Per-job outputs (shared resources such as the input stream and bucket repeat under each job). */
export const JOB_OUTPUTS = [
  'InputStream',
  'ShuffleStream',
  'StateTable',
  'Bucket',
  'ResultsDelivery',
  'LateDelivery',
  'RejectedDelivery',
  'MapperFunction',
  'ReducerFunction',
  'CloserFunction',
  'GlueDatabase',
  'GlueTable',
  'AthenaWorkgroup',
] as const;
export type JobOutput = (typeof JOB_OUTPUTS)[number];

/** Per-stack outputs. */
/** InputArchive: only with the source setting inputArchive on (the archive's prefix in the bucket). */
export const STACK_OUTPUTS = ['Source', 'Jobs', 'Dashboard', 'InputArchive'] as const;
export type StackOutput = (typeof STACK_OUTPUTS)[number];

/** 'sensor-averages' → 'SensorAverages': job names in construct IDs and output keys. */
export function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** Output key of a job's value, e.g. outputKey('sensor-averages', 'InputStream') = 'SensorAveragesInputStream'. */
export function outputKey(job: string, output: JobOutput): string {
  return `${pascal(job)}${output}`;
}
