// AWS::Kinesis::Stream: the stream with its shard count (ON_DEMAND streams get a fixed number of
// shards locally), retention, stream mode, server-side encryption and tags — each applied with
// the Kinesis API call CloudFormation itself makes, so DescribeStream and ListTagsForStream
// answer what the template configured. AWS::Kinesis::StreamConsumer: an enhanced fan-out
// consumer, registered with RegisterStreamConsumer (Ref and ConsumerARN: its ARN).
import {
  AddTagsToStreamCommand,
  CreateStreamCommand,
  DescribeStreamConsumerCommand,
  RegisterStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  IncreaseStreamRetentionPeriodCommand,
  StartStreamEncryptionCommand,
} from '@aws-sdk/client-kinesis';
import type { Handler, ResourceStatus } from '../types';
import { errorName, errorText, isRecord, nameFor, num, str, tagMap, waitUntil } from './common';

export const kinesisStream: Handler = async (a) => {
  const { kinesis } = a.opts.clients;
  const name = nameFor(a, 'kinesis', 'Name');
  const mode = isRecord(a.props['StreamModeDetails']) ? str(a.props['StreamModeDetails']['StreamMode']) : undefined;
  const onDemand = mode === 'ON_DEMAND';
  const shards = onDemand ? (a.opts.onDemandShards ?? 2) : (num(a.props['ShardCount']) ?? 1);
  if (onDemand) (a.opts.log ?? console.log)(`note ${a.st.stack.stackName}: stream ${name} is ON_DEMAND; created locally with ${shards} shards`);
  let status: ResourceStatus = 'created';
  try {
    await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards, StreamModeDetails: { StreamMode: onDemand ? 'ON_DEMAND' : 'PROVISIONED' } }));
  } catch (e) {
    if (errorName(e) !== 'ResourceInUseException') throw e;
    status = 'reused';
  }
  let open = 0;
  await waitUntil(async () => {
    const s = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    open = s.StreamDescriptionSummary?.OpenShardCount ?? 0;
    return s.StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
  }, `stream ${name} to become ACTIVE`);
  if (status === 'reused' && open !== shards) a.warn(`existing stream ${name} has ${open} open shards, the template asks for ${shards} (kept as is)`);
  const retention = num(a.props['RetentionPeriodHours']);
  if (status === 'created' && retention !== undefined && retention > 24) {
    await kinesis.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: name, RetentionPeriodHours: retention })).catch((e: unknown) => {
      a.warn(`stream ${name}: retention ${retention} h not applied (${errorText(e)}); records older than 24 h are trimmed`);
    });
  }
  const encryption = isRecord(a.props['StreamEncryption']) ? a.props['StreamEncryption'] : undefined;
  if (encryption && str(encryption['EncryptionType']) === 'KMS') {
    await kinesis.send(new StartStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: str(encryption['KeyId']) ?? 'alias/aws/kinesis' }));
  }
  const tags = tagMap(a.props['Tags']);
  if (Object.keys(tags).length > 0) await kinesis.send(new AddTagsToStreamCommand({ StreamName: name, Tags: tags }));
  const arn = `arn:aws:kinesis:${a.st.scope.region}:${a.st.scope.accountId}:stream/${name}`;
  return { logicalId: a.logicalId, type: a.resource.Type, physicalId: name, status, attributes: { Arn: arn } };
};

export const kinesisStreamConsumer: Handler = async (a) => {
  const { kinesis } = a.opts.clients;
  const streamArn = str(a.props['StreamARN']) ?? '';
  const name = str(a.props['ConsumerName']) ?? '';
  let status: ResourceStatus = 'created';
  let consumer: { ConsumerARN?: string; ConsumerName?: string; ConsumerStatus?: string; ConsumerCreationTimestamp?: Date } | undefined;
  try {
    consumer = (await kinesis.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: name }))).Consumer;
  } catch (e) {
    if (errorName(e) !== 'ResourceInUseException') throw e;
    status = 'reused';
    consumer = (await kinesis.send(new DescribeStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: name }))).ConsumerDescription;
  }
  const arn = consumer?.ConsumerARN ?? '';
  return {
    logicalId: a.logicalId,
    type: a.resource.Type,
    physicalId: arn,
    status,
    attributes: {
      ConsumerARN: arn,
      ConsumerName: name,
      ConsumerStatus: consumer?.ConsumerStatus ?? 'ACTIVE',
      ConsumerCreationTimestamp: String(Math.floor((consumer?.ConsumerCreationTimestamp?.getTime() ?? Date.now()) / 1000)),
      StreamARN: streamArn,
    },
  };
};
