// What each function's code calls on AWS, as IAM actions: the one list the stack's grants are
// built from (infra/constructs/grants.ts grants exactly these, nothing more) and the functions'
// port implementations are checked against (test/unit/permissions.test.ts ties each role's list to
// the protocol's port types and to the SDK commands in functions/; test/e2e/local-iam.test.ts runs
// every port method of each role on the embedded cloud with only that role's grants).
// A new AWS call in a port needs a row here, or those tests fail.
import type { OutputRecords, StatePort } from '../core/protocol/ports';
import type { FunctionRole } from './metrics';

/** DynamoDB actions the state table's port may use. */
export type StateAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:BatchGetItem'
  | 'dynamodb:Query'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:DeleteItem'
  | 'dynamodb:BatchWriteItem'
  | 'dynamodb:ConditionCheckItem';

/** One request a port method sends: its action, and whether it names the table or the open-windows index. */
export interface StateCall {
  readonly action: StateAction;
  readonly on: 'table' | 'openWindowsIndex';
}

/**
 * The requests each StatePort method sends (functions/commons/state-store.ts). Every method of the
 * port needs a row (test/unit/permissions.test.ts compares them with the StateStore it runs).
 */
export const STATE_PORT_CALLS = {
  readProgress: [{ action: 'dynamodb:Query', on: 'table' }],
  writeMapperProgress: [{ action: 'dynamodb:PutItem', on: 'table' }],
  updateMapperProgress: [{ action: 'dynamodb:GetItem', on: 'table' }, { action: 'dynamodb:PutItem', on: 'table' }],
  writeBucketProgress: [{ action: 'dynamodb:PutItem', on: 'table' }],
  raiseWatermark: [{ action: 'dynamodb:PutItem', on: 'table' }],
  getMany: [{ action: 'dynamodb:BatchGetItem', on: 'table' }],
  get: [{ action: 'dynamodb:GetItem', on: 'table' }],
  putIfVersion: [{ action: 'dynamodb:PutItem', on: 'table' }],
  dueItems: [{ action: 'dynamodb:Query', on: 'openWindowsIndex' }],
} as const satisfies Record<string, readonly StateCall[]>;

/** A StatePort method with a row above. */
export type StateMethod = keyof typeof STATE_PORT_CALLS & keyof StatePort;

/** The StatePort methods each role's protocol uses (the Pick<StatePort, …> of its ports in core/protocol/). */
export const ROLE_STATE_METHODS = {
  mapper: ['readProgress', 'updateMapperProgress'],
  reducer: ['readProgress', 'raiseWatermark', 'getMany', 'get', 'putIfVersion', 'writeBucketProgress'],
  closer: ['readProgress', 'raiseWatermark', 'dueItems', 'getMany', 'get', 'putIfVersion'],
} as const satisfies Record<FunctionRole, readonly StateMethod[]>;

/** The shuffle port (functions/commons/shuffle.ts): the mapper's only call to its shuffle stream. */
export const SHUFFLE_PORT_ACTIONS = ['kinesis:PutRecords'] as const;

/** The output port (functions/commons/delivery.ts): every delivery is a PutRecordBatch. */
export const OUTPUT_PORT_ACTIONS = ['firehose:PutRecordBatch'] as const;

/**
 * The archiver (functions/archiver.ts, one per source when `inputArchive` is on): its only call is
 * PutRecordBatch to the source's archive delivery stream, through the output port's deliver().
 * Its stream reads are the event source mapping's (granted where it is bound), like the mapper's.
 */
export const ARCHIVER_ACTIONS = { archive: OUTPUT_PORT_ACTIONS } as const;

/** The reducer's nudge to its closer (functions/reducer.ts): an asynchronous Invoke. */
export const CLOSER_NUDGE_ACTIONS = ['lambda:InvokeFunction'] as const;

/**
 * A customer-managed table key: DynamoDB decrypts the table key with it on behalf of the principal
 * that accesses the table (the Decrypt request names the caller, invoked by DynamoDB); the key's
 * GenerateDataKey and CreateGrant calls are made by DynamoDB itself and by whoever creates the
 * table (CloudFormation). Granted only through DynamoDB (kms:ViaService).
 */
export const TABLE_KEY_ACTIONS = ['kms:Decrypt'] as const;

export type DeliveryKind = keyof OutputRecords;

/** The deliveries each role writes to; the reducer emits results only in 'update' mode. */
export function roleOutputs(role: FunctionRole, emit: 'final' | 'update'): DeliveryKind[] {
  switch (role) {
    case 'mapper':
      return ['late', 'rejected'];
    case 'reducer':
      return emit === 'update' ? ['late', 'results'] : ['late'];
    case 'closer':
      return ['results'];
  }
}

/** The DynamoDB actions of a role, on the table and on the open-windows index (sorted, unique). */
export function roleStateActions(role: FunctionRole): { table: StateAction[]; openWindowsIndex: StateAction[] } {
  const table = new Set<StateAction>();
  const index = new Set<StateAction>();
  for (const method of ROLE_STATE_METHODS[role]) {
    for (const call of STATE_PORT_CALLS[method] as readonly StateCall[]) (call.on === 'table' ? table : index).add(call.action);
  }
  return { table: [...table].sort(), openWindowsIndex: [...index].sort() };
}

/**
 * The partition keys of a job's state items (`J#<job>#…`, functions/contract/table.ts), as a
 * dynamodb:LeadingKeys pattern: jobs sharing a table cannot touch each other's items. Job names
 * are [a-z0-9-], so the name holds no wildcard.
 */
export function jobLeadingKeys(job: string): string {
  return `J#${job}#*`;
}
