// Unit tests for the local Firehose emulator (local/services/firehose.ts) against an in-memory
// object sink: configuration validation at CreateDeliveryStream, the PutRecordBatch limits,
// buffering by size, dynamic partitioning with JQ, error output, processors, GZIP, object naming,
// injected record failures and persistence of stream definitions.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { compileStreamConfig, FirehoseEmulator, splitJsonRecords } from '../../local/services/firehose';
import type { ObjectSink } from '../../local/services/firehose';
import { ServiceFaults } from '../../local/services/service-faults';

class MemorySink implements ObjectSink {
  readonly objects = new Map<string, Buffer>();
  async putObject(bucket: string, key: string, body: Buffer): Promise<void> {
    this.objects.set(`${bucket}/${key}`, body);
  }
  keys(): string[] {
    return [...this.objects.keys()].sort();
  }
  text(key: string): string {
    const body = this.objects.get(key);
    if (!body) throw new Error(`no object ${key}`);
    return (body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body) : body).toString('utf8');
  }
}

const T0 = Date.UTC(2024, 0, 31, 23, 59, 58);

function streamInput(name: string, destination: Record<string, unknown>): Record<string, unknown> {
  return {
    DeliveryStreamName: name,
    DeliveryStreamType: 'DirectPut',
    ExtendedS3DestinationConfiguration: { BucketARN: 'arn:aws:s3:::riffle-test', RoleARN: 'arn:aws:iam::000000000000:role/x', ...destination },
  };
}

const partitioned = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  Prefix: 'results/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/',
  ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/',
  BufferingHints: { IntervalInSeconds: 900, SizeInMBs: 64 },
  CompressionFormat: 'GZIP',
  DynamicPartitioningConfiguration: { Enabled: true },
  ProcessingConfiguration: {
    Enabled: true,
    Processors: [
      {
        Type: 'MetadataExtraction',
        Parameters: [
          { ParameterName: 'MetadataExtractionQuery', ParameterValue: '{dt: .windowStart[0:10], hour: .windowStart[11:13]}' },
          { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' },
        ],
      },
    ],
  },
  ...extra,
});

function batch(name: string, records: readonly (string | Buffer)[]): Buffer {
  return Buffer.from(JSON.stringify({ DeliveryStreamName: name, Records: records.map((r) => ({ Data: Buffer.from(r).toString('base64') })) }));
}

async function call(fh: FirehoseEmulator, op: string, body: Buffer | Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fh.handle(op, Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)));
  return { status: response.status, json: JSON.parse(String(response.body)) as Record<string, unknown> };
}

describe('Firehose emulator', () => {
  let sink: MemorySink;
  let now: number;
  let fh: FirehoseEmulator;

  beforeEach(() => {
    sink = new MemorySink();
    now = T0;
    fh = new FirehoseEmulator({ region: 'us-east-1', accountId: '000000000000', sink, now: () => now, logger: { warn: () => undefined } });
  });

  afterEach(async () => {
    await fh.stop();
  });

  it('partitions by JQ keys into GZIP objects named like AWS, timestamped by the oldest record', async () => {
    expect((await call(fh, 'CreateDeliveryStream', streamInput('results', partitioned()))).status).toBe(200);
    const rows = [
      { windowStart: '2024-01-31T22:00:00.000Z', v: 1 },
      { windowStart: '2024-01-31T23:00:00.000Z', v: 2 },
      { windowStart: '2024-01-31T22:00:00.000Z', v: 3 },
    ];
    const response = await call(fh, 'PutRecordBatch', batch('results', rows.map((r) => `${JSON.stringify(r)}\n`)));
    expect(response.json.FailedPutCount).toBe(0);
    now += 5_000; // later arrivals do not change the object's timestamp
    fh.putRecords('results', [Buffer.from(`${JSON.stringify({ windowStart: '2024-01-31T22:30:00.000Z', v: 4 })}\n`)]);
    await fh.flushAll();

    const keys = sink.keys();
    expect(keys).toHaveLength(2);
    const [k22, k23] = keys as [string, string];
    expect(k22).toMatch(/^riffle-test\/results\/dt=2024-01-31\/hour=22\/results-1-2024-01-31-23-59-58-[0-9a-f-]{36}\.gz$/);
    expect(k23).toMatch(/^riffle-test\/results\/dt=2024-01-31\/hour=23\/results-1-2024-01-31-23-59-58-[0-9a-f-]{36}\.gz$/);
    expect(sink.text(k22).trim().split('\n').map((l) => (JSON.parse(l) as { v: number }).v)).toEqual([1, 3, 4]);
    expect(sink.text(k23).trim().split('\n')).toHaveLength(1);
    expect(fh.stats()).toMatchObject({ recordsIn: 4, recordsDelivered: 4, objectsWritten: 2, errorRecords: 0 });
  });

  it('sends records whose partition keys cannot be extracted to the error prefix as partitioning-failed', async () => {
    await call(fh, 'CreateDeliveryStream', streamInput('results', partitioned()));
    fh.putRecords('results', [Buffer.from('{"windowStart":"2024-01-31T22:00:00.000Z"}'), Buffer.from('{"other":1}'), Buffer.from('not json'), Buffer.from('{"windowStart":5}')]);
    await fh.flushAll();
    const errorKey = sink.keys().find((k) => k.startsWith('riffle-test/errors/'));
    expect(errorKey).toMatch(/^riffle-test\/errors\/partitioning-failed\/2024\/01\/31\/results-1-.*\.gz$/);
    const errors = sink
      .text(errorKey ?? '')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { errorCode: string; errorMessage: string; rawData: string; arrivalTimestamp: number; attemptsMade: number });
    expect(errors.map((e) => Buffer.from(e.rawData, 'base64').toString())).toEqual(['{"other":1}', 'not json', '{"windowStart":5}']);
    expect(errors.every((e) => e.errorCode === 'DynamicPartitioning.MetadataExtractionFailed' && e.arrivalTimestamp === T0 && e.attemptsMade === 1)).toBe(true);
    expect(errors[0]?.errorMessage).toMatch(/partitionKeyFromQuery:dt evaluated to null/);
    expect(errors[1]?.errorMessage).toBe('Non JSON record provided');
    expect(errors[2]?.errorMessage).toMatch(/Cannot index number/);
    expect(fh.stats()).toMatchObject({ errorRecords: 3, recordsDelivered: 1, errorObjects: 1 });
  });

  it('flushes a partition as soon as it reaches SizeInMBs', async () => {
    await call(fh, 'CreateDeliveryStream', streamInput('sized', { Prefix: 'sized/', BufferingHints: { IntervalInSeconds: 900, SizeInMBs: 1 } }));
    const record = Buffer.alloc(400 * 1024, 'a');
    fh.putRecords('sized', [record, record]);
    await new Promise((r) => setTimeout(r, 20));
    expect(sink.keys()).toHaveLength(0); // 800 KiB: still buffered
    fh.putRecords('sized', [record]);
    for (let i = 0; i < 200 && sink.keys().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sink.keys()).toHaveLength(1); // 1.2 MiB ≥ 1 MiB: delivered without waiting 900 s
    const [key] = sink.keys();
    expect(key).toMatch(/^riffle-test\/sized\/2024\/01\/31\/23\/sized-1-2024-01-31-23-59-58-[0-9a-f-]{36}$/);
    expect(sink.objects.get(key ?? '')?.length).toBe(3 * 400 * 1024);
  });

  it('applies RecordDeAggregation (JSON) and AppendDelimiterToRecord', async () => {
    const config = partitioned({
      CompressionFormat: 'UNCOMPRESSED',
      ProcessingConfiguration: {
        Enabled: 'true',
        Processors: [
          { Type: 'AppendDelimiterToRecord', Parameters: [{ ParameterName: 'Delimiter', ParameterValue: 'Cg==' }] },
          { Type: 'RecordDeAggregation', Parameters: [{ ParameterName: 'SubRecordType', ParameterValue: 'JSON' }] },
          { Type: 'MetadataExtraction', Parameters: [{ ParameterName: 'MetadataExtractionQuery', ParameterValue: '{dt: .windowStart[0:10], hour: .windowStart[11:13]}' }] },
        ],
      },
    });
    await call(fh, 'CreateDeliveryStream', streamInput('packed', config));
    fh.putRecords('packed', [Buffer.from('{"windowStart":"2024-01-31T22:00:00Z","v":"a}"}{"windowStart":"2024-01-31T22:10:00Z","v":2}')]);
    await fh.flushAll();
    const [key] = sink.keys();
    expect(key).not.toMatch(/\.gz$/);
    expect(sink.text(key ?? '')).toBe('{"windowStart":"2024-01-31T22:00:00Z","v":"a}"}\n{"windowStart":"2024-01-31T22:10:00Z","v":2}\n');
  });

  it('splits concatenated and newline-separated JSON documents', () => {
    expect(splitJsonRecords(Buffer.from('{"a":"}{"}\n[1,2] {"b":{"c":[]}} 3')).map(String)).toEqual(['{"a":"}{"}', '[1,2]', '{"b":{"c":[]}}', '3']);
  });

  it('enforces the PutRecordBatch limits with AWS error types', async () => {
    await call(fh, 'CreateDeliveryStream', streamInput('limits', { Prefix: 'l/' }));
    const tooMany = await call(fh, 'PutRecordBatch', batch('limits', Array.from({ length: 501 }, () => 'x')));
    expect(tooMany).toMatchObject({ status: 400, json: { __type: 'ValidationException' } });
    expect(String(tooMany.json.message)).toMatch(/less than or equal to 500/);
    const tooBig = await call(fh, 'PutRecordBatch', batch('limits', [Buffer.alloc(1_024_001)]));
    expect(tooBig).toMatchObject({ status: 400, json: { __type: 'ValidationException' } });
    expect(String(tooBig.json.message)).toMatch(/records\.1\.member\.data/);
    const tooMuch = await call(fh, 'PutRecordBatch', batch('limits', Array.from({ length: 5 }, () => Buffer.alloc(1_000_000))));
    expect(tooMuch).toMatchObject({ status: 400, json: { __type: 'InvalidArgumentException' } });
    const empty = await call(fh, 'PutRecordBatch', batch('limits', []));
    expect(empty.json.__type).toBe('ValidationException');
    const missing = await call(fh, 'PutRecord', { DeliveryStreamName: 'nope', Record: { Data: 'eA==' } });
    expect(missing).toMatchObject({ status: 400, json: { __type: 'ResourceNotFoundException' } });
    const exact = await call(fh, 'PutRecordBatch', batch('limits', Array.from({ length: 4 }, () => Buffer.alloc(1_024_000))));
    expect(exact.json.FailedPutCount).toBe(0);
  });

  it('fails the records an armed fault selects, deterministically', async () => {
    const faults = new ServiceFaults();
    const faulty = new FirehoseEmulator({ region: 'us-east-1', accountId: '000000000000', sink, faults, logger: { warn: () => undefined } });
    await call(faulty, 'CreateDeliveryStream', streamInput('f', { Prefix: 'f/' }));
    const armed = faults.failFirehoseRecords({ stream: 'f', everyNth: 3, times: 1 });
    const first = await call(faulty, 'PutRecordBatch', batch('f', Array.from({ length: 7 }, (_, i) => `r${i}`)));
    expect(first.json.FailedPutCount).toBe(2);
    const responses = first.json.RequestResponses as { ErrorCode?: string; RecordId?: string }[];
    expect(responses.map((r) => r.ErrorCode ?? 'ok')).toEqual(['ok', 'ok', 'ServiceUnavailableException', 'ok', 'ok', 'ServiceUnavailableException', 'ok']);
    expect(armed.remaining).toBe(0);
    const second = await call(faulty, 'PutRecordBatch', batch('f', ['a', 'b']));
    expect(second.json.FailedPutCount).toBe(0);
    faults.failFirehoseRecords({ fraction: 0.5, times: 1 });
    const third = await call(faulty, 'PutRecordBatch', batch('f', ['1', '2', '3', '4']));
    expect((third.json.RequestResponses as { ErrorCode?: string }[]).map((r) => r.ErrorCode ?? 'ok')).toEqual([
      'ok',
      'ServiceUnavailableException',
      'ok',
      'ServiceUnavailableException',
    ]);
    await faulty.stop();
    expect(sink.text(sink.keys()[0] ?? '')).toBe('r0r1r3r4r6ab13');
    expect(faults.log().map((f) => f.records)).toEqual([2, 2]);
  });

  it('rejects at create time what AWS rejects or the emulator cannot run', async () => {
    const invalid = async (destination: Record<string, unknown>): Promise<string> => {
      const { status, json } = await call(fh, 'CreateDeliveryStream', streamInput(`s${Math.random().toString(36).slice(2, 8)}`, destination));
      expect(status).toBe(400);
      expect(json.__type).toBe('InvalidArgumentException');
      return String(json.message);
    };
    expect(await invalid(partitioned({ ErrorOutputPrefix: undefined }))).toMatch(/ErrorOutputPrefix/);
    expect(await invalid(partitioned({ Prefix: 'r/!{partitionKeyFromQuery:day}/' }))).toMatch(/does not produce "day"/);
    expect(
      await invalid(
        partitioned({
          ProcessingConfiguration: {
            Enabled: true,
            Processors: [{ Type: 'MetadataExtraction', Parameters: [{ ParameterName: 'MetadataExtractionQuery', ParameterValue: '{dt: .ts | strftime("%Y")}' }] }],
          },
        }),
      ),
    ).toMatch(/unsupported JQ expression/);
    expect(
      await invalid(partitioned({ ProcessingConfiguration: { Enabled: true, Processors: [{ Type: 'Lambda', Parameters: [{ ParameterName: 'LambdaArn', ParameterValue: 'arn' }] }] } })),
    ).toMatch(/Lambda processors do not run locally/);
    expect(await invalid({ Prefix: 'x/!{partitionKeyFromQuery:dt}/', ErrorOutputPrefix: 'e/!{firehose:error-output-type}/' })).toMatch(/not enabled/);
    expect(await invalid({ Prefix: 'x/!{timestamp:yyyy}/' })).toMatch(/ErrorOutputPrefix cannot be null or empty/);
    expect(await invalid({ Prefix: 'x/!{firehose:error-output-type}/', ErrorOutputPrefix: 'e/' })).toMatch(/belongs in ErrorOutputPrefix/);
    expect(await invalid({ Prefix: 'x/', CompressionFormat: 'Snappy' })).toMatch(/Snappy/);
    expect(await invalid({ Prefix: 'x/', BufferingHints: { IntervalInSeconds: 901 } })).toMatch(/IntervalInSeconds/);
    expect(await invalid({ BucketARN: 'riffle-test' })).toMatch(/BucketARN/);
    expect(await invalid({ Prefix: 'x/!{partitionKeyFromLambda:k}/', ErrorOutputPrefix: 'e/!{firehose:error-output-type}' })).toMatch(/partitionKeyFromLambda/);
    const kinesisSource = await call(fh, 'CreateDeliveryStream', { ...streamInput('ks', {}), DeliveryStreamType: 'KinesisStreamAsSource' });
    expect(String(kinesisSource.json.message)).toMatch(/DirectPut only/);
    // CloudFormation templates may carry numbers and booleans as strings.
    expect(() => compileStreamConfig(streamInput('cfn', { Prefix: 'p/', BufferingHints: { IntervalInSeconds: '60', SizeInMBs: '8' } }))).not.toThrow();
  });

  it('describes, lists, updates (bumping the version in object names) and deletes streams', async () => {
    await call(fh, 'CreateDeliveryStream', streamInput('desc', { Prefix: 'd/', BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 8 }, CompressionFormat: 'GZIP' }));
    expect((await call(fh, 'CreateDeliveryStream', streamInput('desc', { Prefix: 'd/' }))).json.__type).toBe('ResourceInUseException');
    const described = (await call(fh, 'DescribeDeliveryStream', { DeliveryStreamName: 'desc' })).json.DeliveryStreamDescription as Record<string, unknown>;
    expect(described).toMatchObject({
      DeliveryStreamName: 'desc',
      DeliveryStreamARN: 'arn:aws:firehose:us-east-1:000000000000:deliverystream/desc',
      DeliveryStreamStatus: 'ACTIVE',
      VersionId: '1',
      Destinations: [{ DestinationId: 'destinationId-000000000001', ExtendedS3DestinationDescription: { BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 8 }, CompressionFormat: 'GZIP' } }],
    });
    expect((await call(fh, 'ListDeliveryStreams', {})).json).toEqual({ DeliveryStreamNames: ['desc'], HasMoreDeliveryStreams: false });
    fh.putRecords('desc', [Buffer.from('before')]);
    const updated = await call(fh, 'UpdateDestination', {
      DeliveryStreamName: 'desc',
      CurrentDeliveryStreamVersionId: '1',
      DestinationId: 'destinationId-000000000001',
      ExtendedS3DestinationUpdate: { CompressionFormat: 'UNCOMPRESSED' },
    });
    expect(updated.status).toBe(200);
    fh.putRecords('desc', [Buffer.from('after')]);
    await fh.flushAll();
    const names = sink.keys().map((k) => k.split('/').pop());
    expect(names.some((n) => /^desc-1-.*\.gz$/.test(n ?? ''))).toBe(true);
    expect(names.some((n) => /^desc-2-[^.]*$/.test(n ?? ''))).toBe(true);
    expect((await call(fh, 'DeleteDeliveryStream', { DeliveryStreamName: 'desc' })).status).toBe(200);
    expect((await call(fh, 'DescribeDeliveryStream', { DeliveryStreamName: 'desc' })).json.__type).toBe('ResourceNotFoundException');
  });

  it('persists delivery stream definitions in its state file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-fh-'));
    try {
      const stateFile = path.join(dir, 'streams.json');
      const first = new FirehoseEmulator({ region: 'us-east-1', accountId: '000000000000', sink, stateFile });
      first.createDeliveryStream(streamInput('kept', partitioned()));
      await first.stop();
      const second = new FirehoseEmulator({ region: 'us-east-1', accountId: '000000000000', sink, stateFile });
      expect(second.listDeliveryStreams()).toEqual(['kept']);
      second.putRecords('kept', [Buffer.from('{"windowStart":"2024-01-31T22:00:00Z"}')]);
      await second.stop();
      expect(sink.keys()[0]).toMatch(/^riffle-test\/results\/dt=2024-01-31\/hour=22\//);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('flushes after IntervalInSeconds × timeScale', async () => {
    const scaled = new FirehoseEmulator({ region: 'us-east-1', accountId: '000000000000', sink, timeScale: 0.001 });
    scaled.createDeliveryStream(streamInput('scaled', { Prefix: 's/', BufferingHints: { IntervalInSeconds: 60, SizeInMBs: 128 } }));
    const started = Date.now();
    scaled.putRecords('scaled', [Buffer.from('x')]);
    while (sink.keys().length === 0 && Date.now() - started < 5_000) await new Promise((r) => setTimeout(r, 5));
    expect(sink.keys()).toHaveLength(1); // 60 s scaled to 60 ms
    expect(Date.now() - started).toBeGreaterThanOrEqual(50);
    await scaled.stop();
  });

  it('refuses records after stop()', async () => {
    await call(fh, 'CreateDeliveryStream', streamInput('late', { Prefix: 'x/' }));
    await fh.stop();
    expect((await call(fh, 'PutRecordBatch', batch('late', ['x']))).json.__type).toBe('ServiceUnavailableException');
  });
});
