// A reprocess run's checkpoint, a small JSON file (written atomically): the run id (its revision),
// what it reprocesses, where each shard's read ended when the run began, and how many of its
// results were delivered. A run that finds an unfinished checkpoint for the same job, range and
// definition resumes it: it reads the same input (up to the recorded ends), computes the same rows,
// and delivers from where the crashed run stopped; rows delivered twice are identical and the
// `results` view keeps one.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Checkpoint {
  readonly runId: number;
  readonly target: string;
  readonly job: string;
  readonly jobVersion: number;
  /** Fingerprint hash of the definition (job-fingerprint.ts): a changed job starts a new run. */
  readonly definition: string;
  readonly fromMs: number;
  readonly toMs: number;
  /** Per shard, the last sequence number the run reads (undefined: nothing to read there). */
  shards?: Record<string, string | null>;
  /** Results of the run, and how many of them (in their sorted order) are delivered. */
  total?: number;
  delivered: number;
  done: boolean;
}

export function checkpointFile(dir: string, target: string, job: string): string {
  return path.join(dir, `${target}-${job}.json`);
}

export function readCheckpoint(file: string): Checkpoint | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Checkpoint;
  } catch {
    return undefined;
  }
}

export function writeCheckpoint(file: string, checkpoint: Checkpoint): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(checkpoint, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** Whether `found` is an unfinished run of the same reprocess (then it is resumed). */
export function resumable(found: Checkpoint | undefined, wanted: Pick<Checkpoint, 'target' | 'job' | 'definition' | 'fromMs' | 'toMs'>): found is Checkpoint {
  return found !== undefined && !found.done && found.shards !== undefined && found.target === wanted.target && found.job === wanted.job && found.definition === wanted.definition && found.fromMs === wanted.fromMs && found.toMs === wanted.toMs;
}
