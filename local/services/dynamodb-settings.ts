// Table settings dynalite does not keep, kept for it so that DynamoDB answers what was
// configured: server-side encryption (CreateTable / UpdateTable SSESpecification →
// DescribeTable SSEDescription, as encryption.ts words it) and CreateTable's Tags
// (dynalite only tags through TagResource).
//
// Where they live: in dynalite's own tag store, so they persist with the table and go away with
// it; the encryption setting is a tag under the `aws:` prefix, which AWS reserves (users cannot
// add such tags, so it never collides) and which ListTagsOfResource leaves out.
import { crc32 } from 'node:zlib';
import type { CapturedResponse } from './embedded';
import { sseDescription, type SseSpecification } from './encryption';
import { AMZ_JSON_1_0, isRecord, requestId } from './http';
import type { ServiceResponse } from './http';

const SSE_TAG = 'aws:riffle:sse';

export type InternalCall = (operation: string, payload: Record<string, unknown>) => Promise<{ status: number; data: Record<string, unknown> }>;

function tableName(value: string): string {
  const i = value.indexOf(':table/');
  return i >= 0 ? value.slice(i + ':table/'.length) : value;
}

function json(value: unknown, status = 200): ServiceResponse {
  const body = JSON.stringify(value);
  return { status, headers: { 'content-type': AMZ_JSON_1_0, 'x-amzn-requestid': requestId(), 'x-amz-crc32': String(crc32(body) >>> 0) }, body };
}

function validation(message: string): ServiceResponse {
  return json({ __type: 'com.amazonaws.dynamodb.v20120810#ValidationException', message }, 400);
}

export class TableSettings {
  constructor(
    private readonly call: InternalCall,
    private readonly accountId: string,
    private readonly region: string,
  ) {}

  private tableArn(table: string): string {
    return `arn:aws:dynamodb:${this.region}:${this.accountId}:table/${table}`;
  }

  /**
   * A request to rewrite before dynalite sees it, or a complete answer. `forward` is the body to
   * send on; `after` runs on dynalite's successful answer.
   */
  async before(operation: string, data: Record<string, unknown>): Promise<{ answer?: ServiceResponse; forward?: Record<string, unknown> }> {
    if ((operation === 'TagResource' || operation === 'UntagResource') && this.touchesReserved(data)) {
      return { answer: validation('Tag keys starting with aws: are reserved for AWS use') };
    }
    if (operation === 'UpdateTable' && isRecord(data['SSESpecification']) && typeof data['TableName'] === 'string') {
      const { SSESpecification: spec, ...rest } = data;
      const table = tableName(data['TableName']);
      const stored = await this.storeSse(table, spec as SseSpecification);
      if (stored) return { answer: stored };
      const others = Object.keys(rest).filter((k) => k !== 'TableName');
      if (others.length > 0) return { forward: rest };
      const described = await this.call('DescribeTable', { TableName: table });
      const description = isRecord(described.data['Table']) ? await this.decorateDescription(described.data['Table']) : described.data['Table'];
      return { answer: json({ TableDescription: description }, described.status) };
    }
    return {};
  }

  /** Applies what the request configured after dynalite accepted it, and completes its answer. */
  async after(operation: string, data: Record<string, unknown>, response: CapturedResponse): Promise<Buffer | undefined> {
    if (response.status !== 200) return undefined;
    if (operation === 'CreateTable' && typeof data['TableName'] === 'string') {
      const table = tableName(data['TableName']);
      const tags = Array.isArray(data['Tags']) ? data['Tags'].filter(isRecord) : [];
      const userTags = tags.filter((t) => typeof t['Key'] === 'string' && !String(t['Key']).startsWith('aws:'));
      if (userTags.length) await this.call('TagResource', { ResourceArn: this.tableArn(table), Tags: userTags });
      if (isRecord(data['SSESpecification'])) await this.storeSse(table, data['SSESpecification'] as SseSpecification);
      return this.rewrite(response.body, 'TableDescription');
    }
    if (operation === 'DescribeTable' || operation === 'UpdateTable') return this.rewrite(response.body, operation === 'DescribeTable' ? 'Table' : 'TableDescription');
    if (operation === 'ListTagsOfResource') {
      const parsed = JSON.parse(response.body.toString('utf8')) as { Tags?: { Key: string }[] };
      parsed.Tags = (parsed.Tags ?? []).filter((t) => !t.Key.startsWith('aws:'));
      return Buffer.from(JSON.stringify(parsed));
    }
    return undefined;
  }

  private touchesReserved(data: Record<string, unknown>): boolean {
    const keys = Array.isArray(data['Tags']) ? data['Tags'].map((t) => (isRecord(t) ? t['Key'] : undefined)) : Array.isArray(data['TagKeys']) ? data['TagKeys'] : [];
    return keys.some((k) => typeof k === 'string' && k.startsWith('aws:'));
  }

  /** Records the table's encryption; an error answer when the table does not exist. */
  private async storeSse(table: string, spec: SseSpecification): Promise<ServiceResponse | undefined> {
    const value = JSON.stringify({ Enabled: spec.Enabled === true, ...(spec.SSEType ? { SSEType: spec.SSEType } : {}), ...(spec.KMSMasterKeyId ? { KMSMasterKeyId: spec.KMSMasterKeyId } : {}) });
    const result = await this.call('TagResource', { ResourceArn: this.tableArn(table), Tags: [{ Key: SSE_TAG, Value: value }] });
    return result.status === 200 ? undefined : json(result.data, result.status);
  }

  private async sseOf(table: string): Promise<SseSpecification | undefined> {
    const result = await this.call('ListTagsOfResource', { ResourceArn: this.tableArn(table) });
    const tags = Array.isArray(result.data['Tags']) ? result.data['Tags'].filter(isRecord) : [];
    const value = tags.find((t) => t['Key'] === SSE_TAG)?.['Value'];
    if (typeof value !== 'string') return undefined;
    try {
      return JSON.parse(value) as SseSpecification;
    } catch {
      return undefined;
    }
  }

  private async decorateDescription(description: Record<string, unknown>): Promise<Record<string, unknown>> {
    const name = description['TableName'];
    if (typeof name !== 'string') return description;
    const spec = await this.sseOf(name);
    const sse = spec ? sseDescription(spec, this.accountId, this.region) : undefined;
    const { SSEDescription: _previous, ...rest } = description;
    return sse ? { ...rest, SSEDescription: sse } : rest;
  }

  private async rewrite(body: Buffer, key: string): Promise<Buffer | undefined> {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    const description = parsed[key];
    if (!isRecord(description)) return undefined;
    parsed[key] = await this.decorateDescription(description);
    return Buffer.from(JSON.stringify(parsed));
  }
}
