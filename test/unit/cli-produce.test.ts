// `npm run produce` argument handling: every mistake is a UsageError whose message says what to
// write instead; valid command lines become the options the producer runs with.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCommand, UsageError } from '../../scripts/lib/cli';
import { jobNames } from '../../jobs';
import { parseFraction, parseRate, produceOptions, produceSpec } from '../../scripts/produce';

const NOW = Date.parse('2026-06-01T12:00:00Z');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-cli-produce-'));
  writeFileSync(path.join(dir, 'events.jsonl'), '{"sensorId":"s","ts":1,"temperature":2}\n');
  writeFileSync(path.join(dir, 'events.xml'), '<e/>');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function options(...argv: string[]) {
  return produceOptions(parseCommand(produceSpec, argv), NOW, () => 1234);
}

function error(...argv: string[]): string {
  try {
    options(...argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`no error for ${argv.join(' ')}`);
}

describe('produce arguments', () => {
  it('defaults: local target, 60 minutes ending now, no disorder or injection, a random seed', () => {
    expect(options('--job', 'clickstream', '--count', '10_000')).toEqual({
      job: 'clickstream',
      target: 'local',
      count: 10_000,
      durationMs: 3_600_000,
      endMs: NOW,
      maxDelayMs: 0,
      lateFraction: 0,
      duplicateFraction: 0,
      badFraction: 0,
      aggregate: false,
      seed: 1234,
      concurrency: 1,
    });
  });

  it('takes every option', () => {
    expect(
      options('--job', 'sensor-averages', '--count', '5', '--duration', '2h', '--end', '2026-06-01T11:00:00Z', '--rate', '600/m', '--max-delay', '30s', '--late-fraction', '1%', '--duplicate-fraction', '0.02', '--bad-fraction', '0.5%', '--aggregate', '--log', 'x.jsonl', '--seed', '7', '--target', 'aws', '--region', 'eu-west-1', '--stream', 's', '--concurrency', '4'),
    ).toEqual({
      job: 'sensor-averages',
      target: 'aws',
      region: 'eu-west-1',
      stream: 's',
      count: 5,
      durationMs: 7_200_000,
      endMs: Date.parse('2026-06-01T11:00:00Z'),
      ratePerSec: 10,
      maxDelayMs: 30_000,
      lateFraction: 0.01,
      duplicateFraction: 0.02,
      badFraction: 0.005,
      aggregate: true,
      log: 'x.jsonl',
      seed: 7,
      concurrency: 4,
    });
  });

  it.each([
    [['--count', '10'], new RegExp(`--job is required: .*one of: ${jobNames().join(', ')}\\), e\\.g\\. --job clickstream`)],
    [['--job', 'nope', '--count', '10'], new RegExp(`unknown job 'nope'; jobs \\(defined in jobs/\\): ${jobNames().join(', ')}`)],
    [['--job', 'clickstream'], /--count is required: .*e\.g\. --count 10000 .*--file events\.jsonl/],
    [['--job', 'clickstream', '--count', '0'], /--count must be a whole number ≥ 1, got '0' \(e\.g\. --count 1000\)/],
    [['--job', 'clickstream', '--count', 'lots'], /--count must be a whole number/],
    [['--job', 'clickstream', '--count', '10', '--duration', '1 hour'], /--duration: '1 hour' is not a duration; write a number followed by ms, s, m, h or d \(e\.g\. '30s', '5m', '1h'\)/],
    [['--job', 'clickstream', '--count', '10', '--duration', '0s'], /--duration must be more than 0, e\.g\. --duration 60m/],
    [['--job', 'clickstream', '--count', '10', '--max-delay', 'soon'], /--max-delay: 'soon' is not a duration/],
    [['--job', 'clickstream', '--count', '10', '--max-delay', '2h'], /--max-delay \(2h\) is longer than --duration \(60m\); lower it or lengthen --duration/],
    [['--job', 'clickstream', '--count', '10', '--rate', 'fast'], /--rate 'fast' is not a rate; write records per second like --rate 1000\/s/],
    [['--job', 'clickstream', '--count', '10', '--rate', '0/s'], /--rate must be more than 0/],
    [['--job', 'clickstream', '--count', '10', '--late-fraction', '2'], /--late-fraction must be a fraction from 0 to 1 or a percentage, got '2' \(e\.g\. --late-fraction 0\.01 or --late-fraction 1%\)/],
    [['--job', 'clickstream', '--count', '10', '--bad-fraction=-1'], /--bad-fraction must be a fraction/],
    [['--job', 'clickstream', '--count', '10', '--bad-fraction', '-1'], /argument is ambiguous.*use '--bad-fraction=-XYZ'/s],
    [['--job', 'clickstream', '--count', '10', '--late-fraction', '0.6', '--bad-fraction', '0.6'], /is 1\.2, more than 1; .* lower them/],
    [['--job', 'clickstream', '--count', '10', '--end', 'tomorrow'], /--end 'tomorrow' .*write an ISO-8601 time with a zone, e\.g\. --end 2026-01-01T12:00:00Z/],
    [['--job', 'clickstream', '--count', '10', '--end', '2026-06-01T12:00:00'], /--end .*add .*Z|--end .*zone/],
    [['--job', 'clickstream', '--count', '10', '--end', '2026-06-01T14:00:00Z'], /more than 1 hour in the future; the jobs would reject those events .*use a time up to now/],
    [['--job', 'clickstream', '--count', '10', '--target', 'mars'], /--target must be one of local, localstack, aws, got 'mars'/],
    [['--job', 'clickstream', '--count', '10', '--target', 'aws', '--endpoint', 'http://x'], /--endpoint is for --target local or localstack; .*use --region/],
    [['--job', 'clickstream', '--count', '10', '--key-field', 'userId'], /--key-field applies to --file/],
    [['--job', 'clickstream', '--count', '10', '--concurrency', '100'], /--concurrency must be a whole number from 1 to 64/],
    [['--job', 'clickstream', '--count', '10', '--seed', 'abc'], /--seed must be a whole number from 0 to/],
    [['--job', 'clickstream', '--count', '10', '--log', ''], /--log : give a file name, e\.g\. --log sent\.jsonl/],
    [['--job', 'clickstream', '--count', '10', '--bogus'], /Unknown option '--bogus'.*\nRun 'npm run produce -- --help' for the options\./s],
    [['--job', 'clickstream', '--count', '10', 'extra'], /Unexpected argument 'extra'.*--help/s],
    [['--job', 'clickstream', '--count'], /--count.*argument missing|--count <value>/],
  ])('%j → says what to do', (argv, message) => {
    expect(error(...argv)).toMatch(message);
  });

  it('--file: replays as-is, so generator options are refused; unknown formats and missing files are explained', () => {
    const file = path.join(dir, 'events.jsonl');
    expect(options('--job', 'sensor-averages', '--file', file)).toMatchObject({ file, job: 'sensor-averages' });
    expect(error('--job', 'sensor-averages', '--file', file, '--late-fraction', '0.1')).toMatch(/--late-fraction applies to generated events; --file replays the file as-is — remove --late-fraction or --file/);
    expect(error('--job', 'sensor-averages', '--file', file, '--seed', '3')).toMatch(/--seed applies to generated events/);
    expect(error('--job', 'sensor-averages', '--file', path.join(dir, 'events.xml'))).toMatch(/unknown format '\.xml'; use a \.jsonl file .* or a \.csv file with a header row/);
    expect(error('--job', 'sensor-averages', '--file', path.join(dir, 'missing.jsonl'))).toMatch(/no such file \(paths are relative to /);
  });

  it('rates and fractions in the forms the help shows', () => {
    expect(parseRate('1000/s')).toBe(1000);
    expect(parseRate('1000')).toBe(1000);
    expect(parseRate('1.5k/s')).toBe(1500);
    expect(parseRate('36000/h')).toBe(10);
    expect(parseRate('120/min')).toBe(2);
    expect(parseFraction('x', '1%')).toBe(0.01);
    expect(parseFraction('x', '0.25')).toBe(0.25);
  });
});
