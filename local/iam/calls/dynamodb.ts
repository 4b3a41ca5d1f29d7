// DynamoDB requests → IAM checks, per the Service Authorization Reference: item and table
// operations on the table ARN, Query/Scan on an index on `table/<t>/index/<i>`, batch operations
// once per table they touch, transactions once per item under the item's own action
// (PutItem, UpdateItem, DeleteItem, ConditionCheckItem, GetItem), PartiQL by statement verb.
// Condition keys filled in: dynamodb:LeadingKeys (partition key values, when the table's key
// schema is known), dynamodb:Select, dynamodb:ReturnValues, dynamodb:ReturnConsumedCapacity.
import { isRecord, jsonBody, type Authorization, type CallScope, type GateRequest, type ServiceCall } from './call';

const ACCOUNT_LEVEL = new Set(['ListTables', 'DescribeLimits', 'DescribeEndpoints', 'ListBackups', 'ListGlobalTables', 'ListExports', 'ListImports', 'DescribeReservedCapacity']);
const LIST_OPS = new Set(['ListTables', 'ListGlobalTables']);
const TRANSACT_ACTIONS: Readonly<Record<string, string>> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' };

function tableArn(scope: CallScope, nameOrArn: string): string {
  return nameOrArn.startsWith('arn:') ? nameOrArn : `arn:aws:dynamodb:${scope.region}:${scope.accountId}:table/${nameOrArn}`;
}

function tableNameOf(nameOrArn: string): string {
  const i = nameOrArn.indexOf(':table/');
  return i >= 0 ? (nameOrArn.slice(i + ':table/'.length).split('/')[0] ?? nameOrArn) : nameOrArn;
}

/** The scalar of an AttributeValue ({S}, {N}, {B}) as IAM compares it. */
function scalar(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  for (const t of ['S', 'N', 'B'] as const) if (typeof value[t] === 'string') return value[t];
  return undefined;
}

function leadingKeysOf(items: readonly unknown[], hashKey: string | undefined): string[] | undefined {
  if (!hashKey) return undefined;
  const values = items.map((item) => (isRecord(item) ? scalar(item[hashKey]) : undefined)).filter((v): v is string => v !== undefined);
  return values.length ? [...new Set(values)] : undefined;
}

/** The partition key value a Query asks for (`#pk = :v` / `pk = :v`, or legacy KeyConditions). */
function queryLeadingKey(data: Record<string, unknown>, hashKey: string | undefined): string[] | undefined {
  if (!hashKey) return undefined;
  if (isRecord(data['KeyConditions'])) {
    const c = data['KeyConditions'][hashKey];
    const v = isRecord(c) && Array.isArray(c['AttributeValueList']) ? scalar(c['AttributeValueList'][0]) : undefined;
    return v === undefined ? undefined : [v];
  }
  const expression = typeof data['KeyConditionExpression'] === 'string' ? data['KeyConditionExpression'] : undefined;
  if (!expression) return undefined;
  const names = isRecord(data['ExpressionAttributeNames']) ? data['ExpressionAttributeNames'] : {};
  const values = isRecord(data['ExpressionAttributeValues']) ? data['ExpressionAttributeValues'] : {};
  for (const m of expression.matchAll(/([#\w.]+)\s*=\s*(:\w+)|(:\w+)\s*=\s*([#\w.]+)/g)) {
    const name = m[1] ?? m[4] ?? '';
    const placeholder = m[2] ?? m[3] ?? '';
    const attribute = name.startsWith('#') ? names[name] : name;
    if (attribute === hashKey) {
      const v = scalar(values[placeholder]);
      return v === undefined ? undefined : [v];
    }
  }
  return undefined;
}

function requestOptions(data: Record<string, unknown>): Record<string, string | undefined> {
  const text = (k: string): string | undefined => (typeof data[k] === 'string' ? (data[k] as string) : undefined);
  return {
    'dynamodb:Select': text('Select'),
    'dynamodb:ReturnValues': text('ReturnValues'),
    'dynamodb:ReturnConsumedCapacity': text('ReturnConsumedCapacity'),
  };
}

const PARTIQL_VERBS: Readonly<Record<string, string>> = { SELECT: 'PartiQLSelect', INSERT: 'PartiQLInsert', UPDATE: 'PartiQLUpdate', DELETE: 'PartiQLDelete' };

function partiqlAuthorization(scope: CallScope, statement: unknown): Authorization {
  const text = typeof statement === 'string' ? statement.trim() : '';
  const verb = PARTIQL_VERBS[(text.split(/\s+/)[0] ?? '').toUpperCase()] ?? 'PartiQLSelect';
  const table = /\b(?:from|into|update)\s+"?([\w.-]+)"?/i.exec(text)?.[1];
  return { action: `dynamodb:${verb}`, resource: table ? tableArn(scope, table) : '*' };
}

export function dynamoCall(req: GateRequest, operation: string, scope: CallScope): ServiceCall {
  const base = { service: 'dynamodb', operation, protocol: 'json-1.0' } as const;
  const action = `dynamodb:${operation}`;
  if (ACCOUNT_LEVEL.has(operation)) return { ...base, reach: LIST_OPS.has(operation) ? 'list' : 'account', authorizations: [{ action, resource: '*' }] };
  const data = jsonBody(req);
  if (!data) return { ...base, reach: 'account', authorizations: [] }; // dynalite answers SerializationException
  const hashKey = (table: string) => scope.hashKeyOf?.(tableNameOf(table));
  const options = requestOptions(data);

  if (operation === 'BatchGetItem' || operation === 'BatchWriteItem') {
    const requestItems = isRecord(data['RequestItems']) ? data['RequestItems'] : {};
    const tables = Object.keys(requestItems);
    const authorizations = tables.map((table): Authorization => {
      const entry = requestItems[table];
      const keys =
        operation === 'BatchGetItem'
          ? isRecord(entry) && Array.isArray(entry['Keys']) ? entry['Keys'] : []
          : (Array.isArray(entry) ? entry : []).map((w) => (isRecord(w) ? (isRecord(w['PutRequest']) ? w['PutRequest']['Item'] : isRecord(w['DeleteRequest']) ? w['DeleteRequest']['Key'] : undefined) : undefined));
      return { action, resource: tableArn(scope, table), context: { ...options, 'dynamodb:LeadingKeys': leadingKeysOf(keys, hashKey(table)) } };
    });
    return { ...base, reach: 'resource', ...(tables[0] ? { target: tableNameOf(tables[0]) } : {}), authorizations };
  }
  if (operation === 'TransactWriteItems' || operation === 'TransactGetItems') {
    const items = Array.isArray(data['TransactItems']) ? data['TransactItems'] : [];
    const authorizations: Authorization[] = [];
    let first: string | undefined;
    for (const item of items) {
      if (!isRecord(item)) continue;
      for (const [kind, body] of Object.entries(item)) {
        if (!isRecord(body) || typeof body['TableName'] !== 'string') continue;
        first ??= body['TableName'];
        const keyed = isRecord(body['Item']) ? body['Item'] : body['Key'];
        authorizations.push({
          action: `dynamodb:${TRANSACT_ACTIONS[kind] ?? kind}`,
          resource: tableArn(scope, body['TableName']),
          context: { ...requestOptions(body), 'dynamodb:LeadingKeys': leadingKeysOf([keyed], hashKey(body['TableName'])) },
        });
      }
    }
    return { ...base, reach: 'resource', ...(first ? { target: tableNameOf(first) } : {}), authorizations };
  }
  if (operation === 'ExecuteStatement' || operation === 'BatchExecuteStatement' || operation === 'ExecuteTransaction') {
    const statements = operation === 'ExecuteStatement' ? [data['Statement']] : (Array.isArray(data['Statements']) ? data['Statements'] : Array.isArray(data['TransactStatements']) ? data['TransactStatements'] : []).map((s) => (isRecord(s) ? s['Statement'] : undefined));
    return { ...base, reach: 'resource', authorizations: statements.map((s) => partiqlAuthorization(scope, s)) };
  }

  const named = typeof data['TableName'] === 'string' ? data['TableName'] : typeof data['ResourceArn'] === 'string' ? data['ResourceArn'] : undefined;
  if (named === undefined) return { ...base, reach: 'account', authorizations: [{ action, resource: '*' }] };
  const table = tableArn(scope, named);
  const index = (operation === 'Query' || operation === 'Scan') && typeof data['IndexName'] === 'string' ? data['IndexName'] : undefined;
  const resource = index ? `${table}/index/${index}` : table;
  let leadingKeys: string[] | undefined;
  if (operation === 'Query' && !index) leadingKeys = queryLeadingKey(data, hashKey(named));
  else if (isRecord(data['Key']) || isRecord(data['Item'])) leadingKeys = leadingKeysOf([data['Key'] ?? data['Item']], hashKey(named));
  return {
    ...base,
    reach: operation === 'CreateTable' ? 'create' : 'resource',
    target: tableNameOf(named),
    authorizations: [{ action, resource, context: { ...options, 'dynamodb:LeadingKeys': leadingKeys } }],
  };
}
