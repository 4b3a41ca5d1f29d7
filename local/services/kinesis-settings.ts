// Stream settings kinesalite does not keep, kept for it so that Kinesis answers what was
// configured: server-side encryption (StartStreamEncryption / StopStreamEncryption →
// DescribeStream(Summary) EncryptionType and KeyId), the stream mode (CreateStream's
// StreamModeDetails → DescribeStream(Summary) StreamModeDetails; ON_DEMAND without a shard count
// starts with 4 shards, as on AWS) and tags with the characters AWS allows (kinesalite rejects
// `:`, which every CDK tag key has).
//
// Where they live: in kinesalite's own tag store, so they persist with the stream and go away
// with it. User tags are stored escaped (`@XX` per UTF-8 byte for `@`, `:` and anything else
// kinesalite refuses); the settings are tags under the `aws:` prefix, which AWS reserves (users
// cannot add such tags, so they never collide) and which ListTagsForStream leaves out.
import type { EmbeddedBackend } from './embedded';
import { AMZ_JSON_1_1, isRecord, jsonError, jsonResponse, requestId } from './http';
import type { ServiceResponse } from './http';

const ENCRYPTION_TAG = 'aws:riffle:encryption';
const MODE_TAG = 'aws:riffle:stream-mode';
/** What AWS allows in Kinesis tag keys and values. */
const AWS_TAG_TEXT = /^[\p{L}\p{N}\s_.:/=+\-@]*$/u;
/** What kinesalite accepts (its own validation), minus `@`, our escape character. */
const KINESALITE_SAFE = /[\u00C0-\u1FFF\u2C00-\uD7FF\w./\-=+_ ]/;
/** kinesalite's per-call limits (AddTagsToStream: 10 tags; ListTagsForStream: Limit ≤ 10). */
const KINESALITE_PAGE = 10;

/** Escapes text into kinesalite's tag alphabet (reversible; `@` is the escape character). */
export function encodeTag(text: string): string {
  let out = '';
  for (const ch of text) {
    if (ch !== '@' && KINESALITE_SAFE.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += `@${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function decodeTag(text: string): string {
  if (!text.includes('@')) return text;
  return text.replace(/(?:@[0-9A-F]{2})+/g, (run) => Buffer.from(run.split('@').slice(1).map((h) => parseInt(h, 16))).toString('utf8'));
}

interface Call {
  readonly status: number;
  readonly data: Record<string, unknown>;
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

export class StreamSettings {
  constructor(private readonly backend: EmbeddedBackend) {}

  /**
   * Answers the operations this layer implements (tags, encryption, CreateStream extras);
   * undefined lets the request through to kinesalite unchanged.
   */
  async handle(operation: string, data: Record<string, unknown>): Promise<ServiceResponse | undefined> {
    switch (operation) {
      case 'CreateStream':
        return this.createStream(data);
      case 'AddTagsToStream':
        return this.addTags(data);
      case 'RemoveTagsFromStream':
        return this.removeTags(data);
      case 'ListTagsForStream':
        return this.listTags(data);
      case 'StartStreamEncryption':
      case 'StopStreamEncryption':
        return this.encryption(operation, data);
      default:
        return undefined;
    }
  }

  /** Adds what kinesalite leaves out of DescribeStream(Summary): encryption and stream mode. */
  async describe(operation: string, response: ServiceResponse & { body: Buffer }): Promise<ServiceResponse> {
    if ((operation !== 'DescribeStream' && operation !== 'DescribeStreamSummary') || response.status !== 200) return response;
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return response;
    }
    const key = operation === 'DescribeStream' ? 'StreamDescription' : 'StreamDescriptionSummary';
    const description = parsed[key];
    if (!isRecord(description) || typeof description['StreamName'] !== 'string') return response;
    const hidden = await this.hiddenTags(description['StreamName']);
    const encryption = hidden.get(ENCRYPTION_TAG);
    if (encryption) {
      const space = encryption.indexOf(' ');
      description['EncryptionType'] = encryption.slice(0, space);
      description['KeyId'] = encryption.slice(space + 1);
    } else {
      description['EncryptionType'] = 'NONE';
      delete description['KeyId'];
    }
    description['StreamModeDetails'] = { StreamMode: hidden.get(MODE_TAG) ?? 'PROVISIONED' };
    const body = Buffer.from(JSON.stringify(parsed));
    return { status: 200, headers: { ...response.headers, 'content-length': String(body.length) }, body };
  }

  // ---- operations -----------------------------------------------------------------------------

  private async createStream(data: Record<string, unknown>): Promise<ServiceResponse | undefined> {
    const mode = isRecord(data['StreamModeDetails']) ? data['StreamModeDetails']['StreamMode'] : undefined;
    const tags = isRecord(data['Tags']) ? data['Tags'] : undefined;
    if (mode === undefined && tags === undefined) return undefined;
    if (mode !== undefined && mode !== 'ON_DEMAND' && mode !== 'PROVISIONED') return invalid(`StreamMode must be ON_DEMAND or PROVISIONED, got ${String(mode)}`);
    const invalidTags = tags ? checkTags(tags) : undefined;
    if (invalidTags) return invalidTags;
    const payload = { ...data, ...(mode === 'ON_DEMAND' && data['ShardCount'] === undefined ? { ShardCount: 4 } : {}) };
    const created = await this.call('CreateStream', payload);
    if (created.status !== 200) return passThrough(created);
    const name = String(data['StreamName']);
    const stored: Record<string, string> = { ...(mode !== undefined ? { [MODE_TAG]: String(mode) } : {}) };
    for (const [k, v] of Object.entries(tags ?? {})) stored[k] = String(v);
    const tagged = await this.putTags(name, stored);
    return tagged ?? passThrough(created);
  }

  private async addTags(data: Record<string, unknown>): Promise<ServiceResponse> {
    if (typeof data['StreamName'] !== 'string' || !isRecord(data['Tags'])) return invalid('AddTagsToStream needs StreamName and Tags');
    const problem = checkTags(data['Tags']);
    if (problem) return problem;
    const tags: Record<string, string> = {};
    for (const [k, v] of Object.entries(data['Tags'])) tags[k] = String(v);
    return (await this.putTags(data['StreamName'], tags)) ?? ok();
  }

  private async removeTags(data: Record<string, unknown>): Promise<ServiceResponse> {
    const keys = Array.isArray(data['TagKeys']) ? data['TagKeys'].filter((k): k is string => typeof k === 'string') : [];
    if (typeof data['StreamName'] !== 'string' || keys.length === 0) return invalid('RemoveTagsFromStream needs StreamName and TagKeys');
    if (keys.some((k) => k.startsWith('aws:'))) return invalid('Tag keys starting with aws: are reserved for AWS use');
    const removed = await this.call('RemoveTagsFromStream', { StreamName: data['StreamName'], TagKeys: keys.map(encodeTag) });
    return removed.status === 200 ? ok() : passThrough(removed);
  }

  private async listTags(data: Record<string, unknown>): Promise<ServiceResponse> {
    if (typeof data['StreamName'] !== 'string') return invalid('ListTagsForStream needs StreamName');
    const all = await this.allTags(data['StreamName']);
    if (!(all instanceof Map)) return all;
    const limit = typeof data['Limit'] === 'number' ? data['Limit'] : 50;
    const start = typeof data['ExclusiveStartTagKey'] === 'string' ? data['ExclusiveStartTagKey'] : undefined;
    const keys = [...all.keys()].filter((k) => !k.startsWith('aws:') && (start === undefined || k > start)).sort();
    return jsonResponse({ Tags: keys.slice(0, limit).map((Key) => ({ Key, Value: all.get(Key) ?? '' })), HasMoreTags: keys.length > limit });
  }

  private async encryption(operation: string, data: Record<string, unknown>): Promise<ServiceResponse> {
    const name = data['StreamName'];
    if (typeof name !== 'string') return invalid(`${operation} needs StreamName`);
    if (data['EncryptionType'] !== 'KMS') return invalid(`EncryptionType must be KMS, got ${String(data['EncryptionType'])}`);
    if (typeof data['KeyId'] !== 'string' || data['KeyId'] === '') return invalid('KeyId is required');
    const response =
      operation === 'StartStreamEncryption'
        ? await this.putTags(name, { [ENCRYPTION_TAG]: `KMS ${data['KeyId']}` })
        : await this.call('RemoveTagsFromStream', { StreamName: name, TagKeys: [encodeTag(ENCRYPTION_TAG)] }).then((r) => (r.status === 200 ? undefined : passThrough(r)));
    return response ?? ok();
  }

  // ---- kinesalite's tag store -----------------------------------------------------------------

  /** Stores tags (escaped), 10 per call as kinesalite allows; an error response if one failed. */
  private async putTags(stream: string, tags: Record<string, string>): Promise<ServiceResponse | undefined> {
    await this.settled(stream);
    const entries = Object.entries(tags);
    for (let i = 0; i < entries.length; i += KINESALITE_PAGE) {
      const page = Object.fromEntries(entries.slice(i, i + KINESALITE_PAGE).map(([k, v]) => [encodeTag(k), encodeTag(v)]));
      const result = await this.call('AddTagsToStream', { StreamName: stream, Tags: page });
      if (result.status !== 200) return passThrough(result);
    }
    return undefined;
  }

  /**
   * Waits (up to 5 s) while the stream is CREATING or UPDATING: kinesalite activates a stream by
   * writing back the record it created, which would drop tags written in between.
   */
  private async settled(stream: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const summary = await this.call('DescribeStreamSummary', { StreamName: stream });
      const description = summary.data['StreamDescriptionSummary'];
      const status = isRecord(description) ? description['StreamStatus'] : undefined;
      if ((status !== 'CREATING' && status !== 'UPDATING') || Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Every tag of the stream, decoded (hidden ones included), or kinesalite's error. */
  private async allTags(stream: string): Promise<Map<string, string> | ServiceResponse> {
    const tags = new Map<string, string>();
    let start: string | undefined;
    for (;;) {
      const page = await this.call('ListTagsForStream', { StreamName: stream, Limit: KINESALITE_PAGE, ...(start ? { ExclusiveStartTagKey: start } : {}) });
      if (page.status !== 200) return passThrough(page);
      const list = Array.isArray(page.data['Tags']) ? page.data['Tags'].filter(isRecord) : [];
      for (const t of list) if (typeof t['Key'] === 'string') tags.set(decodeTag(t['Key']), decodeTag(String(t['Value'] ?? '')));
      const last = list[list.length - 1]?.['Key'];
      if (page.data['HasMoreTags'] !== true || typeof last !== 'string') return tags;
      start = last;
    }
  }

  private async hiddenTags(stream: string): Promise<Map<string, string>> {
    const all = await this.allTags(stream);
    return all instanceof Map ? all : new Map();
  }

  /** An internal request to kinesalite (signed, as it insists — it reads no more than the header; not counted in stats). */
  private async call(operation: string, payload: Record<string, unknown>): Promise<Call> {
    const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    const response = await this.backend.dispatch(
      'POST',
      '/',
      {
        'content-type': AMZ_JSON_1_1,
        'x-amz-target': `Kinesis_20131202.${operation}`,
        'x-amz-date': date,
        authorization: `AWS4-HMAC-SHA256 Credential=riffle/${date.slice(0, 8)}/local/kinesis/aws4_request, SignedHeaders=host, Signature=0`,
      },
      Buffer.from(JSON.stringify(payload)),
    );
    let data: Record<string, unknown> = {};
    try {
      const parsed: unknown = response.body.length ? JSON.parse(response.body.toString('utf8')) : {};
      if (isRecord(parsed)) data = parsed;
    } catch {
      // an empty or non-JSON answer
    }
    return { status: response.status, data, body: response.body, headers: response.headers };
  }
}

function checkTags(tags: Record<string, unknown>): ServiceResponse | undefined {
  for (const [key, value] of Object.entries(tags)) {
    if (key.startsWith('aws:')) return invalid('Tag keys starting with aws: are reserved for AWS use');
    if (key.length < 1 || key.length > 128 || String(value).length > 256) return invalid('Tag keys must be 1-128 characters and values at most 256');
    if (!AWS_TAG_TEXT.test(key) || !AWS_TAG_TEXT.test(String(value))) {
      return invalid('Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . : / = + - @.');
    }
  }
  return undefined;
}

function invalid(message: string): ServiceResponse {
  return jsonError('InvalidArgumentException', message);
}

function ok(): ServiceResponse {
  return { status: 200, headers: { 'content-type': AMZ_JSON_1_1, 'x-amzn-requestid': requestId() }, body: '' };
}

function passThrough(call: Call): ServiceResponse {
  return { status: call.status, headers: call.headers, body: call.body };
}
