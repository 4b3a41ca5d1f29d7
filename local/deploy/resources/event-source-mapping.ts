// AWS::Lambda::EventSourceMapping: Kinesis sources become local pollers (batch size and window,
// starting position, parallelization, bisect, retries, maximum record age, partial batch
// responses, S3 on-failure destination) — on an enhanced fan-out consumer, a push subscription
// instead of a poller; other sources are reported as not polled. Like
// CreateEventSourceMapping on AWS, a mapping whose function role cannot read the stream is
// refused at deployment (when IAM is enforced).
import { DescribeStreamConsumerCommand } from '@aws-sdk/client-kinesis';
import type { KinesisEsmConfig, StartingPosition } from '../../esm';
import { stableUuid } from '../names';
import type { DeployedResource, Handler, HandlerArgs, ResourceStatus } from '../types';
import { bool, isRecord, num, str } from './common';

/** What Lambda's poller needs on the stream, and checks when the mapping is created. */
const STREAM_READ_ACTIONS = ['kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:DescribeStream', 'kinesis:ListShards'];

function checkStreamAccess(a: HandlerArgs, roleArn: string | undefined, streamArn: string): void {
  const iam = a.opts.iam;
  if (!iam?.enforcing || !roleArn) return;
  const missing = STREAM_READ_ACTIONS.filter((action) => iam.allows(roleArn, action, streamArn) === false);
  if (missing.length === 0) return;
  throw new Error(
    `InvalidParameterValueException: Cannot access stream ${streamArn}. Please ensure the role can perform the GetRecords, GetShardIterator, ` +
      `DescribeStream, and ListShards Actions on your stream in IAM. (Role ${roleArn} is not allowed ${missing.join(', ')}; run with --no-iam to skip IAM locally.)`,
  );
}

export const eventSourceMapping: Handler = async (a) => {
  const uuid = stableUuid(a.st.scope, a.logicalId);
  const arn = `arn:aws:lambda:${a.st.scope.region}:${a.st.scope.accountId}:event-source-mapping:${uuid}`;
  const result = (status: ResourceStatus): DeployedResource => ({
    logicalId: a.logicalId,
    type: a.resource.Type,
    physicalId: uuid,
    status,
    attributes: { Id: uuid, EventSourceMappingArn: arn },
  });
  let source = str(a.props['EventSourceArn']) ?? '';
  if (!/^arn:[^:]+:kinesis:/.test(source)) {
    a.warn(`event source mapping ${a.logicalId} (${source || 'no EventSourceArn'}) is not polled locally: only Kinesis sources are`);
    return result('skipped');
  }
  // An enhanced fan-out consumer: the mapping reads its stream when the local Kinesis pushes.
  let consumerArn: string | undefined;
  if (source.includes('/consumer/')) {
    const described = await a.opts.clients.kinesis.send(new DescribeStreamConsumerCommand({ ConsumerARN: source })).catch((e: unknown) => {
      throw new Error(`event source mapping ${a.logicalId}: consumer ${source} is not registered (${e instanceof Error ? e.message : String(e)})`);
    });
    consumerArn = source;
    source = described.ConsumerDescription?.StreamARN ?? source.slice(0, source.indexOf('/consumer/'));
  }
  const fnName = a.opts.runtime.resolve(str(a.props['FunctionName']) ?? '');
  if (!fnName) {
    a.warn(`event source mapping ${a.logicalId}: function ${String(a.props['FunctionName'])} is not running locally; mapping skipped`);
    return result('skipped');
  }
  for (const [prop, what] of [
    ['FilterCriteria', 'records are not filtered: the function receives every record'],
    ['TumblingWindowInSeconds', 'tumbling windows (state passing) are not emulated'],
    ['ScalingConfig', 'ignored'],
    ['KmsKeyArn', 'ignored'],
  ] as const) {
    if (a.props[prop] !== undefined && !(prop === 'TumblingWindowInSeconds' && num(a.props[prop]) === 0)) a.warn(`event source mapping ${a.logicalId}: ${prop}: ${what}`);
  }
  const dest = isRecord(a.props['DestinationConfig']) && isRecord(a.props['DestinationConfig']['OnFailure']) ? str(a.props['DestinationConfig']['OnFailure']['Destination']) : undefined;
  if (dest && !/^arn:[^:]+:s3:::/.test(dest)) a.warn(`event source mapping ${a.logicalId}: on-failure destination ${dest} is not emulated (only S3); failed batches are discarded`);
  const position = (str(a.props['StartingPosition']) ?? 'LATEST') as StartingPosition;
  const responseTypes = Array.isArray(a.props['FunctionResponseTypes']) ? a.props['FunctionResponseTypes'] : [];
  const def = a.opts.runtime.get(fnName);
  checkStreamAccess(a, def?.roleArn, source);
  const ts = num(a.props['StartingPositionTimestamp']);
  const config: KinesisEsmConfig = {
    uuid,
    logicalId: a.logicalId,
    functionName: fnName,
    functionArn: a.opts.runtime.functionArn(fnName),
    streamName: source.slice(source.indexOf(':stream/') + ':stream/'.length),
    streamArn: source,
    ...(consumerArn ? { consumerArn } : {}),
    batchSize: num(a.props['BatchSize']) ?? 100,
    maxBatchingWindowSeconds: num(a.props['MaximumBatchingWindowInSeconds']) ?? 0,
    startingPosition: position,
    ...(ts !== undefined ? { startingPositionTimestamp: ts } : {}),
    parallelizationFactor: num(a.props['ParallelizationFactor']) ?? 1,
    bisectBatchOnFunctionError: bool(a.props['BisectBatchOnFunctionError']) ?? false,
    maximumRetryAttempts: num(a.props['MaximumRetryAttempts']) ?? -1,
    maximumRecordAgeSeconds: num(a.props['MaximumRecordAgeInSeconds']) ?? -1,
    reportBatchItemFailures: responseTypes.includes('ReportBatchItemFailures'),
    ...(dest ? { onFailureDestination: dest } : {}),
    ...(def?.roleArn ? { invokeIdentityArn: def.roleArn } : {}),
  };
  const enabled = bool(a.props['Enabled']) ?? true;
  await a.opts.mappings.add(config, { enabled });
  a.opts.faults?.alias(a.logicalId, uuid);
  return result('registered');
};
