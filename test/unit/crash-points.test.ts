// local/crash-points.ts: RIFFLE_CRASH_AT is parsed strictly (a typo fails loudly instead of
// silently running without a crash), and an armed point really SIGKILLs the process — at the Nth
// hit for the named target only, after writing its marker line — while an unarmed one does not.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { CRASH_MARKER, CRASH_POINTS, formatCrashSpec, parseCrashSpec } from '../../local/crash-points';

const ROOT = path.resolve(__dirname, '..', '..');

describe('RIFFLE_CRASH_AT', () => {
  it('parses point, target and hit, and formats back', () => {
    expect(parseCrashSpec('esm.batch.invoked')).toEqual({ point: 'esm.batch.invoked', nth: 1 });
    expect(parseCrashSpec('firehose.put-record-batch.acked@Riffle-x-DeliveryResult-ABC:3')).toEqual({ point: 'firehose.put-record-batch.acked', target: 'Riffle-x-DeliveryResult-ABC', nth: 3 });
    for (const text of ['kinesis.put-records.stored@InputStream', 'esm.batch.invoked:2', 'firehose.put-record-batch.acked@a-b:12']) {
      expect(formatCrashSpec(parseCrashSpec(text))).toBe(text);
    }
  });

  it('rejects unknown points and bad hits, naming the points', () => {
    expect(() => parseCrashSpec('esm.batch.invokd')).toThrow(/unknown point 'esm.batch.invokd'.*points: kinesis.put-records.stored, firehose.put-record-batch.acked, esm.batch.invoked/s);
    for (const text of ['esm.batch.invoked:0', 'esm.batch.invoked:x', 'esm.batch.invoked@', ':2']) expect(() => parseCrashSpec(text)).toThrow(/expected <point>\[@<target>\]\[:<N>\]/);
    expect(Object.keys(CRASH_POINTS)).toHaveLength(3);
  });
});

/** A node process that reaches the point for `targets` in turn, then exits 0 if still alive. */
function reach(crashAt: string | undefined, targets: string[]) {
  const script = `const { crashPoint } = require('./local/crash-points');
    for (const t of ${JSON.stringify(targets)}) { crashPoint('esm.batch.invoked', () => t); process.stdout.write(t + ' survived\\n'); }`;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.RIFFLE_CRASH_AT;
  if (crashAt !== undefined) env.RIFFLE_CRASH_AT = crashAt;
  return spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
}

describe('crashPoint', () => {
  it('SIGKILLs the process at the Nth hit for its target, after the marker line', () => {
    const r = reach('esm.batch.invoked@reducer:2', ['mapper-1', 'reducer-1', 'mapper-2', 'reducer-2', 'reducer-3']);
    expect(r.signal).toBe('SIGKILL');
    expect(r.stdout.trim().split('\n')).toEqual(['mapper-1 survived', 'reducer-1 survived', 'mapper-2 survived']);
    expect(r.stderr).toContain(`${CRASH_MARKER} esm.batch.invoked (reducer-2), hit 2: SIGKILL`);
  });

  it('does nothing when another point or no point is armed', () => {
    for (const crashAt of [undefined, 'kinesis.put-records.stored']) {
      const r = reach(crashAt, ['reducer-1']);
      expect([r.status, r.signal, r.stdout.trim()]).toEqual([0, null, 'reducer-1 survived']);
    }
  });

  it('refuses to start with a malformed value', () => {
    const r = reach('esm.batch.invoked:0', ['reducer-1']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/RIFFLE_CRASH_AT="esm.batch.invoked:0": expected/);
  });
});
