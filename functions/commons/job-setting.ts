// A function bundles exactly one job (its Lambda entry imports only jobs/<name>.ts); RIFFLE_JOB
// names the job the stack meant. A mismatch is a deployment bug: fail at cold start, loudly.
import type { Job } from '../core/job';

export function checkJobSetting(job: Job, configured: string): void {
  if (configured !== job.name) {
    throw new Error(`RIFFLE_JOB is '${configured}', but this function bundles job '${job.name}'; redeploy the stack (each job's functions bundle only their own job)`);
  }
}
