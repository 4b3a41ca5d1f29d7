// AWS::KinesisFirehose::DeliveryStream: handed to the Firehose emulator as CloudFormation wrote
// it (destination, buffering, prefixes, processing, encryption and tags are all read from those
// properties), through its programmatic API when the cloud provides one, else the Firehose API.
import { CreateDeliveryStreamCommand, type CreateDeliveryStreamCommandInput } from '@aws-sdk/client-firehose';
import type { Handler, ResourceStatus } from '../types';
import { errorName, nameFor } from './common';

export const firehoseDeliveryStream: Handler = async (a) => {
  const name = nameFor(a, 'firehose', 'DeliveryStreamName');
  const input: Record<string, unknown> = { ...a.props, DeliveryStreamName: name };
  let status: ResourceStatus = 'created';
  if (a.opts.firehose) {
    if (a.opts.firehose.hasDeliveryStream(name)) status = 'reused';
    else a.opts.firehose.createDeliveryStream(input);
  } else {
    try {
      await a.opts.clients.firehose.send(new CreateDeliveryStreamCommand(input as unknown as CreateDeliveryStreamCommandInput));
    } catch (e) {
      if (errorName(e) !== 'ResourceInUseException') throw e;
      status = 'reused';
    }
  }
  const arn = `arn:aws:firehose:${a.st.scope.region}:${a.st.scope.accountId}:deliverystream/${name}`;
  return { logicalId: a.logicalId, type: a.resource.Type, physicalId: name, status, attributes: { Arn: arn } };
};
