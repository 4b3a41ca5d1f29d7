// The job registry. A job is one file: jobs/<name>.ts, whose default export is defineJob({ name:
// '<name>', … }). Nothing else registers it — the CDK app deploys the jobs named in `riffle:jobs`
// (cdk.json) and each function bundles only its own job file; the scripts find every job here.
// Code jobs share (helpers, user-defined aggregates) lives in jobs/lib/.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { isDefinedJob, type Job } from '../functions/core/job';

const JOBS_DIR = __dirname;
const NOT_JOBS = new Set(['index.ts']);

/** Names of the jobs in jobs/, sorted. */
export function jobNames(): string[] {
  return readdirSync(JOBS_DIR)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts') && !NOT_JOBS.has(file))
    .map((file) => file.slice(0, -'.ts'.length))
    .sort();
}

/** The job's file, relative to the repository root (what a function's bundle imports). */
export function jobModule(name: string): string {
  return `jobs/${name}.ts`;
}

export class UnknownJobError extends Error {
  constructor(name: string) {
    super(`unknown job '${name}'; known jobs: ${jobNames().join(', ')} (a job is a file jobs/<name>.ts)`);
    this.name = 'UnknownJobError';
  }
}

/** Load jobs/<name>.ts; its default export must be a job defined with that name. */
export function loadJob(name: string): Job {
  const file = path.join(JOBS_DIR, `${name}.ts`);
  if (!/^[a-z][a-z0-9-]*$/.test(name) || !existsSync(file)) throw new UnknownJobError(name);
  // Synchronous on purpose: the registry is read at module load by the CDK app and the scripts.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loaded = (require(file) as { default?: unknown }).default;
  if (!isDefinedJob(loaded)) throw new Error(`jobs/${name}.ts: the default export is not a job; write export default defineJob({ name: '${name}', … })`);
  if (loaded.name !== name) throw new Error(`jobs/${name}.ts defines job '${loaded.name}'; name the file after its job (jobs/${loaded.name}.ts) or the job after its file`);
  return loaded;
}

/**
 * Every job in jobs/, by name. Each is loaded when first read, so importing the registry (the CDK
 * constructs do, for jobModule) costs nothing and a broken job fails only where it is used.
 */
export const jobs: Readonly<Record<string, Job>> = lazyRegistry();

function lazyRegistry(): Record<string, Job> {
  const registry: Record<string, Job> = {};
  const loaded = new Map<string, Job>();
  for (const name of jobNames()) {
    Object.defineProperty(registry, name, {
      enumerable: true,
      get: () => {
        let job = loaded.get(name);
        if (!job) loaded.set(name, (job = loadJob(name)));
        return job;
      },
    });
  }
  return Object.freeze(registry);
}

export function getJob(name: string): Job {
  const job = jobs[name];
  if (!job) throw new UnknownJobError(name);
  return job;
}
