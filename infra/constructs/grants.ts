// The grants of a job's functions, built from functions/contract/permissions.ts — the list of
// what each function's code calls — so a role holds exactly the actions its code sends: item
// actions on the state table limited to the job's own partitions (dynamodb:LeadingKeys), the
// open-windows index by its name for the closer only, kms:Decrypt through DynamoDB on a
// customer-managed table key, PutRecords on the shuffle stream, PutRecordBatch on the job's
// deliveries, the closer's unqualified ARN for the reducer's nudge. What the event source mappings
// need (stream reads, the on-failure bucket) is granted where they are bound; the log group where
// the function is built (riffle-function.ts).
import { Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { FunctionRole } from '../../functions/contract';
import {
  CLOSER_NUDGE_ACTIONS,
  jobLeadingKeys,
  roleOutputs,
  roleStateActions,
  SHUFFLE_PORT_ACTIONS,
  TABLE_KEY_ACTIONS,
} from '../../functions/contract/permissions';
import { STATE_TABLE } from '../../functions/contract/table';
import type { JobDescriptor } from '../config';
import type { JobDelivery } from './delivery';

export interface RoleResources {
  readonly job: JobDescriptor;
  readonly stateTable: dynamodb.ITable;
  readonly delivery: JobDelivery;
  /** The mapper's shuffle stream. */
  readonly shuffleStream?: kinesis.IStream;
  /** The closer the reducer nudges. */
  readonly closer?: lambda.IFunction;
}

/** The ARN of the state table's open-windows index (named: no index/* wildcard). */
export function openWindowsIndexArn(table: dynamodb.ITable): string {
  return `${table.tableArn}/index/${STATE_TABLE.openWindowsIndex}`;
}

/** Adds to `grantee`'s role what `role`'s code calls, per functions/contract/permissions.ts. */
export function grantRoleAccess(grantee: iam.IGrantable, role: FunctionRole, resources: RoleResources): void {
  const { job, stateTable, delivery } = resources;
  const add = (statement: iam.PolicyStatement): void => {
    grantee.grantPrincipal.addToPrincipalPolicy(statement);
  };
  const state = roleStateActions(role);
  if (state.table.length > 0) {
    add(new iam.PolicyStatement({
      actions: state.table,
      resources: [stateTable.tableArn],
      // Every item of a job has a partition key J#<job>#…: jobs sharing the table stay apart.
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [jobLeadingKeys(job.name)] } },
    }));
  }
  if (state.openWindowsIndex.length > 0) {
    add(new iam.PolicyStatement({ actions: state.openWindowsIndex, resources: [openWindowsIndexArn(stateTable)] }));
  }
  if (stateTable.encryptionKey) {
    add(new iam.PolicyStatement({
      actions: [...TABLE_KEY_ACTIONS],
      resources: [stateTable.encryptionKey.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(stateTable).region}.amazonaws.com` } },
    }));
  }
  if (role === 'mapper') {
    if (!resources.shuffleStream) throw new Error(`grantRoleAccess(${job.name} mapper): the shuffle stream is required`);
    add(new iam.PolicyStatement({ actions: [...SHUFFLE_PORT_ACTIONS], resources: [resources.shuffleStream.streamArn] }));
  }
  delivery.grantPut(grantee, ...roleOutputs(role, job.emit));
  if (role === 'reducer' && resources.closer) {
    // Unqualified ARN only (grantInvoke would add <arn>:* for every version and alias).
    add(new iam.PolicyStatement({ actions: [...CLOSER_NUDGE_ACTIONS], resources: [resources.closer.functionArn] }));
  }
}
