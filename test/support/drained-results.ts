// The final results of a job on a local cloud: wait until the pipeline is idle, drain the closer
// (the input is bounded), flush Firehose and read the results the `results` view would keep.
import { S3Client } from '@aws-sdk/client-s3';
import type { LocalCloud } from '../../local/cloud';
import type { outputKey } from '../../infra/outputs';
import { latestResults, readJsonLines } from '../../scripts/lib/output-reader';

export async function drainedResults(
  cloud: LocalCloud,
  name: (key: Parameters<typeof outputKey>[1]) => string,
  job: string,
  wait: { timeoutMs: number; settleMs: number },
): Promise<Record<string, unknown>[]> {
  await cloud.waitForIdle(wait);
  const drained = await cloud.runtime.invoke(name('CloserFunction'), { drain: true });
  if (!drained.ok) throw new Error(`the closer's drain failed: ${drained.payload}`);
  await cloud.server.firehose.flushAll();
  const s3 = new S3Client({ endpoint: cloud.endpoint, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, forcePathStyle: true });
  try {
    return latestResults(await readJsonLines(s3, name('Bucket'), `results/job=${job}/`));
  } finally {
    s3.destroy();
  }
}
