// `npm run replay`: its arguments (errors that say what to do), the failure records it reads
// (AWS's Kinesis format), and the plan it makes from them and the open gaps — before anything is sent.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseCommand, UsageError } from '../../scripts/lib/cli';
import { isFunction, parseFailureRecord } from '../../scripts/lib/replay/failures';
import { planReplayRun } from '../../scripts/lib/replay/plan';
import { chunks, replayEvent, CHUNK_RECORDS } from '../../scripts/lib/replay/stream';
import { replayOptions, replaySpec } from '../../scripts/replay';
import type { MapperProgress } from '../../functions/core/progress';

const options = (argv: string[]) => replayOptions(parseCommand(replaySpec, argv));

jest.setTimeout(60_000);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const root = path.resolve(__dirname, '../..');
  try {
    const { stdout, stderr } = await promisify(execFile)(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/replay.ts', ...args], { cwd: root, env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('the command', () => {
  it('--help prints the usage and exits 0; a usage error exits 2 with what to do and no stack trace', async () => {
    const help = await cli(['--help']);
    expect(help).toMatchObject({ code: 0, stdout: expect.stringContaining('Usage: npm run replay -- --job J') });
    const bad = await cli(['--job', 'sensor-averages', '--from-seq', '12']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--from-seq and --to-seq go together');
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('arguments', () => {
  it.each([
    [[], /--job is required/],
    [['--job', 'j', '--from-seq', '12'], /--from-seq and --to-seq go together/],
    [['--job', 'j', '--from-seq', '12', '--to-seq', '14'], /--shard is required/],
    [['--job', 'j', '--shard', 's', '--from-seq', '1x', '--to-seq', '14'], /--from-seq '1x' is not a sequence number/],
    [['--job', 'j', '--shard', 's'], /--shard needs --from-seq and --to-seq, or --abandon-gap/],
    [['--job', 'j', '--shard', 's', '--abandon-gap', '5', '--from-seq', '1', '--to-seq', '2'], /cannot be combined/],
    [['--job', 'j', '--nope'], /Unknown option '--nope'/],
  ])('%j → %s', (argv, message) => {
    expect(() => options(argv)).toThrow(UsageError);
    expect(() => options(argv)).toThrow(message);
  });

  it('an explicit range, an abandoned gap, a dry run', () => {
    expect(options(['--job', 'j', '--shard', 's', '--from-seq', '1', '--to-seq', '2'])).toMatchObject({ job: 'j', explicit: { shardId: 's', first: '1', last: '2' }, dryRun: false, target: 'local' });
    expect(options(['--job', 'j', '--shard', 's', '--abandon-gap', '9', '--target', 'aws'])).toMatchObject({ abandon: { shardId: 's', gapTo: '9' }, target: 'aws' });
    expect(options(['--job', 'j', '--dry-run'])).toMatchObject({ dryRun: true });
  });
});

const failure = (fn: string, shard: string, first: string, last: string) =>
  JSON.stringify({
    requestContext: { requestId: 'r', functionArn: `arn:aws:lambda:us-east-1:123456789012:function:${fn}`, condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: '2026-01-01T00:00:00.000Z',
    KinesisBatchInfo: { shardId: shard, startSequenceNumber: first, endSequenceNumber: last, approximateArrivalOfFirstRecord: '', approximateArrivalOfLastRecord: '', batchSize: 3, streamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/in' },
  });

describe('failure records', () => {
  it("AWS's Kinesis failure record: function, shard and range", () => {
    expect(parseFailureRecord('k', failure('mapper-fn', 'shardId-000000000001', '100', '300'))).toEqual({
      key: 'k',
      functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:mapper-fn',
      condition: 'RetryAttemptsExhausted',
      shardId: 'shardId-000000000001',
      first: '100',
      last: '300',
      batchSize: 3,
    });
    expect(isFunction('arn:aws:lambda:us-east-1:1:function:mapper-fn:$LATEST', 'mapper-fn')).toBe(true);
    expect(isFunction('arn:aws:lambda:us-east-1:1:function:mapper-fn2', 'mapper-fn')).toBe(false);
  });

  it('anything else under the prefix is reported, not replayed', () => {
    expect(parseFailureRecord('k', 'nope')).toBe('k: not JSON');
    expect(parseFailureRecord('k', '{"KinesisBatchInfo":{"shardId":"s"}}')).toMatch(/not a Kinesis failure record/);
  });
});

describe('plan', () => {
  const shard = (gaps: MapperProgress['gaps']): MapperProgress => ({ shardId: 's0', maxEventTime: 0, updatedAt: 0, pendingEnds: [], gaps });
  const gap = { after: '10', to: '20', ends: [{ end: '20', watermark: null }], progressBefore: 5, replayedThrough: null, traced: true };
  const ranges = (f: string) => parseFailureRecord('k', f) as Exclude<ReturnType<typeof parseFailureRecord>, string>;

  it('mapper failure records are replayed; a gap they cover is not read twice; reducer records cannot be', () => {
    const plan = planReplayRun({ failures: [ranges(failure('m', 's0', '11', '20')), ranges(failure('r', 'sh0', '5', '6'))], mapperFunction: 'm', reducerFunction: 'r', mappers: [shard([gap])] });
    expect(plan.ranges).toEqual([{ shardId: 's0', first: '11', last: '20', fromFailureRecord: true, source: 'k' }]);
    expect(plan.problems).toEqual([expect.stringMatching(/a reducer batch .* was skipped/)]);
    expect(plan.openGaps).toHaveLength(1);
  });

  it('an open gap without a failure record is read from after its start (or after what was replayed)', () => {
    expect(planReplayRun({ failures: [], mapperFunction: 'm', reducerFunction: 'r', mappers: [shard([{ ...gap, replayedThrough: '15' }])] }).ranges).toEqual([
      { shardId: 's0', after: '15', last: '20', fromFailureRecord: false, source: 'the open gap 10..20' },
    ]);
    const unknown = planReplayRun({ failures: [], mapperFunction: 'm', reducerFunction: 'r', mappers: [shard([{ ...gap, after: null }])] });
    expect(unknown.ranges).toEqual([]);
    expect(unknown.problems[0]).toMatch(/no failure record and no known start; pass --shard s0 --from-seq/);
  });

  it('closed gaps are not replayed again; an explicit range is taken as given', () => {
    expect(planReplayRun({ failures: [], mapperFunction: 'm', reducerFunction: 'r', mappers: [shard([{ ...gap, closed: 'replayed' }])] }).ranges).toEqual([]);
    expect(planReplayRun({ failures: [], mapperFunction: 'm', reducerFunction: 'r', mappers: [], explicit: { shardId: 's0', first: '30', last: '20' } }).problems).toEqual(['--from-seq 30 is after --to-seq 20; swap them']);
  });
});

describe('replay events', () => {
  it('Kinesis-shaped records with the original shard and sequence numbers, and the request', () => {
    const event = replayEvent([{ sequenceNumber: '42', partitionKey: 'k', data: Buffer.from('{"a":1}'), arrivalMs: 1_000 }], { shardId: 's0', first: '42', last: '42', fromFailureRecord: true }, 'arn', 'us-east-1');
    expect(event).toEqual({
      Records: [expect.objectContaining({ eventID: 's0:42', kinesis: { kinesisSchemaVersion: '1.0', partitionKey: 'k', sequenceNumber: '42', data: Buffer.from('{"a":1}').toString('base64'), approximateArrivalTimestamp: 1 } })],
      riffleReplay: { shardId: 's0', first: '42', last: '42', fromFailureRecord: true },
    });
  });

  it('chunks fit a synchronous invoke', () => {
    const records = Array.from({ length: CHUNK_RECORDS + 3 }, (_, i) => ({ sequenceNumber: String(i), partitionKey: 'k', data: new Uint8Array(10), arrivalMs: 0 }));
    expect(chunks(records).map((c) => c.length)).toEqual([CHUNK_RECORDS, 3]);
    const big = Array.from({ length: 5 }, (_, i) => ({ sequenceNumber: String(i), partitionKey: 'k', data: new Uint8Array(1024 * 1024), arrivalMs: 0 }));
    expect(chunks(big).map((c) => c.length)).toEqual([2, 2, 1]);
  });
});
