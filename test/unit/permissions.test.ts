// functions/contract/permissions.ts against the functions' code: each role's list of StatePort
// methods is the one its protocol's port type picks, every StatePort
// method of the production StateStore sends exactly the requests its row declares (run against a
// recording DynamoDB client), and every AWS SDK command the functions construct is covered by the
// contract of the file that sends it. With the stack granting exactly the contract
// (test/infra/stack.test.ts), a call the code makes but the role lacks fails here; the e2e side
// (test/e2e/local-iam.test.ts) runs the ports with only each role's grants.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { StateStore } from '../../functions/commons/state-store';
import {
  CLOSER_NUDGE_ACTIONS,
  OUTPUT_PORT_ACTIONS,
  ROLE_STATE_METHODS,
  SHUFFLE_PORT_ACTIONS,
  STATE_PORT_CALLS,
  jobLeadingKeys,
  type StateCall,
} from '../../functions/contract/permissions';
import { itemPk, openPartition, progressPk, STATE_TABLE } from '../../functions/contract/table';
import { STATE_PORT_SAMPLES } from '../support/state-port-samples';

const ROOT = path.resolve(__dirname, '..', '..');
const TABLE = 'state';
const JOB = 'clicks';

/** The StatePort methods a protocol file's ports type picks (`state: Pick<StatePort, 'a' | 'b'>`). */
function pickedStateMethods(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const pick = /\bstate:\s*Pick<StatePort,\s*([^>]+)>/.exec(text);
  if (!pick) throw new Error(`${file}: no 'state: Pick<StatePort, …>' in its ports type; this test reads the role's methods from it`);
  return [...pick[1]!.matchAll(/'(\w+)'/g)].map((m) => m[1]!).sort();
}

describe('each role uses exactly the StatePort methods its protocol picks', () => {
  test.each([
    ['mapper', 'functions/core/protocol/map-attempt.ts'],
    ['reducer', 'functions/core/protocol/reduce-batch.ts'],
    ['closer', 'functions/core/protocol/close-run.ts'],
  ] as const)('%s (%s)', (role, file) => {
    expect(pickedStateMethods(file)).toEqual([...ROLE_STATE_METHODS[role]].sort());
  });

  test('every StatePort method of the StateStore has a row in STATE_PORT_CALLS', () => {
    const methods = Object.getOwnPropertyNames(StateStore.prototype).filter((name) => name !== 'constructor' && name !== 'queryAll');
    expect(methods.sort()).toEqual(Object.keys(STATE_PORT_CALLS).sort());
  });
});

/** What the recording client maps each lib-dynamodb command to (the IAM action DynamoDB authorizes it as). */
const DOCUMENT_COMMAND_ACTIONS: Readonly<Record<string, string>> = {
  GetCommand: 'dynamodb:GetItem',
  BatchGetCommand: 'dynamodb:BatchGetItem',
  QueryCommand: 'dynamodb:Query',
  ScanCommand: 'dynamodb:Scan',
  PutCommand: 'dynamodb:PutItem',
  UpdateCommand: 'dynamodb:UpdateItem',
  DeleteCommand: 'dynamodb:DeleteItem',
  BatchWriteCommand: 'dynamodb:BatchWriteItem',
  TransactWriteCommand: 'dynamodb:TransactWriteItems',
  TransactGetCommand: 'dynamodb:TransactGetItems',
};

interface Recorded {
  call: StateCall;
  keys: string[];
}

/** A DynamoDB document client that records each request (action, table or index, partition keys) and answers empty. */
function recordingClient(): { client: DynamoDBDocumentClient; requests: Recorded[] } {
  const requests: Recorded[] = [];
  const send = async (command: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown> => {
    const name = command.constructor.name;
    const action = DOCUMENT_COMMAND_ACTIONS[name] ?? `unknown:${name}`;
    const input = command.input;
    const keys: string[] = [];
    const pkOf = (item: unknown) => (item && typeof item === 'object' ? (item as Record<string, unknown>)[STATE_TABLE.partitionKey] : undefined);
    for (const item of [input.Key, input.Item]) if (typeof pkOf(item) === 'string') keys.push(pkOf(item) as string);
    const batch = (input.RequestItems as Record<string, { Keys?: unknown[] }> | undefined)?.[TABLE];
    for (const key of batch?.Keys ?? []) keys.push(pkOf(key) as string);
    if (name === 'QueryCommand' && !input.IndexName) keys.push(String((input.ExpressionAttributeValues as Record<string, unknown>)[':pk']));
    requests.push({ call: { action: action as StateCall['action'], on: input.IndexName === STATE_TABLE.openWindowsIndex ? 'openWindowsIndex' : 'table' }, keys });
    if (name === 'QueryCommand') return { Items: [] };
    if (name === 'BatchGetCommand') return { Responses: { [TABLE]: [] } };
    return {};
  };
  return { client: { send } as unknown as DynamoDBDocumentClient, requests };
}

describe('StateStore sends what STATE_PORT_CALLS declares', () => {
  test.each(Object.keys(STATE_PORT_CALLS) as (keyof typeof STATE_PORT_CALLS)[])('%s', async (method) => {
    const { client, requests } = recordingClient();
    const sample = STATE_PORT_SAMPLES[method];
    if (!sample) throw new Error(`no sample call of StatePort.${method} in this test: add one to test/support/state-port-samples.ts`);
    await sample(new StateStore(client, TABLE), JOB);
    expect(requests.length).toBeGreaterThan(0);
    const sent = [...new Set(requests.map((r) => JSON.stringify(r.call)))].sort();
    expect(sent).toEqual([...new Set((STATE_PORT_CALLS[method] as readonly StateCall[]).map((c) => JSON.stringify({ action: c.action, on: c.on })))].sort());
    // Every item it touches is in the job's partitions, which the table grant's LeadingKeys condition allows.
    const pattern = new RegExp(`^${jobLeadingKeys(JOB).replace('*', '.*')}$`);
    for (const key of requests.flatMap((r) => r.keys)) expect(key).toMatch(pattern);
  });

  test("the job's partition keys all fall under its LeadingKeys pattern, and another job's do not", () => {
    const pattern = (job: string) => new RegExp(`^${jobLeadingKeys(job).replace('*', '.*')}$`);
    for (const key of [itemPk(JOB, 'any#key'), progressPk(JOB), openPartition(JOB, 3)]) expect(key).toMatch(pattern(JOB));
    expect(itemPk('click-sessions', 'k')).not.toMatch(pattern('click'));
    expect(progressPk('clicks')).not.toMatch(pattern('click'));
  });
});

/** Every `new XxxCommand(` in a file of functions/ (the protocol core has no AWS imports). */
function commandsIn(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/new\s+(\w+Command)\s*\(/g)].map((m) => m[1]!);
}

describe('every AWS SDK command the functions construct is in the contract', () => {
  /** Which file sends which port's calls, and the contract's actions for that port. */
  const SENDERS: Readonly<Record<string, { commands: Readonly<Record<string, string>>; allowed: readonly string[] }>> = {
    'functions/commons/state-store.ts': { commands: DOCUMENT_COMMAND_ACTIONS, allowed: Object.values(STATE_PORT_CALLS).flatMap((calls) => (calls as readonly StateCall[]).map((c) => c.action)) },
    'functions/commons/shuffle.ts': { commands: { PutRecordsCommand: 'kinesis:PutRecords', PutRecordCommand: 'kinesis:PutRecord' }, allowed: SHUFFLE_PORT_ACTIONS },
    'functions/commons/delivery.ts': { commands: { PutRecordBatchCommand: 'firehose:PutRecordBatch', PutRecordCommand: 'firehose:PutRecord' }, allowed: OUTPUT_PORT_ACTIONS },
    'functions/reducer.ts': { commands: { InvokeCommand: 'lambda:InvokeFunction' }, allowed: CLOSER_NUDGE_ACTIONS },
  };

  const files = (dir: string): string[] =>
    readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? (e.name === 'core' ? [] : files(path.join(dir, e.name))) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));

  test('no file outside the known senders constructs a command; each sender sends only its port\'s actions', () => {
    const found = files('functions').filter((f) => commandsIn(path.join(ROOT, f)).length > 0);
    expect(found.sort()).toEqual(Object.keys(SENDERS).sort());
    for (const [file, { commands, allowed }] of Object.entries(SENDERS)) {
      for (const command of commandsIn(path.join(ROOT, file))) {
        const action = commands[command];
        expect({ file, command, action: action ?? 'an AWS call with no row in functions/contract/permissions.ts' }).toEqual({ file, command, action: expect.any(String) });
        expect({ file, command, granted: allowed.includes(action!) }).toEqual({ file, command, granted: true });
      }
    }
  });

  test('the protocol core sends nothing itself (it reaches AWS only through the ports)', () => {
    const all = (dir: string): string[] =>
      readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? all(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
    const core = all('functions/core');
    expect(core.length).toBeGreaterThan(10);
    for (const file of core) expect({ file, commands: commandsIn(path.join(ROOT, file)) }).toEqual({ file, commands: [] });
  });
});
