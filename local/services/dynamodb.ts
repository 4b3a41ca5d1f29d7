// DynamoDB in the local cloud: dynalite, called in-process, behind a front that
//  - counts every request by operation and table, and the capacity units each consumed
//    (it asks dynalite for ReturnConsumedCapacity=TOTAL and strips it again when the caller did
//    not ask, so callers see unchanged responses);
//  - injects throttling (ProvisionedThroughputExceededException);
//  - implements UpdateTimeToLive / DescribeTimeToLive, which dynalite lacks: the TTL attribute of
//    each table is recorded (and persisted), and a periodic sweeper deletes expired items
//    (Scan with `attr < now`, then a conditional DeleteItem), since dynalite never expires items.
//    Like AWS, only Number attributes holding epoch seconds count, and items more than five
//    years past expiry are left alone. AWS deletes within days; the sweeper runs every
//    `sweepIntervalMs` (and on demand through sweepExpired());
//  - keeps what dynalite does not: server-side encryption (DescribeTable SSEDescription) and
//    CreateTable's Tags (dynamodb-settings.ts).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { itemSize } from 'dynalite/db';
import { TableSettings } from './dynamodb-settings';
import type { CapturedResponse, EmbeddedBackend } from './embedded';
import { AMZ_JSON_1_0, errorType, isRecord, requestId } from './http';
import type { ServiceRequest, ServiceResponse } from './http';
import type { ServiceFaults } from './service-faults';
import type { StatsRecorder } from './stats';

const READ_OPS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan']);
const WRITE_OPS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);
const FIVE_YEARS_S = 5 * 365 * 24 * 3600;
/** Operations whose request or answer the table settings complete (dynamodb-settings.ts). */
const SETTINGS_OPS = new Set(['CreateTable', 'UpdateTable', 'DescribeTable', 'ListTagsOfResource', 'TagResource', 'UntagResource']);

export interface DynamoServiceOptions {
  /** JSON file persisting the TTL attribute of each table; in memory when omitted. */
  readonly ttlFile?: string;
  /** How often the TTL sweeper runs; 0 disables the timer (sweepExpired() still works). */
  readonly sweepIntervalMs: number;
  readonly region: string;
  readonly accountId: string;
  readonly logger: { warn(message: string): void };
}

interface ConsumedCapacity {
  TableName?: string;
  CapacityUnits?: number;
}

function tableName(value: string): string {
  const i = value.indexOf(':table/');
  return i >= 0 ? value.slice(i + ':table/'.length) : value;
}

/** Tables a request touches (for per-table stats and fault matching). */
function tablesOf(data: Record<string, unknown>): string[] {
  if (typeof data.TableName === 'string') return [tableName(data.TableName)];
  if (isRecord(data.RequestItems)) return Object.keys(data.RequestItems).map(tableName);
  if (Array.isArray(data.TransactItems)) {
    const names = new Set<string>();
    for (const item of data.TransactItems) {
      if (!isRecord(item)) continue;
      for (const action of Object.values(item)) if (isRecord(action) && typeof action.TableName === 'string') names.add(tableName(action.TableName));
    }
    return [...names];
  }
  return [];
}

function dynamoError(type: string, message: string): ServiceResponse {
  const body = JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message });
  return {
    status: 400,
    headers: { 'content-type': AMZ_JSON_1_0, 'x-amzn-requestid': requestId(), 'x-amz-crc32': String(crc32(body) >>> 0) },
    body,
  };
}

function dynamoJson(value: unknown): ServiceResponse {
  const body = JSON.stringify(value);
  return {
    status: 200,
    headers: { 'content-type': AMZ_JSON_1_0, 'x-amzn-requestid': requestId(), 'x-amz-crc32': String(crc32(body) >>> 0) },
    body,
  };
}

export class DynamoService {
  /** table → TTL attribute name */
  private readonly ttl = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;
  private saving: Promise<void> = Promise.resolve();
  private readonly settings: TableSettings;

  constructor(
    private readonly backend: EmbeddedBackend,
    private readonly faults: ServiceFaults,
    private readonly stats: StatsRecorder,
    private readonly options: DynamoServiceOptions,
  ) {
    this.loadTtl();
    this.settings = new TableSettings((operation, payload) => this.call(operation, payload), options.accountId, options.region);
  }

  start(): void {
    if (this.options.sweepIntervalMs > 0) {
      this.timer = setInterval(() => void this.sweepExpired().catch((err: Error) => this.options.logger.warn(`TTL sweep failed: ${err.message}`)), this.options.sweepIntervalMs);
      this.timer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping?.catch(() => undefined);
  }

  /** The TTL attribute per table (what UpdateTimeToLive recorded). */
  ttlAttributes(): Record<string, string> {
    return Object.fromEntries(this.ttl);
  }

  async handle(req: ServiceRequest, operation: string): Promise<ServiceResponse> {
    this.stats.request('dynamodb', operation);
    let data: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(req.body.toString('utf8'));
      if (isRecord(parsed)) data = parsed;
    } catch {
      // dynalite answers SerializationException
    }
    const tables = data ? tablesOf(data) : [];
    for (const table of tables) this.stats.dynamoTable(table, operation);

    if (this.faults.takeDynamo(operation, tables)) {
      this.stats.error('dynamodb', 'ProvisionedThroughputExceededException');
      return dynamoError(
        'ProvisionedThroughputExceededException',
        'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
      );
    }
    if (data && operation === 'UpdateTimeToLive') return this.updateTimeToLive(data);
    if (data && operation === 'DescribeTimeToLive') return this.describeTimeToLive(data);

    // Ask dynalite for the capacity it computes from item sizes; strip it again if not asked for.
    const counted = data !== undefined && (READ_OPS.has(operation) || WRITE_OPS.has(operation));
    const injected = counted && data !== undefined && (data.ReturnConsumedCapacity === undefined || data.ReturnConsumedCapacity === 'NONE');
    let body = injected && data ? Buffer.from(JSON.stringify({ ...data, ReturnConsumedCapacity: 'TOTAL' })) : req.body;
    if (data && SETTINGS_OPS.has(operation)) {
      const before = await this.settings.before(operation, data);
      if (before.answer) return before.answer;
      if (before.forward) body = Buffer.from(JSON.stringify(before.forward));
    }
    const response = await this.backend.dispatch(req.method, '/', req.headers, body);

    if (response.status >= 400) {
      const type = errorType(response.body);
      this.stats.error('dynamodb', type);
      // A failed conditional write still consumes write capacity on AWS.
      if (type === 'ConditionalCheckFailedException' && data && WRITE_OPS.has(operation)) {
        const item = operation === 'PutItem' && isRecord(data.Item) ? data.Item : undefined;
        this.stats.dynamoUnits(tables[0] ?? '?', 0, item ? Math.max(1, Math.ceil(itemSize(item) / 1024)) : 1);
      }
      return this.toResponse(response, response.body);
    }
    if (operation === 'DeleteTable' && data && typeof data.TableName === 'string') await this.forgetTtl(tableName(data.TableName));
    if (data && SETTINGS_OPS.has(operation)) return this.toResponse(response, (await this.settings.after(operation, data, response)) ?? response.body);
    if (!counted) return this.toResponse(response, response.body);

    let parsed: Record<string, unknown>;
    try {
      const value: unknown = JSON.parse(response.body.toString('utf8'));
      if (!isRecord(value)) return this.toResponse(response, response.body);
      parsed = value;
    } catch {
      return this.toResponse(response, response.body);
    }
    const consumed = parsed.ConsumedCapacity;
    const list: ConsumedCapacity[] = Array.isArray(consumed) ? (consumed as ConsumedCapacity[]) : isRecord(consumed) ? [consumed as ConsumedCapacity] : [];
    const isRead = READ_OPS.has(operation);
    for (const c of list) {
      const units = typeof c.CapacityUnits === 'number' ? c.CapacityUnits : 0;
      const table = c.TableName ?? tables[0] ?? '?';
      this.stats.dynamoUnits(table, isRead ? units : 0, isRead ? 0 : units);
    }
    if (!injected) return this.toResponse(response, response.body);
    delete parsed.ConsumedCapacity;
    return this.toResponse(response, Buffer.from(JSON.stringify(parsed)));
  }

  private toResponse(response: CapturedResponse, body: Buffer): ServiceResponse {
    const headers = { ...response.headers };
    if (body !== response.body) {
      // The SDK may verify x-amz-crc32 against the body it receives.
      headers['x-amz-crc32'] = String(crc32(body) >>> 0);
      headers['content-length'] = String(body.length);
    }
    return { status: response.status, headers, body };
  }

  // ---- TTL -------------------------------------------------------------------------------------------

  /** Runs an internal request against dynalite (not counted in stats). */
  private async call(operation: string, payload: Record<string, unknown>): Promise<{ status: number; data: Record<string, unknown> }> {
    const body = Buffer.from(JSON.stringify(payload));
    const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const response = await this.backend.dispatch(
      'POST',
      '/',
      {
        'content-type': AMZ_JSON_1_0,
        'x-amz-target': `DynamoDB_20120810.${operation}`,
        'x-amz-date': date,
        authorization: `AWS4-HMAC-SHA256 Credential=riffle/${date.slice(0, 8)}/${this.options.region}/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body,
    );
    let data: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(response.body.toString('utf8'));
      if (isRecord(parsed)) data = parsed;
    } catch {
      // empty
    }
    return { status: response.status, data };
  }

  private async tableExists(table: string): Promise<Record<string, unknown> | undefined> {
    const { status, data } = await this.call('DescribeTable', { TableName: table });
    return status === 200 && isRecord(data.Table) ? data.Table : undefined;
  }

  private async updateTimeToLive(data: Record<string, unknown>): Promise<ServiceResponse> {
    const spec = data.TimeToLiveSpecification;
    if (typeof data.TableName !== 'string' || !isRecord(spec) || typeof spec.AttributeName !== 'string' || typeof spec.Enabled !== 'boolean') {
      return dynamoError('ValidationException', 'UpdateTimeToLive needs TableName and TimeToLiveSpecification {AttributeName, Enabled}');
    }
    const table = tableName(data.TableName);
    if (!(await this.tableExists(table))) return dynamoError('ResourceNotFoundException', `Requested resource not found: Table: ${table} not found`);
    const current = this.ttl.get(table);
    if (spec.Enabled) {
      if (current !== undefined) return dynamoError('ValidationException', 'TimeToLive is already enabled');
      this.ttl.set(table, spec.AttributeName);
    } else {
      if (current === undefined) return dynamoError('ValidationException', 'TimeToLive is already disabled');
      if (current !== spec.AttributeName) return dynamoError('ValidationException', `TimeToLive is enabled on attribute ${current}, not ${spec.AttributeName}`);
      this.ttl.delete(table);
    }
    await this.saveTtl();
    return dynamoJson({ TimeToLiveSpecification: { AttributeName: spec.AttributeName, Enabled: spec.Enabled } });
  }

  private async describeTimeToLive(data: Record<string, unknown>): Promise<ServiceResponse> {
    if (typeof data.TableName !== 'string') return dynamoError('ValidationException', 'DescribeTimeToLive needs TableName');
    const table = tableName(data.TableName);
    if (!(await this.tableExists(table))) return dynamoError('ResourceNotFoundException', `Requested resource not found: Table: ${table} not found`);
    const attribute = this.ttl.get(table);
    return dynamoJson({ TimeToLiveDescription: attribute ? { TimeToLiveStatus: 'ENABLED', AttributeName: attribute } : { TimeToLiveStatus: 'DISABLED' } });
  }

  /** Deletes every expired item now; resolves to the number deleted. Concurrent calls share one sweep. */
  sweepExpired(): Promise<number> {
    this.sweeping ??= this.sweep().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  private async sweep(): Promise<number> {
    let deleted = 0;
    for (const [table, attribute] of [...this.ttl]) {
      const description = await this.tableExists(table);
      if (!description) {
        await this.forgetTtl(table);
        continue;
      }
      const keys = Array.isArray(description.KeySchema)
        ? description.KeySchema.filter(isRecord)
            .map((k) => k.AttributeName)
            .filter((k): k is string => typeof k === 'string')
        : [];
      const names: Record<string, string> = { '#ttl': attribute };
      keys.forEach((k, i) => (names[`#k${i}`] = k));
      const now = Math.floor(Date.now() / 1000);
      let startKey: unknown;
      do {
        const { status, data } = await this.call('Scan', {
          TableName: table,
          FilterExpression: '#ttl < :now AND #ttl > :floor',
          ProjectionExpression: keys.map((_, i) => `#k${i}`).join(', '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':now': { N: String(now) }, ':floor': { N: String(now - FIVE_YEARS_S) } },
          Limit: 500,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        });
        if (status !== 200) throw new Error(`scan of ${table} failed: ${JSON.stringify(data)}`);
        for (const key of Array.isArray(data.Items) ? data.Items : []) {
          const { status: deleteStatus } = await this.call('DeleteItem', {
            TableName: table,
            Key: key,
            // Skip items whose TTL was pushed forward since the scan.
            ConditionExpression: '#ttl < :now',
            ExpressionAttributeNames: { '#ttl': attribute },
            ExpressionAttributeValues: { ':now': { N: String(now) } },
          });
          if (deleteStatus === 200) deleted++;
        }
        startKey = data.LastEvaluatedKey;
        // Yield between pages so a large sweep does not stall request handling.
        await new Promise((resolve) => setImmediate(resolve));
      } while (startKey);
    }
    this.stats.live.dynamodb.ttlDeletes += deleted;
    return deleted;
  }

  private async forgetTtl(table: string): Promise<void> {
    if (this.ttl.delete(table)) await this.saveTtl();
  }

  private loadTtl(): void {
    const file = this.options.ttlFile;
    if (!file) return;
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (isRecord(parsed)) for (const [table, attr] of Object.entries(parsed)) if (typeof attr === 'string') this.ttl.set(table, attr);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.options.logger.warn(`ignoring unreadable TTL state ${file}: ${(err as Error).message}`);
    }
  }

  /** Saves are chained so concurrent UpdateTimeToLive calls cannot land an older snapshot last. */
  private saveTtl(): Promise<void> {
    const file = this.options.ttlFile;
    if (!file) return Promise.resolve();
    const write = async (): Promise<void> => {
      await mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.${randomUUID()}.tmp`;
      await writeFile(tmp, JSON.stringify(Object.fromEntries(this.ttl), null, 2));
      await rename(tmp, file);
    };
    this.saving = this.saving.then(write, write);
    return this.saving;
  }
}
