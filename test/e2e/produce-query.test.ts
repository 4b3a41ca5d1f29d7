// produce → pipeline → query round trips on the embedded services, one per example job: records
// from `npm run produce` (called as a function, with its --log) go through the real mapper,
// reducer and closer (test/support/pipeline-harness.ts), and `npm run query`'s views must hold
// exactly what the log says was sent: every window right, every malformed record in rejected/,
// late/ only for records sent late.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Job } from '../../functions/core/job';
import { outputKey, stackName } from '../../infra/outputs';
import { jobs } from '../../jobs';
import { checkRoundTrip, readSentLog, reportText } from '../../scripts/localstack-e2e';
import { resolveTarget, type Target } from '../../scripts/lib/targets';
import { runProduce } from '../../scripts/produce';
import { executeQuery } from '../../scripts/query';
import { PipelineHarness } from '../support/pipeline-harness';

jest.setTimeout(90_000);

/** The harness's bucket (test/support/pipeline-harness.ts). */
const HARNESS_BUCKET = 'riffle-test-output';
const quiet = { write: () => true };

function targetFor(h: PipelineHarness, job: string): Target {
  const source = (jobs[job] as Job).source;
  return resolveTarget('local', {
    endpoint: h.server.endpoint,
    outputs: { [stackName(source)]: { Jobs: job, [outputKey(job, 'InputStream')]: h.names.input, [outputKey(job, 'Bucket')]: HARNESS_BUCKET } },
  });
}

async function rows(target: Target, job: string, sql: string, cacheDir: string): Promise<Record<string, unknown>[]> {
  const run = await executeQuery({ sql, format: 'json', job, target: 'local', cache: true, athena: false }, { target, cacheDir });
  return JSON.parse(run.text) as Record<string, unknown>[];
}

async function withHarness(job: string, shards: number, fn: (h: PipelineHarness, target: Target, dir: string) => Promise<void>): Promise<void> {
  const h = await new PipelineHarness({ job: jobs[job] as Job, inputShards: shards, shuffleBuckets: 4 }).start();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-produce-query-'));
  try {
    await fn(h, targetFor(h, job), dir);
  } finally {
    await h.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const CASES: { job: string; extra: string[] }[] = [
  { job: 'sensor-averages', extra: ['--max-delay', '20s'] },
  { job: 'trending-hashtags', extra: ['--aggregate', '--max-delay', '5s'] },
  { job: 'clickstream', extra: ['--max-delay', '3s'] },
  { job: 'clickstream-sessions', extra: ['--aggregate'] },
];

describe('npm run produce → pipeline → npm run query', () => {
  it.each(CASES)('$job: the views hold exactly what was sent', async ({ job, extra }) => {
    await withHarness(job, 2, async (h, target, dir) => {
      const log = path.join(dir, 'sent.jsonl');
      const argv = ['--job', job, '--count', '2500', '--duration', '3h', '--seed', '11', '--bad-fraction', '2%', '--duplicate-fraction', '2%', '--log', log, ...extra];
      expect(await runProduce(argv, { stdout: quiet, stderr: quiet, target })).toBe(0);
      await h.runToEnd({ mapperBatch: 250, reducerBatch: 100 });
      await h.server.firehose.flushAll();
      const cache = path.join(dir, 'cache');
      const report = checkRoundTrip({
        job,
        sent: readSentLog(log),
        results: await rows(target, job, 'SELECT * FROM results', cache),
        late: await rows(target, job, 'SELECT * FROM late', cache),
        rejected: await rows(target, job, 'SELECT * FROM rejected', cache),
      });
      if (report.problems.length) console.log(reportText(report));
      expect(report.problems).toEqual([]);
      expect(report.expectedWindows).toBeGreaterThan(20);
      expect(report.rejected).toBeGreaterThan(20);
      // results collapses re-emitted versions; a final emission per window is what the closer writes.
      const counts = await rows(target, job, 'SELECT count(*) AS n, count(DISTINCT resultId) AS ids, bool_and(final) AS allFinal FROM results', cache);
      expect(counts[0]).toEqual({ n: report.expectedWindows, ids: report.expectedWindows, allFinal: true });
    });
  });

  it('records sent late land in late/ (and only those), once the watermark has moved past them', async () => {
    const job = 'sensor-averages';
    await withHarness(job, 1, async (h, target, dir) => {
      const log = path.join(dir, 'sent.jsonl');
      const argv = ['--job', job, '--count', '1200', '--duration', '2h', '--seed', '5', '--late-fraction', '5%', '--max-delay', '10s', '--log', log];
      expect(await runProduce(argv, { stdout: quiet, stderr: quiet, target })).toBe(0);
      // Small mapper batches, each reduced before the next: the watermark advances as on a live stream.
      while ((await h.pump('mapper', { batchSize: 10, maxInvocations: 1 })) > 0) await h.pump('reducer', { batchSize: 100 });
      await h.closer({ drain: true });
      await h.server.firehose.flushAll();
      const cache = path.join(dir, 'cache');
      const sent = readSentLog(log);
      const late = await rows(target, job, 'SELECT * FROM late', cache);
      const report = checkRoundTrip({ job, sent, results: await rows(target, job, 'SELECT * FROM results', cache), late, rejected: [] });
      if (report.problems.length) console.log(reportText(report));
      expect(report.problems).toEqual([]);
      const flagged = sent.filter((r) => r.flag === 'late').length;
      expect(flagged).toBeGreaterThan(30);
      // Only the first few can beat the watermark (it does not exist before the first batch).
      expect(late.length).toBeGreaterThanOrEqual(flagged - 3);
    });
  });
});
