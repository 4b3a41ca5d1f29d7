// What happens to one Firehose record between PutRecordBatch and a buffer: the processors a stream
// configures, in AWS's order — RecordDeAggregation (JSON documents or a delimiter), partition keys
// from the MetadataExtraction JQ query (dynamic partitioning), AppendDelimiterToRecord — and the
// routing of each resulting record to its partition buffer, or to the error output
// (`partitioning-failed`, in AWS's error record format) when its keys cannot be extracted, or
// (`format-conversion-failed`) when the stream converts to Parquet and the record does not fit.
// Pure: no buffering, timers or I/O, so the buffer engine and its journal see finished payloads.
import { JqRuntimeError } from './jq';
import type { JqValue } from './jq';
import type { StreamConfig } from './firehose-config';
import { conversionErrorDocument, conversionFailure, FORMAT_CONVERSION_FAILED } from './format-conversion/parquet';

export const PARTITIONING_FAILED = 'partitioning-failed';

/** A record that is not what RecordDeAggregation expects (it goes to the error output). */
export class RecordFormatError extends Error {
  override readonly name = 'RecordFormatError';
}

/** A processed record and the partition buffer it belongs to. */
export interface RoutedRecord {
  /** Partition buffer id: `d:<partition key values>` for data, `e:<error type>` for errors. */
  readonly partition: string;
  readonly kind: 'data' | 'error';
  readonly partitionKeys?: Readonly<Record<string, string>>;
  readonly errorType?: string;
  readonly payload: Buffer;
}

export interface RoutingContext {
  /** When the record arrived (epoch ms). */
  readonly arrival: number;
  /** Now, for the error record's attemptEndingTimestamp. */
  readonly now: number;
  readonly streamArn: string;
}

/** Processes one incoming record and appends what it becomes to `out`. */
export function routeRecord(config: StreamConfig, record: Buffer, context: RoutingContext, out: RoutedRecord[]): void {
  let subRecords: Buffer[];
  try {
    subRecords = !config.deaggregation
      ? [record]
      : config.deaggregation.kind === 'JSON'
        ? splitJsonRecords(record)
        : splitDelimited(record, config.deaggregation.delimiter ?? Buffer.from('\n'));
  } catch (err) {
    out.push(errorRecord(record, context, 'DynamicPartitioning.MetadataExtractionFailed', (err as Error).message));
    return;
  }
  for (const sub of subRecords) {
    let partitionKeys: Record<string, string> | undefined;
    if (config.dynamicPartitioning && config.jq) {
      const extracted = extractKeys(config, sub);
      if (typeof extracted === 'string') {
        out.push(errorRecord(sub, context, 'DynamicPartitioning.MetadataExtractionFailed', extracted));
        continue;
      }
      partitionKeys = extracted;
    }
    const payload = config.appendDelimiter ? Buffer.concat([sub, config.appendDelimiter]) : sub;
    const failure = config.conversion ? conversionFailure(config.conversion, payload) : undefined;
    if (config.conversion && failure !== undefined) {
      const document = conversionErrorDocument({ record: sub, message: failure, arrivalMs: context.arrival, nowMs: context.now, conversion: config.conversion, streamArn: context.streamArn });
      out.push({ partition: `e:${FORMAT_CONVERSION_FAILED}`, kind: 'error', errorType: FORMAT_CONVERSION_FAILED, payload: Buffer.from(`${JSON.stringify(document)}\n`) });
      continue;
    }
    const partition = partitionKeys ? `d:${JSON.stringify(config.dataPrefix.queryKeys.map((k) => partitionKeys?.[k]))}` : 'd:';
    out.push({ partition, kind: 'data', ...(partitionKeys ? { partitionKeys } : {}), payload });
  }
}

/** AWS's error output record for a record whose partition keys could not be extracted. */
function errorRecord(raw: Buffer, context: RoutingContext, errorCode: string, errorMessage: string): RoutedRecord {
  const line = JSON.stringify({
    attemptsMade: 1,
    arrivalTimestamp: context.arrival,
    errorCode,
    errorMessage,
    attemptEndingTimestamp: context.now,
    rawData: raw.toString('base64'),
    deliveryStreamARN: context.streamArn,
  });
  return { partition: `e:${PARTITIONING_FAILED}`, kind: 'error', errorType: PARTITIONING_FAILED, payload: Buffer.from(`${line}\n`) };
}

/** Partition key values for a record, or the reason extraction failed. */
function extractKeys(config: StreamConfig, record: Buffer): Record<string, string> | string {
  let parsed: JqValue;
  try {
    parsed = JSON.parse(record.toString('utf8')) as JqValue;
  } catch {
    return 'Non JSON record provided';
  }
  let result: JqValue;
  try {
    result = config.jq ? config.jq.evaluate(parsed) : null;
  } catch (err) {
    if (err instanceof JqRuntimeError) return `JQ query failed: ${err.message}`;
    throw err;
  }
  if (result === null || typeof result !== 'object' || Array.isArray(result)) return 'the JQ query did not produce an object';
  const keys: Record<string, string> = {};
  for (const key of config.dataPrefix.queryKeys) {
    const value = partitionValue(result[key]);
    if (value === undefined) return `partitionKeyFromQuery:${key} evaluated to ${JSON.stringify(result[key] ?? null)}; a partition key must be a string or number`;
    if (value === '') return `partitionKeyFromQuery:${key} evaluated to an empty string`;
    keys[key] = value;
  }
  return keys;
}

/** Splits concatenated JSON documents (`{..}{..}` or newline-separated), like RecordDeAggregation/JSON. */
export function splitJsonRecords(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      if (start < 0) start = i;
    } else if (c === 0x7b || c === 0x5b) {
      if (depth === 0 && start < 0) start = i;
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0 && start >= 0) {
        out.push(data.subarray(start, i + 1));
        start = -1;
      }
    } else if (depth === 0 && c !== undefined && c > 0x20 && start < 0) {
      start = i; // a scalar document; runs to the next whitespace
      let j = i;
      while (j < data.length && (data[j] ?? 0) > 0x20) j++;
      out.push(data.subarray(start, j));
      start = -1;
      i = j;
    }
  }
  if (depth !== 0 || start >= 0) throw new RecordFormatError('record is not a sequence of complete JSON documents');
  return out;
}

function splitDelimited(data: Buffer, delimiter: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  for (let i = data.indexOf(delimiter, pos); i >= 0; i = data.indexOf(delimiter, pos)) {
    if (i > pos) out.push(data.subarray(pos, i));
    pos = i + delimiter.length;
  }
  if (pos < data.length) out.push(data.subarray(pos));
  return out;
}

function partitionValue(value: JqValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}
