// StateTable: the DynamoDB table holding window state and per-shard progress for every job of a
// stack, with the key schema and index of functions/contract/table.ts (the functions use the same
// names). On-demand capacity (cost follows the number of results, nothing at rest but storage),
// point-in-time recovery, TTL, KMS encryption.
import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { STATE_TABLE } from '../../functions/contract/table';

export { STATE_TABLE } from '../../functions/contract/table';

export interface StateTableProps {
  /**
   * 'aws-managed': the aws/dynamodb key (no monthly cost). 'customer-managed': a key of this
   * stack with yearly rotation ($1/month), for accounts whose policy demands one.
   * @default 'aws-managed'
   */
  readonly encryption?: 'aws-managed' | 'customer-managed';
  /** @default false */
  readonly deletionProtection?: boolean;
  /** Applies to the table and its key. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

export class StateTable extends Construct {
  public readonly table: dynamodb.Table;
  /** Only with encryption 'customer-managed'. */
  public readonly encryptionKey?: kms.Key;

  constructor(scope: Construct, id: string, props: StateTableProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    if (props.encryption === 'customer-managed') {
      this.encryptionKey = new kms.Key(this, 'Key', {
        description: 'Encrypts the Riffle state table',
        enableKeyRotation: true,
        removalPolicy,
      });
    }
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: STATE_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: STATE_TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: STATE_TABLE.ttlAttribute,
      ...(this.encryptionKey
        ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: this.encryptionKey }
        : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
      deletionProtection: props.deletionProtection ?? false,
      removalPolicy,
    });
    // Sparse: only OPEN window items carry openPk, so the closer's query reads just those.
    // KEYS_ONLY: every reducer write rewrites the item's accumulators; with ALL each of those
    // writes would be replicated to the index too (double write cost). The closer reads the
    // due items by key instead (BatchGetItem, strongly consistent, which it needs anyway).
    this.table.addGlobalSecondaryIndex({
      indexName: STATE_TABLE.openWindowsIndex,
      partitionKey: { name: STATE_TABLE.openPartitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: STATE_TABLE.openSortKey, type: dynamodb.AttributeType.NUMBER },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
  }
}
