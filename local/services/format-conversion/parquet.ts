// Record format conversion of the local Firehose: given a delivery stream's
// DataFormatConversionConfiguration (OpenX JSON SerDe in, Parquet SerDe out, the Glue table its
// SchemaConfiguration names) and the JSON records of one buffer, the Parquet object body AWS would
// write — the table's storage columns with its types, in one file, compressed as the ParquetSerDe
// says (SNAPPY by default) — plus the records that failed conversion, which Firehose writes to the
// error output prefix as `format-conversion-failed` instead. Pure: the emulator calls it where it
// builds an object body.
//
// Validation mirrors AWS's at CreateDeliveryStream: a deserializer and a serializer are required,
// S3 compression must be UNCOMPRESSED (the Parquet pages are compressed instead) and the buffer at
// least 64 MiB. What the local cloud cannot do (ORC, the Hive JSON SerDe, decimal/map/binary
// columns, a table the deployer did not pass along) is rejected with a message, never approximated.
import { gzipSync } from 'node:zlib';
import { parquetWriteBuffer, type SchemaElement } from 'hyparquet-writer';
import { LOCAL_GLUE_TABLE, type LocalGlueTable } from './glue-schema';
import { HiveTypeError, parquetElements, parseHiveType } from './hive-type';
import { ConversionError, deserializeRecord, type OpenXOptions, type TableColumn } from './openx-json';

/** The error output type of records that failed conversion (`!{firehose:error-output-type}`). */
export const FORMAT_CONVERSION_FAILED = 'format-conversion-failed';
/** AWS documents the error document's fields but not its ErrorCode values; this one is the emulator's. */
export const CONVERSION_ERROR_CODE = 'DataFormatConversion.RecordConversionFailed';
/** Smallest buffer AWS accepts with record format conversion. */
export const MIN_CONVERSION_BUFFER_MB = 64;

export class FormatConversionConfigError extends Error {
  override readonly name = 'FormatConversionConfigError';
}

export type ParquetCompression = 'SNAPPY' | 'GZIP' | 'UNCOMPRESSED';

export interface FormatConversion {
  readonly table: { readonly catalogId?: string; readonly databaseName: string; readonly tableName: string; readonly region?: string; readonly versionId: string };
  readonly columns: readonly TableColumn[];
  readonly schema: readonly SchemaElement[];
  readonly openx: OpenXOptions;
  readonly compression: ParquetCompression;
  /** ParquetSerDe PageSizeBytes (default 1 MiB, as AWS's). */
  readonly pageSizeBytes: number;
}

export interface ConversionResult {
  /** The Parquet object, or undefined when no record converted. */
  readonly body?: Buffer;
  readonly rows: number;
  /** Records that failed (whole: a record with one bad document fails), with the reason. */
  readonly failed: readonly { readonly record: Buffer; readonly message: string }[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const bool = (v: unknown, fallback: boolean): boolean => (v === undefined || v === null ? fallback : v === true || v === 'true');

/**
 * The conversion a destination configures, or undefined when it converts nothing (absent or
 * Enabled false). `destination` is the ExtendedS3DestinationConfiguration (API or CloudFormation
 * shape). Throws FormatConversionConfigError.
 */
export function compileFormatConversion(destination: Record<string, unknown>): FormatConversion | undefined {
  const config = destination.DataFormatConversionConfiguration;
  if (config === undefined || config === null) return undefined;
  if (!isRecord(config)) throw new FormatConversionConfigError('DataFormatConversionConfiguration must be an object');
  if (!bool(config.Enabled, true)) return undefined;

  const compressionFormat = String(destination.CompressionFormat ?? 'UNCOMPRESSED').toUpperCase();
  if (compressionFormat !== 'UNCOMPRESSED') {
    throw new FormatConversionConfigError(`CompressionFormat must be UNCOMPRESSED when data format conversion is enabled (got ${compressionFormat}); the ParquetSerDe compresses instead`);
  }
  const hints = isRecord(destination.BufferingHints) ? destination.BufferingHints : {};
  const sizeMb = hints.SizeInMBs === undefined ? MIN_CONVERSION_BUFFER_MB : Number(hints.SizeInMBs);
  if (!(sizeMb >= MIN_CONVERSION_BUFFER_MB)) {
    throw new FormatConversionConfigError(`BufferingHints.SizeInMBs must be at least ${MIN_CONVERSION_BUFFER_MB} when data format conversion is enabled (got ${String(hints.SizeInMBs)})`);
  }

  const deserializer = isRecord(config.InputFormatConfiguration) && isRecord(config.InputFormatConfiguration.Deserializer) ? config.InputFormatConfiguration.Deserializer : undefined;
  if (!deserializer) throw new FormatConversionConfigError('InputFormatConfiguration.Deserializer is required when data format conversion is enabled');
  if (deserializer.OpenXJsonSerDe !== undefined && deserializer.HiveJsonSerDe !== undefined) throw new FormatConversionConfigError('Deserializer: choose OpenXJsonSerDe or HiveJsonSerDe, not both');
  if (deserializer.HiveJsonSerDe !== undefined) throw new FormatConversionConfigError('HiveJsonSerDe is not supported by the local cloud; use OpenXJsonSerDe');
  if (!isRecord(deserializer.OpenXJsonSerDe)) throw new FormatConversionConfigError('Deserializer.OpenXJsonSerDe is required (the local cloud converts from JSON with the OpenX SerDe)');
  const openxConfig = deserializer.OpenXJsonSerDe;
  const mappings = new Map<string, string>();
  if (isRecord(openxConfig.ColumnToJsonKeyMappings)) {
    for (const [column, key] of Object.entries(openxConfig.ColumnToJsonKeyMappings)) mappings.set(column.toLowerCase(), String(key));
  }
  const openx: OpenXOptions = {
    caseInsensitive: bool(openxConfig.CaseInsensitive, true),
    columnToJsonKey: mappings,
    dotsToUnderscores: bool(openxConfig.ConvertDotsInJsonKeysToUnderscores, false),
  };

  const serializer = isRecord(config.OutputFormatConfiguration) && isRecord(config.OutputFormatConfiguration.Serializer) ? config.OutputFormatConfiguration.Serializer : undefined;
  if (!serializer) throw new FormatConversionConfigError('OutputFormatConfiguration.Serializer is required when data format conversion is enabled');
  if (serializer.OrcSerDe !== undefined) throw new FormatConversionConfigError('OrcSerDe is not supported by the local cloud; use ParquetSerDe');
  if (!isRecord(serializer.ParquetSerDe)) throw new FormatConversionConfigError('Serializer.ParquetSerDe is required');
  const compression = String(serializer.ParquetSerDe.Compression ?? 'SNAPPY').toUpperCase();
  if (compression !== 'SNAPPY' && compression !== 'GZIP' && compression !== 'UNCOMPRESSED') {
    throw new FormatConversionConfigError(`ParquetSerDe.Compression must be SNAPPY, GZIP or UNCOMPRESSED, got ${JSON.stringify(serializer.ParquetSerDe.Compression)}`);
  }
  const pageSize = serializer.ParquetSerDe.PageSizeBytes === undefined ? 1024 * 1024 : Number(serializer.ParquetSerDe.PageSizeBytes);
  if (!(pageSize >= 64 * 1024)) throw new FormatConversionConfigError(`ParquetSerDe.PageSizeBytes must be at least 65536, got ${String(serializer.ParquetSerDe.PageSizeBytes)}`);

  const schemaConfig = isRecord(config.SchemaConfiguration) ? config.SchemaConfiguration : undefined;
  if (!schemaConfig) throw new FormatConversionConfigError('SchemaConfiguration is required when data format conversion is enabled');
  const databaseName = schemaConfig.DatabaseName;
  const tableName = schemaConfig.TableName;
  if (typeof databaseName !== 'string' || typeof tableName !== 'string') throw new FormatConversionConfigError('SchemaConfiguration needs DatabaseName and TableName');
  const versionId = typeof schemaConfig.VersionId === 'string' ? schemaConfig.VersionId : 'LATEST';
  if (versionId !== 'LATEST') throw new FormatConversionConfigError(`SchemaConfiguration.VersionId ${versionId}: the local cloud keeps only the table as deployed (use LATEST)`);
  const table = schemaConfig[LOCAL_GLUE_TABLE] as LocalGlueTable | undefined;
  if (!isRecord(table) || !Array.isArray(table.Columns)) {
    throw new FormatConversionConfigError(
      `SchemaConfiguration names Glue table ${databaseName}.${tableName}, which the local cloud cannot read: it has no Glue Data Catalog. ` +
        'Deploy the stack with the local deployer (npm run local / npm start), which passes the columns of the template\'s AWS::Glue::Table to the delivery stream',
    );
  }
  if (table.Columns.length === 0) throw new FormatConversionConfigError(`Glue table ${databaseName}.${tableName} has no columns`);

  const columns: TableColumn[] = [];
  const schema: SchemaElement[] = [{ name: 'schema', num_children: table.Columns.length }];
  for (const c of table.Columns) {
    const name = String(c.Name).toLowerCase();
    let type;
    try {
      type = parseHiveType(String(c.Type));
    } catch (err) {
      if (err instanceof HiveTypeError) throw new FormatConversionConfigError(`Glue table ${databaseName}.${tableName}, column ${name}: ${err.message}`);
      throw err;
    }
    columns.push({ name, type });
    schema.push(...parquetElements(name, type));
  }
  return {
    table: {
      ...(typeof schemaConfig.CatalogId === 'string' ? { catalogId: schemaConfig.CatalogId } : {}),
      databaseName,
      tableName,
      ...(typeof schemaConfig.Region === 'string' ? { region: schemaConfig.Region } : {}),
      versionId,
    },
    columns,
    schema,
    openx,
    compression,
    pageSizeBytes: pageSize,
  };
}

/** The JSON documents of one record: one object, or several back to back (`{..}{..}`, newline-separated). */
function documents(record: Buffer): unknown[] {
  const text = record.toString('utf8').trim();
  if (text === '') throw new ConversionError('the record is empty');
  try {
    return [JSON.parse(text)];
  } catch {
    // Several documents in one record: split at the top-level boundaries (string-aware).
  }
  const docs: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0 && start >= 0) {
        docs.push(parseDocument(text.slice(start, i + 1)));
        start = -1;
      }
    } else if (depth === 0 && !/\s/.test(c as string)) throw new ConversionError(`the record is not JSON (unexpected ${JSON.stringify(c)} at ${i})`);
  }
  if (depth !== 0) throw new ConversionError('the record is not JSON (unbalanced brackets)');
  return docs;
}

function parseDocument(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConversionError(`the record is not JSON (${(err as Error).message})`);
  }
}

/**
 * Why a record would fail conversion, or undefined when it converts. The emulator checks each record
 * as it arrives and routes a failing one to the error output at once (AWS finds it when it converts
 * the buffer; what lands in S3 is the same), so a buffer holds only records that convert.
 */
export function conversionFailure(conversion: FormatConversion, record: Buffer): string | undefined {
  try {
    for (const doc of documents(record)) deserializeRecord(doc, conversion.columns, conversion.openx);
    return undefined;
  } catch (err) {
    if (err instanceof ConversionError) return err.message;
    throw err;
  }
}

/** The Parquet object of a buffer whose records were all checked by conversionFailure. */
export function parquetBody(conversion: FormatConversion, records: readonly Buffer[]): Buffer {
  const result = convertRecords(conversion, records);
  const failed = result.failed[0];
  if (failed) throw new Error(`record format conversion failed for a buffered record: ${failed.message}`);
  if (!result.body) throw new Error('record format conversion: the buffer has no record');
  return result.body;
}

/** Converts the records of one buffer; never throws for bad records (they come back in `failed`). */
export function convertRecords(conversion: FormatConversion, records: readonly Buffer[]): ConversionResult {
  const rows: Record<string, unknown>[] = [];
  const failed: { record: Buffer; message: string }[] = [];
  for (const record of records) {
    try {
      const converted = documents(record).map((doc) => deserializeRecord(doc, conversion.columns, conversion.openx));
      rows.push(...converted);
    } catch (err) {
      if (!(err instanceof ConversionError)) throw err;
      failed.push({ record, message: err.message });
    }
  }
  if (rows.length === 0) return { rows: 0, failed };
  const columnData = conversion.columns.map((c) => ({ name: c.name, data: rows.map((r) => r[c.name]) }));
  const arrayBuffer = parquetWriteBuffer({
    schema: [...conversion.schema],
    columnData,
    codec: conversion.compression,
    ...(conversion.compression === 'GZIP' ? { compressors: { GZIP: (input: Uint8Array) => new Uint8Array(gzipSync(input)) } } : {}),
    pageSize: conversion.pageSizeBytes,
    // One row group per object, as a 64 MiB Firehose buffer makes; min/max kept whole so readers
    // can skip row groups by key as well as by time.
    rowGroupSize: Math.max(rows.length, 1),
    statisticsTruncateLength: 256,
    createdBy: 'riffle local firehose (hyparquet-writer)',
  });
  return { body: Buffer.from(arrayBuffer), rows: rows.length, failed };
}

/**
 * The error document AWS writes for a record that failed conversion (one JSON line in the error
 * object). The catalog's account and region default to the delivery stream's (from its ARN).
 */
export function conversionErrorDocument(args: { record: Buffer; message: string; arrivalMs: number; nowMs: number; conversion: FormatConversion; streamArn: string }): Record<string, unknown> {
  const { table } = args.conversion;
  const [, , , arnRegion = '', arnAccount = ''] = args.streamArn.split(':');
  const catalogId = table.catalogId ?? arnAccount;
  const region = table.region ?? arnRegion;
  return {
    attemptsMade: 1,
    arrivalTimestamp: args.arrivalMs,
    ErrorCode: CONVERSION_ERROR_CODE,
    ErrorMessage: args.message,
    attemptEndingTimestamp: args.nowMs,
    rawData: args.record.toString('base64'),
    dataCatalogTable: {
      catalogId,
      databaseName: table.databaseName,
      tableName: table.tableName,
      region,
      versionId: table.versionId,
      catalogArn: `arn:aws:glue:${region}:${catalogId}:catalog`,
    },
  };
}
