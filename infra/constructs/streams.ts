// RiffleStream: one Kinesis data stream with Riffle's defaults — KMS encryption with the AWS
// managed key (aws/kinesis: no key to pay for or manage, and producers need no kms grants),
// provisioned or on-demand capacity, and a retention that bounds how long a stuck consumer may
// fall behind. A stack has one input stream per source and one shuffle stream per job.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import { Construct } from 'constructs';

export interface RiffleStreamProps {
  /** Capacity mode. @default 'provisioned' */
  readonly streamMode?: 'provisioned' | 'on-demand';
  /** Shards when provisioned (ignored on-demand). @default 1 */
  readonly shardCount?: number;
  /** How long records stay readable. @default Duration.hours(24) */
  readonly retention?: Duration;
}

export class RiffleStream extends Construct {
  public readonly stream: kinesis.Stream;

  constructor(scope: Construct, id: string, props: RiffleStreamProps = {}) {
    super(scope, id);
    const onDemand = props.streamMode === 'on-demand';
    this.stream = new kinesis.Stream(this, 'Stream', {
      streamMode: onDemand ? kinesis.StreamMode.ON_DEMAND : kinesis.StreamMode.PROVISIONED,
      shardCount: onDemand ? undefined : (props.shardCount ?? 1),
      retentionPeriod: props.retention ?? Duration.hours(24),
      encryption: kinesis.StreamEncryption.MANAGED,
      // A stream holds at most its retention of in-flight data; nothing to keep after a destroy.
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
