// Firehose delivery stream configuration: validates a CreateDeliveryStream input (API or
// CloudFormation `AWS::KinesisFirehose::DeliveryStream` properties, same field names) the way AWS
// does and compiles what delivery needs (bucket, prefixes, buffering hints, compression, JQ,
// processors, record format conversion to Parquet). Unsupported settings (Lambda processors, ORC,
// other destinations) are rejected here, so a stack fails at deploy instead of behaving differently locally.
import { compileJq, JqUnsupportedError } from './jq';
import type { JqProgram } from './jq';
import { compilePrefix, effectiveDataPrefix, effectiveErrorPrefix, PrefixError } from './firehose-prefix';
import type { CompiledPrefix } from './firehose-prefix';
import { isRecord } from './http';
import { compileFormatConversion, FormatConversionConfigError, type FormatConversion } from './format-conversion/parquet';

export class FirehoseConfigError extends Error {
  override readonly name = 'FirehoseConfigError';
}

export interface Deaggregation {
  readonly kind: 'JSON' | 'DELIMITED';
  readonly delimiter?: Buffer;
}

export interface StreamConfig {
  readonly bucket: string;
  readonly dataPrefix: CompiledPrefix;
  readonly errorPrefix: CompiledPrefix;
  readonly intervalSeconds: number;
  readonly sizeBytes: number;
  readonly gzip: boolean;
  readonly extension: string;
  readonly dynamicPartitioning: boolean;
  readonly jq?: JqProgram;
  readonly appendDelimiter?: Buffer;
  readonly deaggregation?: Deaggregation;
  /** Record format conversion (JSON → Parquet with a Glue table's columns), when configured. */
  readonly conversion?: FormatConversion;
}

export function num(value: unknown, what: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < min || n > max) throw new FirehoseConfigError(`${what} must be a number between ${min} and ${max}, got ${JSON.stringify(value)}`);
  return n;
}

function bool(value: unknown): boolean {
  return value === true || value === 'true';
}

export function str(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new FirehoseConfigError(`${what} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function processorParameters(processor: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  const params = processor.Parameters;
  if (params === undefined) return out;
  if (!Array.isArray(params)) throw new FirehoseConfigError('ProcessingConfiguration.Processors[].Parameters must be a list');
  for (const p of params) {
    if (!isRecord(p)) continue;
    const name = str(p.ParameterName, 'ParameterName');
    const value = p.ParameterValue;
    if (name) out.set(name, typeof value === 'string' ? value : JSON.stringify(value));
  }
  return out;
}

/** Firehose takes delimiters base64-encoded; accept the common literal `\n` too. */
function decodeDelimiter(value: string | undefined, fallback: string): Buffer {
  if (value === undefined) return Buffer.from(fallback);
  if (value === '\\n' || value === '\n') return Buffer.from('\n');
  const decoded = Buffer.from(value, 'base64');
  if (decoded.length === 0 || decoded.toString('base64').replace(/=+$/, '') !== value.replace(/=+$/, '')) {
    throw new FirehoseConfigError(`Delimiter must be base64-encoded (e.g. "Cg==" for a newline), got ${JSON.stringify(value)}`);
  }
  return decoded;
}

/**
 * Validates a CreateDeliveryStream input (API or CloudFormation `AWS::KinesisFirehose::DeliveryStream`
 * properties: same field names) and compiles what delivery needs.
 */
export function compileStreamConfig(input: Record<string, unknown>): StreamConfig {
  const type = str(input.DeliveryStreamType, 'DeliveryStreamType') ?? 'DirectPut';
  if (type !== 'DirectPut') {
    throw new FirehoseConfigError(`DeliveryStreamType ${type} is not supported by the local cloud (DirectPut only: producers call PutRecord/PutRecordBatch)`);
  }
  for (const other of [
    'RedshiftDestinationConfiguration',
    'ElasticsearchDestinationConfiguration',
    'AmazonopensearchserviceDestinationConfiguration',
    'AmazonOpenSearchServerlessDestinationConfiguration',
    'SplunkDestinationConfiguration',
    'HttpEndpointDestinationConfiguration',
    'SnowflakeDestinationConfiguration',
    'IcebergDestinationConfiguration',
  ]) {
    if (input[other] !== undefined) throw new FirehoseConfigError(`${other} is not supported by the local cloud (S3 destinations only)`);
  }
  const extended = input.ExtendedS3DestinationConfiguration;
  const plain = input.S3DestinationConfiguration;
  const dest = isRecord(extended) ? extended : isRecord(plain) ? plain : undefined;
  if (!dest) throw new FirehoseConfigError('a destination is required: ExtendedS3DestinationConfiguration or S3DestinationConfiguration');

  const bucketArn = str(dest.BucketARN, 'BucketARN') ?? '';
  const bucketMatch = /^arn:[^:]+:s3:::([A-Za-z0-9.\-_]{1,255})$/.exec(bucketArn);
  if (!bucketMatch?.[1]) throw new FirehoseConfigError(`BucketARN must look like arn:aws:s3:::bucket, got ${JSON.stringify(bucketArn)}`);

  const hints = isRecord(dest.BufferingHints) ? dest.BufferingHints : {};
  const intervalSeconds = num(hints.IntervalInSeconds, 'BufferingHints.IntervalInSeconds', 0, 900, 300);
  const sizeMb = num(hints.SizeInMBs, 'BufferingHints.SizeInMBs', 1, 128, 5);

  const compressionFormat = str(dest.CompressionFormat, 'CompressionFormat') ?? 'UNCOMPRESSED';
  const compression = compressionFormat.toUpperCase();
  if (compression !== 'UNCOMPRESSED' && compression !== 'GZIP') {
    throw new FirehoseConfigError(`CompressionFormat ${compressionFormat} is not supported by the local cloud (UNCOMPRESSED or GZIP)`);
  }
  const fileExtension = str(dest.FileExtension, 'FileExtension');
  if (fileExtension !== undefined && fileExtension !== '' && !/^\.[0-9a-z!\-_.*'()]+$/.test(fileExtension)) {
    throw new FirehoseConfigError(`FileExtension must start with "." and use [0-9a-z!-_.*'()], got ${JSON.stringify(fileExtension)}`);
  }
  const timeZone = str(dest.CustomTimeZone, 'CustomTimeZone');
  if (timeZone && timeZone !== 'UTC') throw new FirehoseConfigError(`CustomTimeZone ${timeZone} is not supported by the local cloud (UTC only)`);
  let conversion: FormatConversion | undefined;
  try {
    conversion = compileFormatConversion(dest);
  } catch (err) {
    if (err instanceof FormatConversionConfigError) throw new FirehoseConfigError(err.message);
    throw err;
  }
  if ((str(dest.S3BackupMode, 'S3BackupMode') ?? 'Disabled') !== 'Disabled') {
    throw new FirehoseConfigError('S3BackupMode Enabled is not supported by the local cloud');
  }

  const dynamicPartitioning = isRecord(dest.DynamicPartitioningConfiguration) && bool(dest.DynamicPartitioningConfiguration.Enabled);

  let jq: JqProgram | undefined;
  let appendDelimiter: Buffer | undefined;
  let deaggregation: Deaggregation | undefined;
  const processing = isRecord(dest.ProcessingConfiguration) ? dest.ProcessingConfiguration : undefined;
  if (processing && bool(processing.Enabled ?? true) && processing.Processors !== undefined) {
    if (!Array.isArray(processing.Processors)) throw new FirehoseConfigError('ProcessingConfiguration.Processors must be a list');
    for (const processor of processing.Processors) {
      if (!isRecord(processor)) continue;
      const params = processorParameters(processor);
      const processorType = str(processor.Type, 'Processor Type');
      switch (processorType) {
        case 'MetadataExtraction': {
          const engine = params.get('JsonParsingEngine') ?? 'JQ-1.6';
          if (engine !== 'JQ-1.6') throw new FirehoseConfigError(`JsonParsingEngine must be JQ-1.6, got ${JSON.stringify(engine)}`);
          const query = params.get('MetadataExtractionQuery');
          if (!query) throw new FirehoseConfigError('MetadataExtraction needs a MetadataExtractionQuery parameter');
          try {
            jq = compileJq(query);
          } catch (err) {
            if (err instanceof JqUnsupportedError) throw new FirehoseConfigError(`MetadataExtractionQuery: ${err.message}`);
            throw err;
          }
          break;
        }
        case 'AppendDelimiterToRecord':
          appendDelimiter = decodeDelimiter(params.get('Delimiter'), '\n');
          break;
        case 'RecordDeAggregation': {
          const subType = params.get('SubRecordType') ?? 'JSON';
          if (subType === 'JSON') deaggregation = { kind: 'JSON' };
          else if (subType === 'DELIMITED') deaggregation = { kind: 'DELIMITED', delimiter: decodeDelimiter(params.get('Delimiter'), '\n') };
          else throw new FirehoseConfigError(`RecordDeAggregation SubRecordType must be JSON or DELIMITED, got ${JSON.stringify(subType)}`);
          break;
        }
        default:
          throw new FirehoseConfigError(
            `processor type ${JSON.stringify(processorType)} is not supported by the local cloud ` +
              `(supported: MetadataExtraction with JQ-1.6, AppendDelimiterToRecord, RecordDeAggregation; Lambda processors do not run locally)`,
          );
      }
    }
  }

  let rawPrefix: CompiledPrefix;
  let rawErrorPrefix: CompiledPrefix;
  try {
    rawPrefix = compilePrefix(str(dest.Prefix, 'Prefix') ?? '', 'Prefix');
    rawErrorPrefix = compilePrefix(str(dest.ErrorOutputPrefix, 'ErrorOutputPrefix') ?? '', 'ErrorOutputPrefix');
  } catch (err) {
    if (err instanceof PrefixError) throw new FirehoseConfigError(err.message);
    throw err;
  }
  // AWS's semantic rules for prefixes (https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html).
  if (rawPrefix.usesErrorOutputType) throw new FirehoseConfigError('Prefix cannot contain !{firehose:error-output-type} (it belongs in ErrorOutputPrefix)');
  if (rawErrorPrefix.queryKeys.length > 0) throw new FirehoseConfigError('ErrorOutputPrefix cannot contain !{partitionKeyFromQuery:…} expressions');
  if (rawPrefix.hasExpressions && !rawErrorPrefix.source) {
    throw new FirehoseConfigError('ErrorOutputPrefix cannot be null or empty when Prefix contains expressions');
  }
  if (rawErrorPrefix.hasExpressions && !rawErrorPrefix.usesErrorOutputType) {
    throw new FirehoseConfigError('ErrorOutputPrefix with expressions must contain !{firehose:error-output-type}');
  }
  if (dynamicPartitioning) {
    if (!rawErrorPrefix.source) throw new FirehoseConfigError('ErrorOutputPrefix is required when dynamic partitioning is enabled');
    if (rawPrefix.queryKeys.length === 0) {
      throw new FirehoseConfigError('dynamic partitioning is enabled but Prefix has no !{partitionKeyFromQuery:…} expression');
    }
    if (!jq) throw new FirehoseConfigError('Prefix uses !{partitionKeyFromQuery:…} but no MetadataExtraction processor (JQ) is configured');
    const produced = jq.objectKeys;
    if (produced) {
      for (const key of rawPrefix.queryKeys) {
        if (!produced.includes(key)) throw new FirehoseConfigError(`Prefix uses !{partitionKeyFromQuery:${key}} but the MetadataExtractionQuery ${JSON.stringify(jq.source)} does not produce "${key}"`);
      }
    }
  } else {
    if (rawPrefix.queryKeys.length > 0) throw new FirehoseConfigError('Prefix uses !{partitionKeyFromQuery:…} but DynamicPartitioningConfiguration is not enabled');
    if (jq) throw new FirehoseConfigError('MetadataExtraction requires DynamicPartitioningConfiguration.Enabled');
  }

  return {
    bucket: bucketMatch[1],
    dataPrefix: effectiveDataPrefix(rawPrefix),
    errorPrefix: effectiveErrorPrefix(rawErrorPrefix),
    intervalSeconds,
    sizeBytes: sizeMb * 1024 * 1024,
    gzip: compression === 'GZIP',
    // AWS appends the compression's extension unless FileExtension overrides it.
    extension: fileExtension ?? (compression === 'GZIP' ? '.gz' : ''),
    dynamicPartitioning,
    ...(jq ? { jq } : {}),
    ...(appendDelimiter ? { appendDelimiter } : {}),
    ...(deaggregation ? { deaggregation } : {}),
    ...(conversion ? { conversion } : {}),
  };
}
