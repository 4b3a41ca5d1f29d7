// The local functions' logs (local/lambda/function-logs.ts): one summary line per invocation with
// the counts from its EMF documents, errors and warnings in full, every line with `verbose`, and
// always the full log (lines, END, REPORT, errors) in a size-capped file per function.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { FunctionLogs, type FunctionLogMode } from '../../local/lambda/function-logs';
import type { InvocationReport } from '../../local/lambda/runtime';
import type { InvokeResult } from '../../local/lambda/types';

const FN = 'Riffle-sensor-averages-SensorAveragesJobMapper07E53-Ab12Cd34Ef56';
const EMF = JSON.stringify({
  _aws: { Timestamp: 0, CloudWatchMetrics: [{ Namespace: 'Riffle', Dimensions: [['job']], Metrics: [{ Name: 'Events', Unit: 'Count' }, { Name: 'ShuffleRecords', Unit: 'Count' }, { Name: 'ColdStart', Unit: 'Count' }] }] },
  job: 'sensor-averages',
  Events: 1500,
  ShuffleRecords: [3, 4],
  ColdStart: 1,
});
const INFO = JSON.stringify({ level: 'INFO', message: 'closer run', closed: 3 });
const WARN = JSON.stringify({ level: 'WARN', message: 'could not nudge the closer' });

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'riffle-fnlogs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function setup(mode: FunctionLogMode, maxFileBytes?: number) {
  const printed: string[] = [];
  const logs = new FunctionLogs({
    dir,
    mode,
    ...(maxFileBytes ? { maxFileBytes } : {}),
    describe: () => ({ name: FN, assetDir: '/x', handler: 'index.handler', environment: { POWERTOOLS_SERVICE_NAME: 'riffle-mapper', RIFFLE_JOB: 'sensor-averages' } }),
    print: (line, stream) => printed.push(`${stream}: ${line}`),
    now: () => new Date(2026, 0, 2, 9, 8, 7, 6),
  });
  return { logs, printed };
}

function report(result: Partial<InvokeResult>, lines: string[], coldStart = false): InvocationReport {
  return {
    functionName: FN,
    requestId: 'req-1',
    coldStart,
    memoryMb: 1024,
    lines,
    result: { requestId: 'req-1', ok: true, payload: 'null', timedOut: false, durationMs: 42, invocation: 1, ...result },
  };
}

function run(logs: FunctionLogs, r: InvocationReport): void {
  for (const line of r.lines) logs.line(FN, line, 'stdout');
  logs.invocation(r);
}

test('summary: one line per invocation with its EMF counts; INFO and EMF lines stay in the file', async () => {
  const { logs, printed } = setup('summary');
  run(logs, report({}, [INFO, EMF], true));
  expect(printed).toEqual(['stdout: 09:08:07.006 sensor-averages/mapper  ok        42 ms  Events 1,500 · ShuffleRecords 7 (cold start)']);
  await logs.close();
  const file = readFileSync(logs.fileOf(FN), 'utf8').split('\n');
  expect(file).toEqual([INFO, EMF, 'END RequestId: req-1', 'REPORT RequestId: req-1\tDuration: 42 ms\tMemory Size: 1024 MB\tCold start', '']);
  expect(path.relative(dir, logs.fileOf(FN))).toBe(`${FN}.log`);
});

test('summary: warnings, stderr lines and failed invocations are shown in full', async () => {
  const { logs, printed } = setup('summary');
  logs.line(FN, WARN, 'stdout');
  logs.line(FN, 'TypeError: x is not a function', 'stderr');
  const error = { errorType: 'RangeError', errorMessage: 'bad input', trace: ['RangeError: bad input', '    at handler (index.js:3:9)'] };
  logs.invocation(report({ ok: false, error, functionError: 'Unhandled', payload: JSON.stringify(error), durationMs: 7 }, []));
  expect(printed).toEqual([
    `stdout: 09:08:07.006 sensor-averages/mapper  ${WARN}`,
    'stderr: 09:08:07.006 sensor-averages/mapper  TypeError: x is not a function',
    'stderr: 09:08:07.006 sensor-averages/mapper  FAILED     7 ms  RangeError: bad input',
    'stderr:     RangeError: bad input',
    'stderr:         at handler (index.js:3:9)',
  ]);
  await logs.close();
  const file = readFileSync(logs.fileOf(FN), 'utf8');
  expect(file).toContain('"errorType":"RangeError"');
  expect(file).toContain('Status: error');
});

test('verbose prints every line; errors prints only what failed; silent nothing — the file has it all', async () => {
  const verbose = setup('verbose');
  run(verbose.logs, report({}, [INFO, EMF]));
  expect(verbose.printed).toEqual([`stdout: [sensor-averages/mapper] ${INFO}`, `stdout: [sensor-averages/mapper] ${EMF}`]);
  await verbose.logs.close();

  const errors = setup('errors');
  run(errors.logs, report({}, [INFO, EMF]));
  expect(errors.printed).toEqual([]);
  run(errors.logs, report({ ok: false, timedOut: true, error: { errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 3.00 seconds' } }, []));
  expect(errors.printed).toEqual(['stderr: 09:08:07.006 sensor-averages/mapper  FAILED    42 ms  Sandbox.Timedout: Task timed out after 3.00 seconds']);
  await errors.logs.close();

  const silent = setup('silent');
  run(silent.logs, report({ ok: false, error: { errorType: 'E', errorMessage: 'm' } }, [WARN]));
  expect(silent.printed).toEqual([]);
  await silent.logs.close();
  expect(readFileSync(silent.logs.fileOf(FN), 'utf8')).toContain(WARN);
});

test('a log file past its cap moves to .log.1 and a new one starts; nothing is lost across the two', async () => {
  const { logs } = setup('silent', 1000);
  const lines = Array.from({ length: 30 }, (_, i) => `line ${String(i).padStart(2, '0')} ${'x'.repeat(80)}`);
  for (const l of lines) logs.line(FN, l, 'stdout');
  await logs.close();
  const current = readFileSync(logs.fileOf(FN), 'utf8');
  const previous = readFileSync(`${logs.fileOf(FN)}.1`, 'utf8');
  expect(Buffer.byteLength(current)).toBeLessThanOrEqual(1000);
  expect(Buffer.byteLength(previous)).toBeLessThanOrEqual(1000);
  // The newest lines are in the current file, the ones before them in .1, in order.
  const kept = (previous + current).split('\n').filter(Boolean);
  expect(kept).toEqual(lines.slice(lines.length - kept.length));
  expect(kept.length).toBeGreaterThanOrEqual(18);
});

test('functions without Powertools variables keep their name, less the deployer suffix', () => {
  const logs = new FunctionLogs({ dir, mode: 'silent' });
  expect(logs.displayName('Riffle-demo-Handler1A2B3C4D-Ab12Cd34Ef56')).toBe('Riffle-demo-Handler1A2B3C4D');
  expect(logs.displayName('my-function')).toBe('my-function');
  expect(existsSync(logs.fileOf('x'))).toBe(false);
});
