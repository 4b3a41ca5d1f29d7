// ListObjects / ListObjectsV2 over a bucket's in-memory sorted key index (store.ts): prefixes,
// delimiters (common prefixes), max-keys, markers, start-after and continuation tokens, in S3's
// UTF-8 binary key order. A page is found by binary search, so paging through a large bucket
// does not rescan it. Continuation tokens are opaque to clients but checked here: a token this
// server did not issue is S3's 400 InvalidArgument, not an empty page.
import type { ServiceResponse } from '../http';
import { S3Error } from './errors';
import { compareKeys, lowerBound } from './keys';
import type { BucketIndex, ObjectRecord } from './store';
import { isoDate, s3XmlText, xml, XMLNS } from './xml';

export type ListEntry = { readonly kind: 'object'; readonly record: ObjectRecord } | { readonly kind: 'prefix'; readonly prefix: string };

export interface ListQuery {
  readonly prefix: string;
  readonly delimiter: string;
  readonly maxKeys: number;
  /** Exclusive: entries after this key (marker, start-after or the continuation token's key). */
  readonly after: string;
}

export interface ListPage {
  readonly entries: readonly ListEntry[];
  readonly truncated: boolean;
}

const TOKEN_TAG = 'riffle-list-1:';

export function encodeContinuationToken(after: string): string {
  return Buffer.from(TOKEN_TAG + after, 'utf8').toString('base64url');
}

export function decodeContinuationToken(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  if (!text.startsWith(TOKEN_TAG) || encodeContinuationToken(text.slice(TOKEN_TAG.length)) !== token) {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', 400, { ArgumentName: 'continuation-token', ArgumentValue: token });
  }
  return text.slice(TOKEN_TAG.length);
}

export function parseMaxKeys(raw: string | null): number {
  if (raw === null) return 1000;
  if (!/^-?\d+$/.test(raw.trim())) throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', 400, { ArgumentName: 'max-keys', ArgumentValue: raw });
  const n = Number(raw);
  if (n < 0 || n > 2 ** 31 - 1) throw new S3Error('InvalidArgument', 'Argument maxKeys must be an integer between 0 and 2147483647', 400, { ArgumentName: 'maxKeys', ArgumentValue: raw });
  return Math.min(1000, n);
}

/** One page of a listing. */
export function listPage(index: Pick<BucketIndex, 'sorted' | 'records'>, q: ListQuery): ListPage {
  const { sorted, records } = index;
  const { prefix, delimiter, maxKeys, after } = q;
  let i = after && compareKeys(after, prefix) >= 0 ? lowerBound(sorted, after, true) : lowerBound(sorted, prefix);
  const entries: ListEntry[] = [];
  let truncated = false;
  while (i < sorted.length) {
    const key = sorted[i] as string;
    if (!key.startsWith(prefix)) break; // keys with the prefix are contiguous in sorted order
    const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
    if (cut >= 0) {
      const common = key.slice(0, cut + delimiter.length);
      if (after && compareKeys(common, after) <= 0) {
        i++; // this group was returned on an earlier page
        continue;
      }
      if (entries.length >= maxKeys) {
        truncated = true;
        break;
      }
      entries.push({ kind: 'prefix', prefix: common });
      while (i < sorted.length && (sorted[i] as string).startsWith(common)) i++;
      continue;
    }
    if (entries.length >= maxKeys) {
      truncated = true;
      break;
    }
    entries.push({ kind: 'object', record: records.get(key) as ObjectRecord });
    i++;
  }
  return { entries, truncated };
}

/** The ListBucketResult document of ListObjects (v1) or ListObjectsV2. */
export function listObjectsResponse(bucket: string, index: Pick<BucketIndex, 'sorted' | 'records'>, query: URLSearchParams, v2: boolean, ownerId: string): ServiceResponse {
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const maxKeys = parseMaxKeys(query.get('max-keys'));
  const encodingType = query.get('encoding-type');
  if (encodingType !== null && encodingType !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', 400, { ArgumentName: 'encoding-type', ArgumentValue: encodingType });
  const urlEncode = encodingType === 'url';
  const enc = (s: string): string => s3XmlText(urlEncode ? encodeURIComponent(s).replace(/%2F/g, '/') : s);
  const token = query.get('continuation-token');
  const startAfter = query.get('start-after') ?? '';
  const marker = query.get('marker') ?? '';
  let after: string;
  if (v2) after = token !== null ? decodeContinuationToken(token) : startAfter;
  else after = marker;

  const { entries, truncated } = listPage(index, { prefix, delimiter, maxKeys, after });
  const last = entries[entries.length - 1];
  const lastKey = last ? (last.kind === 'object' ? last.record.key : last.prefix) : undefined;

  let contents = '';
  let prefixes = '';
  for (const e of entries) {
    if (e.kind === 'prefix') {
      prefixes += `<CommonPrefixes><Prefix>${enc(e.prefix)}</Prefix></CommonPrefixes>`;
      continue;
    }
    const r = e.record;
    contents +=
      `<Contents><Key>${enc(r.key)}</Key><LastModified>${isoDate(r.lastModified)}</LastModified>` +
      `<ETag>&quot;${r.etag}&quot;</ETag><Size>${r.size}</Size><StorageClass>STANDARD</StorageClass>` +
      (v2 ? '' : `<Owner><ID>${ownerId}</ID><DisplayName>riffle</DisplayName></Owner>`) +
      `</Contents>`;
  }
  let head = `<Name>${s3XmlText(bucket)}</Name><Prefix>${enc(prefix)}</Prefix>`;
  if (delimiter) head += `<Delimiter>${enc(delimiter)}</Delimiter>`;
  head += `<MaxKeys>${maxKeys}</MaxKeys>`;
  if (urlEncode) head += '<EncodingType>url</EncodingType>';
  head += `<IsTruncated>${truncated}</IsTruncated>`;
  if (v2) {
    head += `<KeyCount>${entries.length}</KeyCount>`;
    if (token !== null) head += `<ContinuationToken>${s3XmlText(token)}</ContinuationToken>`;
    if (startAfter) head += `<StartAfter>${enc(startAfter)}</StartAfter>`;
    if (truncated && lastKey !== undefined) head += `<NextContinuationToken>${encodeContinuationToken(lastKey)}</NextContinuationToken>`;
  } else {
    head += `<Marker>${enc(marker)}</Marker>`;
    if (truncated && lastKey !== undefined) head += `<NextMarker>${enc(lastKey)}</NextMarker>`;
  }
  return xml(`<ListBucketResult xmlns="${XMLNS}">${head}${contents}${prefixes}</ListBucketResult>`);
}
