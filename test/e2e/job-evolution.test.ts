// Changing a deployed job on the embedded cloud: the sensor-averages stack runs; deploying it again
// with each kind of change to the job (an aggregate added, removed or changed; the window; the
// lateness; the map) is refused by the local deployer before it touches anything, with a message
// naming the change and saying what to do — without a version bump, and (until state is versioned)
// with one; the unchanged job redeploys. The templates differ from the synthesized one only in the
// fingerprint output, computed here from each changed definition (the synth computes the same
// function of the job file), so one synth serves every case.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { quantile } from '../../functions/core/aggregates';
import { defineJob, type Job, type JobDefinition, type MappedValues } from '../../functions/core/job';
import { encodeFingerprint, fingerprintOutputKey, jobFingerprint } from '../../functions/core/job-fingerprint';
import { hopping } from '../../functions/core/windows';
import { pascal, stackName } from '../../infra/outputs';
import { jobs } from '../../jobs';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { JobEvolutionError } from '../../local/deploy/deployer';
import { synth } from '../../scripts/lib/synth';
import { definitionOf } from '../support/job-definition';

jest.setTimeout(180_000);

const JOB = 'sensor-averages';
const live = jobs[JOB] as Job<{ sensorId: string; temperature: number }, MappedValues>;
const base: JobDefinition<{ sensorId: string; temperature: number }, MappedValues> = definitionOf(live);
const { temperature_p95: _p95, ...withoutP95 } = live.aggregates;

const CHANGES: [string, Partial<typeof base>, string][] = [
  ['an aggregate added', { aggregates: { ...live.aggregates, temperature_p50: quantile('temperature', 0.5) } }, "aggregate 'temperature_p50' added"],
  ['an aggregate removed', { aggregates: withoutP95 }, "aggregate 'temperature_p95' removed"],
  ['an aggregate changed', { aggregates: { ...live.aggregates, temperature_p95: quantile('temperature', 0.99) } }, "aggregate 'temperature_p95' changed"],
  ['the window', { window: hopping('10m', '5m') }, 'window'],
  ['the lateness', { allowedLateness: '10m' }, 'allowedLateness'],
  ['the map', { map: (r) => [[r.sensorId.toLowerCase(), { temperature: r.temperature }]] }, 'map'],
];

let source: string;
let cloud: LocalCloud;
const temp: string[] = [];

/** A copy of the synthesized assembly whose stack records `job`'s fingerprint. */
function assemblyFor(job: Job): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-cdk-out-'));
  temp.push(dir);
  cpSync(source, dir, { recursive: true });
  const file = path.join(dir, readdirSync(dir).find((f) => f.startsWith(stackName(JOB)) && f.endsWith('.template.json')) as string);
  const template = JSON.parse(readFileSync(file, 'utf8')) as { Outputs: Record<string, { Value: unknown }> };
  const key = fingerprintOutputKey(pascal(JOB));
  expect(typeof template.Outputs[key]?.Value).toBe('string');
  (template.Outputs[key] as { Value: unknown }).Value = encodeFingerprint(jobFingerprint(job));
  writeFileSync(file, JSON.stringify(template));
  return dir;
}

beforeAll(async () => {
  source = mkdtempSync(path.join(os.tmpdir(), 'riffle-cdk-out-'));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'riffle-local-'));
  temp.push(source, dataDir);
  // The reprocess suite's synth (same jobs and context): the synth cache shares it.
  await synth({ outdir: source, jobs: [JOB], context: { [`riffle:config.${JOB}.mapperBatchingWindow`]: '0s', [`riffle:config.${JOB}.reducerBatchingWindow`]: '1s' } });
  cloud = await startLocalCloud({ port: 0, dataDir, assembly: assemblyFor(defineJob(base)), timeScale: 30, log: () => undefined, warn: () => undefined, functionLogs: () => undefined });
});

afterAll(async () => {
  await cloud?.stop();
  for (const dir of temp) rmSync(dir, { recursive: true, force: true });
});

describe.each(CHANGES)('%s', (_what, change, named) => {
  test('is refused without a version bump: what changed, deploy it as a new job, or reprocess', async () => {
    const before = JSON.stringify(cloud.outputs);
    const attempt = cloud.deploy({ assembly: assemblyFor(defineJob({ ...base, ...change })) });
    await expect(attempt).rejects.toThrow(JobEvolutionError);
    const message = await attempt.catch((e: Error) => e.message);
    expect(message).toContain(`job '${JOB}' changed (${named}): a deployed job's definition cannot change in place`);
    expect(message).toContain(`copy jobs/${JOB}.ts to jobs/${JOB}-v2.ts`);
    expect(message).toContain(`npm run reprocess -- --job ${JOB}`);
    expect(JSON.stringify(cloud.outputs)).toBe(before);
  });

  test('with a version bump it is refused too (state carries no version), saying how to deploy it instead', async () => {
    const attempt = cloud.deploy({ assembly: assemblyFor(defineJob({ ...base, ...change, version: 2 })) });
    await expect(attempt).rejects.toThrow(`job '${JOB}' changed (${named}): a deployed job's definition cannot change in place`);
  });
});

test('the unchanged job redeploys over its running stack', async () => {
  const result = await cloud.deploy({ assembly: assemblyFor(defineJob({ ...base, aggregates: { ...live.aggregates } })) });
  expect(result.stacks.map((s) => s.stackName)).toEqual([stackName(JOB)]);
});
