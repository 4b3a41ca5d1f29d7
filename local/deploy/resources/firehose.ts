// AWS::KinesisFirehose::DeliveryStream: handed to the Firehose emulator as CloudFormation wrote
// it (destination, buffering, prefixes, processing, encryption and tags are all read from those
// properties), through its programmatic API when the cloud provides one, else the Firehose API.
// A stream that converts records to Parquet gets the columns of the template's Glue table its
// SchemaConfiguration names (the local cloud has no Glue catalog to read them from).
import { CreateDeliveryStreamCommand, type CreateDeliveryStreamCommandInput } from '@aws-sdk/client-firehose';
import { glueTableOf, withLocalGlueTable } from '../../services/format-conversion/glue-schema';
import { resolveValue } from '../intrinsics';
import type { Handler, HandlerArgs, ResourceStatus } from '../types';
import { errorName, nameFor } from './common';

/** The template's Glue tables, resolved (their database names are Refs); unresolvable ones are left out. */
function glueTables(a: HandlerArgs) {
  return Object.values(a.st.stack.template.Resources ?? {})
    .filter((r) => r.Type === 'AWS::Glue::Table')
    .flatMap((r) => {
      try {
        return [glueTableOf(resolveValue(r.Properties ?? {}, a.st.ctx))].filter((t) => t !== undefined);
      } catch {
        return [];
      }
    });
}

export const firehoseDeliveryStream: Handler = async (a) => {
  const name = nameFor(a, 'firehose', 'DeliveryStreamName');
  const input: Record<string, unknown> = { ...a.props, DeliveryStreamName: name };
  let status: ResourceStatus = 'created';
  if (a.opts.firehose) {
    if (a.opts.firehose.hasDeliveryStream(name)) status = 'reused';
    else a.opts.firehose.createDeliveryStream(withLocalGlueTable(input, glueTables(a)));
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
