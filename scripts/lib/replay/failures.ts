// The on-failure destination's records, as `npm run replay` reads them: AWS's documented Kinesis
// failure record (requestContext.functionArn, KinesisBatchInfo.shardId/startSequenceNumber/
// endSequenceNumber) under its own key layout aws/lambda/<esm-uuid>/<shard>/…, written by the
// event source mapping on AWS and LocalStack and by the embedded cloud's ESM.
import type { S3Client } from '@aws-sdk/client-s3';
import { compareSequenceNumbers } from '../../../functions/core/positions';
import { getObjectBytes, listObjects } from '../output-reader';

/** The S3 prefix AWS writes Kinesis on-failure records under. */
export const FAILURE_PREFIX = 'aws/lambda/';

/** One skipped batch: its shard and sequence range, and which function it failed in. */
export interface FailureRange {
  readonly key: string;
  readonly functionArn: string;
  readonly condition: string;
  readonly shardId: string;
  readonly first: string;
  readonly last: string;
  readonly batchSize: number;
}

const DIGITS = /^\d+$/;

/** A failure record's range, or why the object is not one (a foreign object under the prefix). */
export function parseFailureRecord(key: string, text: string): FailureRange | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return `${key}: not JSON`;
  }
  const record = json as { requestContext?: { functionArn?: unknown; condition?: unknown }; KinesisBatchInfo?: Record<string, unknown> };
  const info = record.KinesisBatchInfo;
  const first = info?.startSequenceNumber;
  const last = info?.endSequenceNumber;
  if (!info || typeof info.shardId !== 'string' || typeof first !== 'string' || typeof last !== 'string' || !DIGITS.test(first) || !DIGITS.test(last)) {
    return `${key}: not a Kinesis failure record (no KinesisBatchInfo with shardId and start/end sequence numbers)`;
  }
  return {
    key,
    functionArn: String(record.requestContext?.functionArn ?? ''),
    condition: String(record.requestContext?.condition ?? ''),
    shardId: info.shardId,
    first,
    last,
    batchSize: typeof info.batchSize === 'number' ? info.batchSize : 0,
  };
}

/** Whether a function ARN (possibly qualified) names `functionName`. */
export function isFunction(functionArn: string, functionName: string): boolean {
  const name = functionArn.split(':function:')[1]?.split(':')[0];
  return name === functionName || functionArn === functionName;
}

/** Every failure record in the bucket, in shard and sequence order; unreadable objects are reported, not skipped silently. */
export async function readFailureRanges(s3: S3Client, bucket: string): Promise<{ ranges: FailureRange[]; problems: string[] }> {
  const ranges: FailureRange[] = [];
  const problems: string[] = [];
  for (const object of await listObjects(s3, bucket, FAILURE_PREFIX)) {
    const parsed = parseFailureRecord(object.key, (await getObjectBytes(s3, bucket, object.key)).toString('utf8'));
    if (typeof parsed === 'string') problems.push(parsed);
    else ranges.push(parsed);
  }
  ranges.sort((a, b) => (a.shardId === b.shardId ? compareSequenceNumbers(a.first, b.first) : a.shardId < b.shardId ? -1 : 1));
  return { ranges, problems };
}
