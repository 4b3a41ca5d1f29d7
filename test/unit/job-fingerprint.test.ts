// Job evolution, decided before anything is deployed: the fingerprint of each kind of change
// (aggregate added, removed, changed; window; lateness; map) and what a deploy over it does.
import { z } from 'zod';
import { count, mean, quantile } from '../../functions/core/aggregates';
import { defineJob, JobDefinitionError, type JobDefinition } from '../../functions/core/job';
import { checkDeploy, decodeFingerprint, encodeFingerprint, evolutionVerdict, fingerprintsIn, jobFingerprint } from '../../functions/core/job-fingerprint';
import { hopping, tumbling } from '../../functions/core/windows';
import { jobs } from '../../jobs';
import { deployEvolutionCheck, selectedJobs } from '../../scripts/cdk';

const Reading = z.object({ id: z.string(), ts: z.number(), value: z.number() });
type Reading = z.infer<typeof Reading>;

const base: JobDefinition<Reading, { value: number }> = {
  name: 'evolving',
  schema: Reading,
  eventTime: (r) => r.ts,
  map: (r) => [[r.id, { value: r.value }]],
  window: tumbling('5m'),
  allowedLateness: '1m',
  aggregates: { n: count(), avg: mean('value'), p95: quantile('value', 0.95) },
};
const v1 = jobFingerprint(defineJob(base));

const CHANGES: [string, Partial<JobDefinition<Reading, { value: number }>>, string[]][] = [
  ['an aggregate added', { aggregates: { ...base.aggregates, p50: quantile('value', 0.5) } }, ["aggregate 'p50' added"]],
  ['an aggregate removed', { aggregates: { n: count(), avg: mean('value') } }, ["aggregate 'p95' removed"]],
  ["an aggregate's parameter changed", { aggregates: { ...base.aggregates, p95: quantile('value', 0.9) } }, ["aggregate 'p95' changed"]],
  ['the window changed', { window: hopping('10m', '5m') }, ['window']],
  ['the lateness changed', { allowedLateness: '5m' }, ['allowedLateness']],
  ['the map changed', { map: (r: Reading) => [[r.id.toLowerCase(), { value: r.value }]] }, ['map']],
];

describe.each(CHANGES)('%s', (_what, change, named) => {
  const changed = (version?: number) => jobFingerprint(defineJob({ ...base, ...change, ...(version ? { version } : {}) }));

  test('without a version bump the deploy is refused, naming the change and the fix', () => {
    const verdict = evolutionVerdict(v1, changed(), { job: 'evolving' });
    expect(verdict.kind).toBe('refused');
    if (verdict.kind !== 'refused') return;
    expect(verdict.changes).toEqual(named);
    expect(verdict.message).toContain("copy jobs/evolving.ts to jobs/evolving-v2.ts (name: 'evolving-v2', version: 2)");
    expect(verdict.message).toContain('npm run reprocess -- --job evolving');
  });

  test('with a bump it is refused too (state carries no version), with the same way out', () => {
    const verdict = evolutionVerdict(v1, changed(2), { job: 'evolving' });
    expect(verdict).toMatchObject({ kind: 'refused', changes: named });
    const check = checkDeploy(new Map([['evolving', v1]]), new Map([['evolving', changed(2)]]));
    expect(check.refused).toHaveLength(1);
    expect(check.refused[0]).toContain('cannot change in place');
    expect(check.refused[0]).toContain("add 'evolving-v2' to riffle:jobs");
  });
});

test('an unchanged definition (a fresh object, same code) deploys; so does a first deploy', () => {
  expect(jobFingerprint(defineJob({ ...base })).hash).toBe(v1.hash);
  expect(evolutionVerdict(v1, jobFingerprint(defineJob({ ...base })), { job: 'evolving' }).kind).toBe('unchanged');
  expect(evolutionVerdict(undefined, v1, { job: 'evolving' }).kind).toBe('new');
  expect(checkDeploy(new Map([['evolving', v1]]), new Map([['evolving', v1]]))).toEqual({ refused: [] });
});

test('what does not touch state (emit mode, samples, idle timeout) leaves the fingerprint alone', () => {
  const other = jobFingerprint(defineJob({ ...base, emit: 'update', idleTimeout: '5m', samples: [{ id: 'a', ts: 1, value: 2 }] }));
  expect(other.hash).toBe(v1.hash);
});

test('a lower version is refused even without a change', () => {
  const v3 = jobFingerprint(defineJob({ ...base, version: 3 }));
  expect(evolutionVerdict(v3, jobFingerprint(defineJob({ ...base, version: 2 })), { job: 'evolving' })).toMatchObject({ kind: 'refused', message: expect.stringContaining('only goes up') });
});

test('aggregates in another order are a change (state is positional)', () => {
  const reordered = jobFingerprint(defineJob({ ...base, aggregates: { avg: mean('value'), n: count(), p95: quantile('value', 0.95) } }));
  expect(evolutionVerdict(v1, reordered, { job: 'evolving' })).toMatchObject({ kind: 'refused', changes: ['aggregates reordered'] });
});

test('the stack output round-trips and is found among other outputs; the example jobs fit in an output', () => {
  const text = encodeFingerprint(v1);
  expect(decodeFingerprint(text)).toEqual(v1);
  expect(decodeFingerprint('not json')).toBeUndefined();
  expect(fingerprintsIn({ EvolvingFingerprint: text, EvolvingBucket: 'b' })).toEqual(new Map([['evolving', v1]]));
  for (const job of Object.values(jobs)) expect(encodeFingerprint(jobFingerprint(job)).length).toBeLessThan(4096);
});

test('version must be a whole number ≥ 1', () => {
  expect(() => defineJob({ ...base, version: 0 })).toThrow(JobDefinitionError);
  expect(() => defineJob({ ...base, version: 1.5 })).toThrow(/version: must be a whole number/);
  expect(defineJob(base).version).toBe(1);
});

describe('npm run deploy (scripts/cdk.ts): the check before cdk deploy', () => {
  const sensors = jobs['sensor-averages']!;
  const recorded = (fingerprint: ReturnType<typeof jobFingerprint>) => async (stack: string) => (stack === 'Riffle-sensor-averages' ? { SensorAveragesFingerprint: encodeFingerprint(fingerprint) } : undefined);

  test('the jobs of -c riffle:jobs against what the stack recorded: unchanged passes, a change is refused, a new stack is new', async () => {
    const args = ['-c', 'riffle:jobs=sensor-averages'];
    expect(selectedJobs(args)).toEqual(['sensor-averages']);
    expect(await deployEvolutionCheck(args, recorded(jobFingerprint(sensors)))).toEqual({ refused: [] });
    const older = { ...jobFingerprint(sensors), parts: { ...jobFingerprint(sensors).parts, window: '00000000' } };
    const check = await deployEvolutionCheck(args, recorded(older));
    expect(check.refused).toEqual([expect.stringContaining("job 'sensor-averages' changed (window): a deployed job's definition cannot change in place")]);
    expect(await deployEvolutionCheck(args, async () => undefined)).toEqual({ refused: [] });
  });
});
