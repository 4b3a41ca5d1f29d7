// The job registry: every job that can be deployed, by name. Functions find their job here
// through RIFFLE_JOB; the CDK app selects from it with the `riffle:jobs` context.
import type { Job } from '../functions/core/job';
import clickstream from './clickstream';
import clickstreamSessions from './clickstream-sessions';
import sensorAverages from './sensor-averages';
import trendingHashtags from './trending-hashtags';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const jobs: Readonly<Record<string, Job<any, any>>> = Object.fromEntries(
  [sensorAverages, trendingHashtags, clickstream, clickstreamSessions].map((job) => [job.name, job]),
);

export function getJob(name: string): Job<unknown> {
  const job = jobs[name];
  if (!job) throw new Error(`unknown job '${name}'; known jobs: ${Object.keys(jobs).join(', ')} (defined in jobs/)`);
  return job as Job<unknown>;
}
