// AWS::S3::Bucket: the bucket (reused when it exists), with its attributes (ARN and domain
// names); notifications and replication are reported as not emulated.
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import type { Handler, ResourceStatus } from '../types';
import { errorName, nameFor } from './common';

export const s3Bucket: Handler = async (a) => {
  const name = nameFor(a, 's3', 'BucketName');
  let status: ResourceStatus = 'created';
  // HeadBucket first: in us-east-1 CreateBucket on a bucket you own succeeds silently.
  const exists = await a.opts.clients.s3.send(new HeadBucketCommand({ Bucket: name })).then(
    () => true,
    () => false,
  );
  if (exists) status = 'reused';
  else {
    try {
      await a.opts.clients.s3.send(new CreateBucketCommand({ Bucket: name }));
    } catch (e) {
      if (errorName(e) !== 'BucketAlreadyOwnedByYou' && errorName(e) !== 'BucketAlreadyExists') throw e;
      status = 'reused';
    }
  }
  if (a.props['NotificationConfiguration'] !== undefined) a.warn(`bucket ${name}: NotificationConfiguration is not emulated (no events are sent)`);
  if (a.props['ReplicationConfiguration'] !== undefined) a.warn(`bucket ${name}: ReplicationConfiguration is not emulated`);
  const region = a.st.scope.region;
  return {
    logicalId: a.logicalId,
    type: a.resource.Type,
    physicalId: name,
    status,
    attributes: {
      Arn: `arn:aws:s3:::${name}`,
      DomainName: `${name}.s3.amazonaws.com`,
      RegionalDomainName: `${name}.s3.${region}.amazonaws.com`,
      DualStackDomainName: `${name}.s3.dualstack.${region}.amazonaws.com`,
      WebsiteURL: `http://${name}.s3-website-${region}.amazonaws.com`,
    },
  };
};
