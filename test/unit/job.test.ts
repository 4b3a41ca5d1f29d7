// defineJob: a wrong job fails when it is defined (at synth), naming the field and the fix.
import { count, max, mean } from '../../functions/core/aggregates';
import { defineJob, type JobDefinition, JobDefinitionError } from '../../functions/core/job';
import { hopping, session, tumbling } from '../../functions/core/windows';
import { SensorReading } from '../../events/schemas';
import { sensorReadingSamples } from '../../events/samples/sensor-readings';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { jobNames, jobs, loadJob } from '../../jobs';

type Sensor = (typeof sensorReadingSamples)[number];

const base: JobDefinition<Sensor, { temperature: number }> = {
  name: 'test-job',
  schema: SensorReading,
  eventTime: (r) => r.ts,
  map: (r) => [[r.sensorId, { temperature: r.temperature }]],
  window: tumbling('5m'),
  aggregates: { n: count(), avg: mean('temperature') },
  samples: sensorReadingSamples,
};

function errorOf(fn: () => unknown): JobDefinitionError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return error as JobDefinitionError;
  }
  throw new Error('expected an error');
}

describe('the job registry (jobs/index.ts)', () => {
  it('is every jobs/<name>.ts, each a job named after its file', () => {
    const files = readdirSync(path.resolve(__dirname, '../../jobs')).filter((f) => f.endsWith('.ts') && f !== 'index.ts');
    expect(jobNames()).toEqual(files.map((f) => f.slice(0, -3)).sort());
    for (const name of jobNames()) expect(jobs[name]!.name).toBe(name);
  });

  it('names the known jobs for an unknown one', () => {
    expect(() => loadJob('no-such-job')).toThrow(`unknown job 'no-such-job'; known jobs: ${jobNames().join(', ')} (a job is a file jobs/<name>.ts)`);
    expect(() => loadJob('../functions/core/job')).toThrow(/unknown job/);
  });
});

describe('defineJob', () => {
  it('resolves durations and defaults', () => {
    const job = defineJob(base);
    expect(job).toMatchObject({ name: 'test-job', source: 'test-job', allowedLatenessMs: 0, idleTimeoutMs: 60_000, maxFutureSkewMs: 3_600_000, emit: 'final' });
    expect(defineJob({ ...base, allowedLateness: '2m' }).allowedLatenessMs).toBe(120_000);
  });

  it.each([
    ['unknown window unit', () => defineJob({ ...base, window: tumbling('5x' as never) }), /tumbling\(size\): '5x' is not a duration; write a number followed by ms, s, m, h or d/],
    ['hop larger than size', () => defineJob({ ...base, window: hopping('1m', '5m') }), /the hop '5m' is larger than the size '1m'.*use a slide ≤ size/],
    ['negative lateness', () => defineJob({ ...base, allowedLateness: '-2m' as never }), /job 'test-job': allowedLateness: '-2m' is negative; durations are ≥ 0 \(use '0s' for none\)/],
    ['aggregate over a field the map never emits', () => defineJob({ ...base, aggregates: { hot: max('temprature' as never) } }), /job 'test-job': aggregates\.hot: max\('temprature'\) reads field 'temprature', which map never emits \(it emits: temperature\); fix the field name or the map/],
    ['duplicate aggregate names (case-insensitive in SQL)', () => defineJob({ ...base, aggregates: { Avg: mean('temperature'), avg: mean('temperature') } }), /aggregates\.avg: duplicate aggregate name: 'avg' and 'Avg' are the same column in SQL/],
    ['a result field used as an aggregate name', () => defineJob({ ...base, aggregates: { version: count() } }), /aggregates\.version: 'version' is a result-record field; choose another name/],
    ['an invalid job name', () => defineJob({ ...base, name: 'Sensor Averages' }), /name: 'Sensor Averages' is not a valid job name; use 1–40 lowercase letters/],
    ['no aggregates', () => defineJob({ ...base, aggregates: {} }), /aggregates: define at least one output/],
    ['a bad emit mode', () => defineJob({ ...base, emit: 'sometimes' as never }), /emit: 'sometimes' is not an emit mode; use 'final' or 'update'/],
    ['a session gap of zero', () => defineJob({ ...base, window: session('0s') }), /session\(gap\): gap must be positive/],
    ['samples that do not match the schema', () => defineJob({ ...base, samples: [{ sensorId: 's' }] }), /samples\[0\]: does not match the schema: ts: /],
  ])('rejects %s', (_name, define, message) => {
    expect(errorOf(define).message).toMatch(message);
  });
});
