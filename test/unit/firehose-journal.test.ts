// The local Firehose's write-ahead journal (local/services/firehose-journal.ts through the
// emulator): what PutRecordBatch acknowledged survives an emulator abandoned without stop() — a
// process kill, as far as its files can tell — and the next emulator on the same directory
// delivers exactly those records, each once: a torn last write is dropped, a crash between
// "object written" and "segment deleted" rewrites the same key with the same bytes, a failed
// delivery stays in the journal for the next start. One journal write and at most one fsync per
// partition buffer per request (group commit).
import { mkdtempSync, readdirSync, appendFileSync, rmSync } from 'node:fs';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { encodeFrame } from '../../local/durable/journal';
import { FirehoseEmulator } from '../../local/services/firehose';
import type { ObjectSink } from '../../local/services/firehose';

// The module object itself (not an import namespace copy), so a spy sees the journal's calls.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const realFs = require('node:fs') as typeof fs;

class MemorySink implements ObjectSink {
  readonly objects = new Map<string, Buffer>();
  puts = 0;
  async putObject(bucket: string, key: string, body: Buffer): Promise<void> {
    this.puts++;
    this.objects.set(`${bucket}/${key}`, body);
  }
  lines(): string[] {
    const out: string[] = [];
    for (const body of this.objects.values()) out.push(...gunzipSync(body).toString('utf8').split('\n').filter(Boolean));
    return out.sort();
  }
}

const STREAM = {
  DeliveryStreamName: 'results',
  DeliveryStreamType: 'DirectPut',
  ExtendedS3DestinationConfiguration: {
    BucketARN: 'arn:aws:s3:::riffle-test',
    RoleARN: 'arn:aws:iam::000000000000:role/x',
    Prefix: 'results/dt=!{partitionKeyFromQuery:dt}/',
    ErrorOutputPrefix: 'errors/!{firehose:error-output-type}/',
    BufferingHints: { IntervalInSeconds: 900, SizeInMBs: 64 },
    CompressionFormat: 'GZIP',
    DynamicPartitioningConfiguration: { Enabled: true },
    ProcessingConfiguration: {
      Enabled: true,
      Processors: [
        { Type: 'MetadataExtraction', Parameters: [{ ParameterName: 'MetadataExtractionQuery', ParameterValue: '{dt: .day}' }, { ParameterName: 'JsonParsingEngine', ParameterValue: 'JQ-1.6' }] },
        { Type: 'AppendDelimiterToRecord', Parameters: [{ ParameterName: 'Delimiter', ParameterValue: 'Cg==' }] },
      ],
    },
  },
};

let dir: string;

function emulator(sink: ObjectSink): FirehoseEmulator {
  return new FirehoseEmulator({ region: 'us-east-1', accountId: '000000000000', sink, stateFile: path.join(dir, 'firehose', 'delivery-streams.json'), logger: { warn: () => undefined } });
}

async function putBatch(fh: FirehoseEmulator, records: readonly string[]): Promise<void> {
  const body = Buffer.from(JSON.stringify({ DeliveryStreamName: 'results', Records: records.map((r) => ({ Data: Buffer.from(r).toString('base64') })) }));
  const response = await fh.handle('PutRecordBatch', body);
  expect(response.status).toBe(200);
  expect((JSON.parse(String(response.body)) as { FailedPutCount: number }).FailedPutCount).toBe(0);
}

const record = (day: string, n: number): string => JSON.stringify({ day, n });
const segments = (): string[] => readdirSync(path.join(dir, 'firehose', 'journal')).filter((f) => f.endsWith('.seg'));

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-fh-journal-'));
});

afterEach(() => {
  jest.restoreAllMocks();
  // Emulators a test abandons stand for killed processes: nothing stops them.
  rmSync(dir, { recursive: true, force: true });
});

describe('Firehose journal', () => {
  it('delivers, after an abandoned emulator, exactly the records it acknowledged', async () => {
    const lost = new MemorySink();
    const first = emulator(lost);
    first.createDeliveryStream(STREAM);
    const sent: string[] = [];
    for (let b = 0; b < 3; b++) {
      const batch = Array.from({ length: 50 }, (_, i) => record(i % 2 ? '2024-01-01' : '2024-01-02', b * 50 + i));
      await putBatch(first, batch);
      sent.push(...batch);
    }
    await putBatch(first, ['not json']); // routed to the error output, journaled as well
    expect(lost.objects.size).toBe(0); // 900 s interval: everything was buffered when "killed"
    expect(segments()).toHaveLength(3); // two partitions and the error output

    const sink = new MemorySink();
    const second = emulator(sink); // the restart: same data directory, no stop() of the first
    expect(second.listDeliveryStreams()).toEqual(['results']);
    await second.flushAll();
    const keys = [...sink.objects.keys()].sort();
    expect(keys).toHaveLength(3);
    expect(keys[0]).toMatch(/^riffle-test\/errors\/partitioning-failed\/results-1-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9a-f-]{36}\.gz$/);
    expect(keys[1]).toMatch(/^riffle-test\/results\/dt=2024-01-01\/results-1-.*\.gz$/);
    const data = sink.lines().filter((l) => !l.includes('rawData'));
    expect(data).toEqual([...sent].sort());
    const errors = sink.lines().filter((l) => l.includes('rawData'));
    expect(errors.map((l) => Buffer.from((JSON.parse(l) as { rawData: string }).rawData, 'base64').toString())).toEqual(['not json']);
    expect(second.stats()).toMatchObject({ recordsRecovered: 151, recordsDelivered: 150, errorObjects: 1, objectsWritten: 3 });
    expect(segments()).toEqual([]);
    await second.stop();
  });

  it('drops a torn last write: the records of a request that was never answered', async () => {
    const torn = encodeFrame([Buffer.from(`${record('2024-01-01', 3)}\n`)]);
    for (const cut of [1, 4, 8, torn.length - 1]) {
      rmSync(dir, { recursive: true, force: true });
      dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-fh-journal-'));
      const first = emulator(new MemorySink());
      first.createDeliveryStream(STREAM);
      await putBatch(first, [record('2024-01-01', 1), record('2024-01-01', 2)]);
      const [segment] = segments();
      appendFileSync(path.join(dir, 'firehose', 'journal', segment ?? ''), torn.subarray(0, cut)); // the process died inside this write()

      const sink = new MemorySink();
      const second = emulator(sink);
      await second.flushAll();
      expect(sink.lines()).toEqual([record('2024-01-01', 1), record('2024-01-01', 2)]);
      expect(segments()).toEqual([]);
    }
  });

  it('rewrites the same object when killed between writing it and deleting its segment', async () => {
    const objects = new Map<string, Buffer>();
    const hangsAfterWriting: ObjectSink = {
      putObject: (bucket, key, body) => {
        objects.set(`${bucket}/${key}`, body);
        return new Promise(() => undefined); // written, but the process dies before it hears so
      },
    };
    const first = emulator(hangsAfterWriting);
    first.createDeliveryStream(STREAM);
    await putBatch(first, [record('2024-01-01', 1), record('2024-01-01', 2)]);
    void first.flushAll();
    await new Promise((r) => setTimeout(r, 50));
    expect(objects.size).toBe(1);
    const [[key, body]] = [...objects.entries()] as [[string, Buffer]];
    expect(segments()).toHaveLength(1);

    const sink = new MemorySink();
    const second = emulator(sink);
    await second.flushAll();
    expect([...sink.objects.keys()]).toEqual([key]); // the same key …
    expect(sink.objects.get(key)?.equals(body)).toBe(true); // … with the same bytes: one object, each record once
    expect(segments()).toEqual([]);
  });

  it('keeps a segment whose delivery failed for the next start', async () => {
    const broken: ObjectSink = { putObject: () => Promise.reject(new Error('disk full')) };
    const first = emulator(broken);
    first.createDeliveryStream(STREAM);
    await putBatch(first, [record('2024-01-01', 1)]);
    await first.stop(); // no retries while stopping
    expect(first.stats().deliveryFailures).toBe(1);
    expect(segments()).toHaveLength(1);
    const sink = new MemorySink();
    const second = emulator(sink);
    await second.stop();
    expect(sink.lines()).toEqual([record('2024-01-01', 1)]);
    expect(segments()).toEqual([]);
  });

  it('journals a batch with one write and at most one fsync per partition buffer, and removes delivered segments', async () => {
    const sink = new MemorySink();
    const fh = emulator(sink);
    fh.createDeliveryStream(STREAM);
    const writes = jest.spyOn(realFs, 'writeSync');
    const fsyncs = jest.spyOn(realFs, 'fsync');
    await putBatch(fh, Array.from({ length: 500 }, (_, i) => record(i % 2 ? '2024-01-01' : '2024-01-02', i)));
    expect(writes).toHaveBeenCalledTimes(2); // two partitions
    expect(fsyncs).toHaveBeenCalledTimes(2);
    await putBatch(fh, Array.from({ length: 500 }, (_, i) => record('2024-01-01', i)));
    expect(writes).toHaveBeenCalledTimes(3);
    await fh.stop();
    expect(sink.objects.size).toBe(2);
    expect(segments()).toEqual([]);
  });
});
