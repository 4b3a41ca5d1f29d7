// One deployment as the console sees it: the target (embedded cloud, LocalStack or AWS, from
// scripts/lib/targets.ts), SDK clients bound to it, and for each deployed job the names of its
// resources, read from the same outputs file `npm run produce` and `npm run query` read. Nothing
// here knows which target it is talking to beyond what targets.ts says.
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Job } from '../functions/core/job';
import { jobAlarmNames, stackAlarmNames } from '../infra/alarm-names';
import { jobs } from '../jobs';
import { deployedJobs, jobOutput, type Target } from '../scripts/lib/targets';
import type { AggregateInfo, JobInfo } from './api';

export interface JobResources {
  readonly job: Job;
  readonly info: JobInfo;
  readonly inputStream: string;
  readonly shuffleStream: string;
  readonly stateTable: string;
  readonly bucket: string;
  readonly functions: Readonly<Record<'mapper' | 'reducer' | 'closer', string>>;
  readonly deliveries: Readonly<Record<'results' | 'late' | 'rejected', string>>;
  /** The alarms infra/constructs/operations.ts names for this job and its stack. */
  readonly alarmNames: readonly string[];
}

export interface Deployment {
  readonly target: Target;
  readonly cloudwatch: CloudWatchClient;
  readonly dynamo: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly jobs: ReadonlyMap<string, JobResources>;
  destroy(): void;
}

const RANKED = new Set(['topK']);
const NUMERIC = new Set(['count', 'sum', 'mean', 'min', 'max', 'variance', 'stddev', 'quantile', 'distinct']);

function describeWindow(job: Job): string {
  const w = job.window;
  const d = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`);
  return w.type === 'tumbling' ? `tumbling ${d(w.sizeMs)}` : w.type === 'hopping' ? `hopping ${d(w.sizeMs)} every ${d(w.slideMs)}` : `session, gap ${d(w.gapMs)}`;
}

export function jobInfo(job: Job): JobInfo {
  const aggregates: AggregateInfo[] = Object.entries(job.aggregates).map(([name, a]) => ({
    name,
    kind: a.kind,
    shape: RANKED.has(a.kind) ? 'ranked' : NUMERIC.has(a.kind) ? 'numeric' : 'other',
  }));
  return { name: job.name, source: job.source, emit: job.emit, window: describeWindow(job), aggregates };
}

export function openDeployment(target: Target): Deployment {
  const config = target.clientConfig();
  const cloudwatch = new CloudWatchClient(config);
  const raw = new DynamoDBClient(config);
  const dynamo = DynamoDBDocumentClient.from(raw);
  const s3 = new S3Client(config);
  const resources = new Map<string, JobResources>();
  for (const name of deployedJobs(target)) {
    const job = jobs[name];
    if (!job) continue; // deployed from another checkout: not described by this one's jobs/
    const out = (key: Parameters<typeof jobOutput>[2]) => jobOutput(target, name, key);
    resources.set(name, {
      job,
      info: jobInfo(job),
      inputStream: out('InputStream'),
      shuffleStream: out('ShuffleStream'),
      stateTable: out('StateTable'),
      bucket: out('Bucket'),
      functions: { mapper: out('MapperFunction'), reducer: out('ReducerFunction'), closer: out('CloserFunction') },
      deliveries: { results: out('ResultsDelivery'), late: out('LateDelivery'), rejected: out('RejectedDelivery') },
      alarmNames: [...jobAlarmNames(name), ...stackAlarmNames(job.source)],
    });
  }
  return {
    target,
    cloudwatch,
    dynamo,
    s3,
    jobs: resources,
    destroy() {
      cloudwatch.destroy();
      dynamo.destroy();
      raw.destroy();
      s3.destroy();
    },
  };
}
