// The local Firehose's record format conversion (local/services/format-conversion): JSON records →
// a Parquet object, read back with DuckDB (an independent reader) for values and types; the OpenX
// SerDe's matching and leniency; records that fail conversion; configuration AWS would reject.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { LOCAL_GLUE_TABLE, withLocalGlueTable, glueTableOf } from '../../local/services/format-conversion/glue-schema';
import { hiveTypeText, parseHiveType } from '../../local/services/format-conversion/hive-type';
import { parseTimestamp } from '../../local/services/format-conversion/openx-json';
import {
  compileFormatConversion,
  conversionErrorDocument,
  conversionFailure,
  parquetBody,
  convertRecords,
  type FormatConversion,
  FormatConversionConfigError,
} from '../../local/services/format-conversion/parquet';

const COLUMNS = [
  { Name: 'resultid', Type: 'string' },
  { Name: 'windowstart', Type: 'timestamp' },
  { Name: 'count', Type: 'bigint' },
  { Name: 'temperature_avg', Type: 'double' },
  { Name: 'top_hashtags', Type: 'array<struct<value:string,count:bigint>>' },
  { Name: 'entry_page', Type: 'string' },
  { Name: 'final', Type: 'boolean' },
];

function destination(overrides: { conversion?: Record<string, unknown>; destination?: Record<string, unknown>; columns?: unknown[] | null } = {}): Record<string, unknown> {
  return {
    BucketARN: 'arn:aws:s3:::bucket',
    CompressionFormat: 'UNCOMPRESSED',
    BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 64 },
    DataFormatConversionConfiguration: {
      Enabled: true,
      InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: { CaseInsensitive: true } } },
      OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'SNAPPY' } } },
      SchemaConfiguration: {
        DatabaseName: 'riffle_db',
        TableName: 'results',
        RoleARN: 'arn:aws:iam::000000000000:role/r',
        VersionId: 'LATEST',
        ...(overrides.columns === null ? {} : { [LOCAL_GLUE_TABLE]: { DatabaseName: 'riffle_db', Name: 'results', Columns: overrides.columns ?? COLUMNS } }),
      },
      ...overrides.conversion,
    },
    ...overrides.destination,
  };
}

const compile = (overrides: Parameters<typeof destination>[0] = {}): FormatConversion => compileFormatConversion(destination(overrides)) as FormatConversion;
const line = (record: unknown): Buffer => Buffer.from(`${JSON.stringify(record)}\n`);

let dir: string;
let instance: DuckDBInstance;
let db: DuckDBConnection;
let fileNo = 0;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-parquet-'));
  instance = await DuckDBInstance.create(':memory:');
  db = await instance.connect();
  await db.run("SET TimeZone = 'UTC'");
});
afterAll(() => {
  db.closeSync();
  instance.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes the body and reads it with DuckDB: column types, rows, and the codec of every column chunk. */
async function readBack(body: Buffer): Promise<{ types: Record<string, string>; rows: Record<string, unknown>[]; codecs: string[] }> {
  const file = path.join(dir, `${fileNo++}.parquet`);
  writeFileSync(file, body);
  const reader = await db.runAndReadAll(`SELECT * FROM read_parquet('${file}')`);
  const types = Object.fromEntries(reader.columnNames().map((n, i) => [n, String(reader.columnTypes()[i])]));
  const meta = await db.runAndReadAll(`SELECT DISTINCT compression FROM parquet_metadata('${file}')`);
  return { types, rows: reader.getRowObjectsJS() as Record<string, unknown>[], codecs: meta.getRowsJS().map((r) => String(r[0])) };
}

describe('records → Parquet, read back by DuckDB', () => {
  test('values and types: string, TIMESTAMP, BIGINT, DOUBLE, list of structs, BOOLEAN, and NULLs, SNAPPY-compressed', async () => {
    const result = convertRecords(compile(), [
      line({ resultId: 'a1', windowStart: '2026-03-04T05:10:00.000Z', count: 42, temperature_avg: 21.5, top_hashtags: [{ value: 'aws', count: 7 }, { value: 'riffle', count: 3 }], entry_page: '/home', final: true }),
      line({ resultId: 'b2', windowStart: '2026-03-04T05:15:00.123Z', count: 0, temperature_avg: null, top_hashtags: [], final: false }),
    ]);
    expect(result.failed).toEqual([]);
    expect(result.rows).toBe(2);
    expect(result.body!.subarray(0, 4).toString()).toBe('PAR1');
    const { types, rows, codecs } = await readBack(result.body!);
    expect(types).toEqual({
      resultid: 'VARCHAR',
      windowstart: 'TIMESTAMP',
      count: 'BIGINT',
      temperature_avg: 'DOUBLE',
      top_hashtags: 'STRUCT("value" VARCHAR, "count" BIGINT)[]',
      entry_page: 'VARCHAR',
      final: 'BOOLEAN',
    });
    expect(codecs).toEqual(['SNAPPY']);
    expect(rows).toEqual([
      {
        resultid: 'a1',
        windowstart: new Date('2026-03-04T05:10:00.000Z'),
        count: 42n,
        temperature_avg: 21.5,
        top_hashtags: [{ value: 'aws', count: 7n }, { value: 'riffle', count: 3n }],
        entry_page: '/home',
        final: true,
      },
      // A key the record lacks is NULL; an empty list stays an empty list.
      { resultid: 'b2', windowstart: new Date('2026-03-04T05:15:00.123Z'), count: 0n, temperature_avg: null, top_hashtags: [], entry_page: null, final: false },
    ]);
  });

  test('ParquetSerDe Compression GZIP and UNCOMPRESSED are honoured', async () => {
    for (const codec of ['GZIP', 'UNCOMPRESSED']) {
      const result = convertRecords(compile({ conversion: { OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: codec } } } } }), [line({ resultId: 'x', count: 1 })]);
      const { rows, codecs } = await readBack(result.body!);
      expect(codecs).toEqual([codec]);
      expect(rows[0]).toMatchObject({ resultid: 'x', count: 1n });
    }
  });

  test('OpenX leniency: keys match case-insensitively, numbers and booleans from strings, any value into a string column as its JSON text', async () => {
    const result = convertRecords(compile(), [line({ RESULTID: 'k', Count: '17', temperature_avg: '2.5', final: 'TRUE', entry_page: { nested: [1, 2] }, unknown_key: 'dropped' })]);
    expect(result.failed).toEqual([]);
    const { rows } = await readBack(result.body!);
    expect(rows[0]).toEqual({ resultid: 'k', windowstart: null, count: 17n, temperature_avg: 2.5, top_hashtags: null, entry_page: '{"nested":[1,2]}', final: true });
  });

  test('CaseInsensitive false matches exactly; ColumnToJsonKeyMappings and ConvertDotsInJsonKeysToUnderscores rename', async () => {
    const exact = compile({ conversion: { InputFormatConfiguration: { Deserializer: { OpenXJsonSerDe: { CaseInsensitive: false, ColumnToJsonKeyMappings: { entry_page: 'Page' }, ConvertDotsInJsonKeysToUnderscores: true } } } } });
    const result = convertRecords(exact, [line({ resultId: 'camel', resultid: 'lower', Page: '/p', 'temperature.avg': 3 })]);
    const { rows } = await readBack(result.body!);
    expect(rows[0]).toMatchObject({ resultid: 'lower', entry_page: '/p', temperature_avg: 3 });
  });

  test('several JSON documents in one record become several rows', async () => {
    const result = convertRecords(compile(), [Buffer.from('{"resultId":"a"}{"resultId":"b"}\n{"resultId":"c"}')]);
    expect(result.rows).toBe(3);
    expect((await readBack(result.body!)).rows.map((r) => r.resultid)).toEqual(['a', 'b', 'c']);
  });

  test('a record that does not fit the schema fails whole, with the column and value; the others are written', async () => {
    const good = line({ resultId: 'ok', count: 1 });
    const bad = [
      line({ resultId: 'frac', count: 1.5 }),
      line({ resultId: 'time', windowStart: '04/03/2026 05:10' }),
      line({ resultId: 'list', top_hashtags: 'aws' }),
      line({ resultId: 'elem', top_hashtags: [{ value: 'x', count: 'many' }] }),
      Buffer.from('{"resultId": "cut'),
      line([1, 2]),
      Buffer.from('  \n'),
    ];
    const result = convertRecords(compile(), [good, ...bad]);
    expect(result.rows).toBe(1);
    expect(result.failed.map((f) => f.record)).toEqual(bad);
    expect(result.failed.map((f) => f.message)).toEqual([
      'column count (bigint): cannot convert 1.5',
      'column windowstart (timestamp): cannot convert "04/03/2026 05:10"',
      'column top_hashtags (array<struct<value:string,count:bigint>>): cannot convert "aws"',
      'column top_hashtags[0].count (bigint): cannot convert "many"',
      expect.stringMatching(/^the record is not JSON/),
      'the record is not a JSON object ([1,2])',
      'the record is empty',
    ]);
    expect((await readBack(result.body!)).rows).toEqual([expect.objectContaining({ resultid: 'ok', count: 1n })]);
  });

  test('checked on arrival: conversionFailure says why a record would fail; a buffer of checked records becomes one object', async () => {
    const conversion = compile();
    const good = [line({ resultId: 'a', count: 1 }), line({ resultId: 'b', count: 2 })];
    expect(good.map((r) => conversionFailure(conversion, r))).toEqual([undefined, undefined]);
    expect(conversionFailure(conversion, line({ count: 'many' }))).toBe('column count (bigint): cannot convert "many"');
    expect((await readBack(parquetBody(conversion, good))).rows.map((r) => r.count)).toEqual([1n, 2n]);
    expect(() => parquetBody(conversion, [line({ count: 'many' })])).toThrow('record format conversion failed for a buffered record');
  });

  test('no convertible record: no object, every record failed', () => {
    const result = convertRecords(compile(), [Buffer.from('nope')]);
    expect(result.body).toBeUndefined();
    expect(result.failed).toHaveLength(1);
  });

  test('the error document has the fields AWS documents, naming the Glue table', () => {
    const record = line({ count: 'x' });
    const doc = conversionErrorDocument({ record, message: 'bad', arrivalMs: 1, nowMs: 2, conversion: compile(), streamArn: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/s' });
    expect(doc).toEqual({
      attemptsMade: 1,
      arrivalTimestamp: 1,
      ErrorCode: expect.any(String),
      ErrorMessage: 'bad',
      attemptEndingTimestamp: 2,
      rawData: record.toString('base64'),
      dataCatalogTable: { catalogId: '000000000000', databaseName: 'riffle_db', tableName: 'results', region: 'us-east-1', versionId: 'LATEST', catalogArn: 'arn:aws:glue:us-east-1:000000000000:catalog' },
    });
  });
});

describe('configuration', () => {
  test('absent or disabled: no conversion', () => {
    expect(compileFormatConversion({ CompressionFormat: 'GZIP' })).toBeUndefined();
    expect(compileFormatConversion(destination({ conversion: { Enabled: false }, destination: { CompressionFormat: 'GZIP' } }))).toBeUndefined();
  });

  test.each([
    [{ destination: { CompressionFormat: 'GZIP' } }, 'CompressionFormat must be UNCOMPRESSED when data format conversion is enabled (got GZIP)'],
    [{ destination: { BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 5 } } }, 'BufferingHints.SizeInMBs must be at least 64'],
    [{ conversion: { InputFormatConfiguration: { Deserializer: { HiveJsonSerDe: {} } } } }, 'HiveJsonSerDe is not supported by the local cloud'],
    [{ conversion: { InputFormatConfiguration: undefined } }, 'InputFormatConfiguration.Deserializer is required'],
    [{ conversion: { OutputFormatConfiguration: { Serializer: { OrcSerDe: {} } } } }, 'OrcSerDe is not supported by the local cloud'],
    [{ conversion: { OutputFormatConfiguration: { Serializer: { ParquetSerDe: { Compression: 'LZO' } } } } }, 'ParquetSerDe.Compression must be SNAPPY, GZIP or UNCOMPRESSED'],
    [{ columns: null }, 'SchemaConfiguration names Glue table riffle_db.results, which the local cloud cannot read'],
    [{ columns: [{ Name: 'amount', Type: 'decimal(10,2)' }] }, 'column amount: type \'decimal(10,2)\': decimal is not supported'],
    [{ columns: [{ Name: 'm', Type: 'map<string,int>' }] }, 'map is not supported'],
    [{ columns: [{ Name: 'x', Type: 'array<string' }] }, "expected '>'"],
  ])('rejected: %j', (overrides, message) => {
    expect(() => compile(overrides as Parameters<typeof destination>[0])).toThrow(FormatConversionConfigError);
    expect(() => compile(overrides as Parameters<typeof destination>[0])).toThrow(message);
  });

  test('Hive types parse as Glue spells them, including nested and parameterised ones', () => {
    for (const text of ['string', 'bigint', 'double', 'timestamp', 'date', 'boolean', 'array<struct<value:string,count:bigint>>', 'struct<a:int,b:array<double>>']) {
      expect(hiveTypeText(parseHiveType(text))).toBe(text);
    }
    expect(hiveTypeText(parseHiveType(' ARRAY< STRUCT< Value : VARCHAR(20) > > '))).toBe('array<struct<value:string>>');
  });

  test('timestamps: the two OpenX formats Firehose documents, nothing that rolls over', () => {
    expect(parseTimestamp('2017-02-07T15:13:01.39256Z')).toBe(Date.UTC(2017, 1, 7, 15, 13, 1, 392));
    expect(parseTimestamp('2017-2-7 15:13:01')).toBe(Date.UTC(2017, 1, 7, 15, 13, 1));
    expect(parseTimestamp('2017-02-30T00:00:00Z')).toBeUndefined();
    expect(parseTimestamp('2017-02-07T15:13:01+01:00')).toBeUndefined();
  });
});

describe('the Glue table the deployer passes along', () => {
  const tableProps = { DatabaseName: 'riffle_db', TableInput: { Name: 'results', StorageDescriptor: { Columns: COLUMNS } } };

  test('an AWS::Glue::Table becomes the columns; the matching delivery stream gets it, case-insensitively', () => {
    const table = glueTableOf(tableProps)!;
    expect(table).toEqual({ DatabaseName: 'riffle_db', Name: 'results', Columns: COLUMNS });
    const input = { DeliveryStreamName: 's', ExtendedS3DestinationConfiguration: destination({ columns: null }) };
    (input.ExtendedS3DestinationConfiguration.DataFormatConversionConfiguration as { SchemaConfiguration: Record<string, unknown> }).SchemaConfiguration.TableName = 'RESULTS';
    const attached = withLocalGlueTable(input, [{ DatabaseName: 'other', Name: 'results', Columns: [] }, table]);
    const conversion = compileFormatConversion(attached.ExtendedS3DestinationConfiguration as Record<string, unknown>)!;
    expect(conversion.columns.map((c) => c.name)).toEqual(COLUMNS.map((c) => c.Name));
    // The input it came from is left alone.
    expect(() => compileFormatConversion(input.ExtendedS3DestinationConfiguration)).toThrow('cannot read');
  });

  test('a stream that converts nothing, or names a table not in the template, is returned as is', () => {
    const plain = { DeliveryStreamName: 's', ExtendedS3DestinationConfiguration: { BucketARN: 'arn:aws:s3:::b' } };
    expect(withLocalGlueTable(plain, [glueTableOf(tableProps)!])).toBe(plain);
    const elsewhere = { DeliveryStreamName: 's', ExtendedS3DestinationConfiguration: destination({ columns: null }) };
    expect(withLocalGlueTable(elsewhere, [{ DatabaseName: 'x', Name: 'y', Columns: [] }])).toBe(elsewhere);
    expect(glueTableOf({ TableInput: { Name: 'no-db' } })).toBeUndefined();
  });
});
