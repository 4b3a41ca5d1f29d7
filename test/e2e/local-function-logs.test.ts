// Function output on the embedded cloud (local/cloud.ts wiring local/lambda/function-logs.ts): the
// terminal gets one summary line per invocation, the full log lands in <dataDir>/logs/, and the
// local CloudWatch still reads the EMF documents from the output. Also: a nodejs22.x function
// invoked through the cloud's Lambda API runs on Node 22.
import { CloudWatchClient, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { startLocalCloud, type LocalCloud } from '../../local/cloud';
import { writeHandler } from '../fixtures/local/harness';

jest.setTimeout(60_000);

const HANDLER = `
exports.handler = async (event) => {
  console.log(JSON.stringify({ level: 'INFO', message: 'batch done', n: event.n }));
  console.log(JSON.stringify({
    _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'LogsTest', Dimensions: [['fn']], Metrics: [{ Name: 'Handled', Unit: 'Count' }] }] },
    fn: 'reporter',
    Handled: event.n,
  }));
  if (event.fail) throw new RangeError('cannot handle ' + event.n);
  return { node: process.version };
};`;

let dir: string;
let cloud: LocalCloud;
const printed: string[] = [];
let restore: () => void;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'riffle-fnlogs-e2e-'));
  // The cloud's default terminal output goes to process.stdout/stderr: capture what it prints.
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => (printed.push(String(chunk)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => (printed.push(String(chunk)), true));
  restore = () => {
    out.mockRestore();
    err.mockRestore();
  };
  cloud = await startLocalCloud({ port: 0, dataDir: path.join(dir, 'data'), assembly: false, log: () => undefined, warn: () => undefined });
  cloud.runtime.register({ name: 'reporter-Ab12Cd34Ef56', assetDir: writeHandler(dir, 'code', HANDLER), handler: 'index.handler', runtime: 'nodejs22.x', timeoutSeconds: 10 });
});

afterAll(async () => {
  await cloud.stop();
  restore();
  rmSync(dir, { recursive: true, force: true });
});

test('one summary line per invocation, errors in full, full log in the data dir, EMF still reaches CloudWatch', async () => {
  const lambda = new LambdaClient({ endpoint: cloud.endpoint, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, requestHandler: new NodeHttpHandler() });
  const ok = await lambda.send(new InvokeCommand({ FunctionName: 'reporter-Ab12Cd34Ef56', Payload: Buffer.from('{"n":5}') }));
  const result = JSON.parse(Buffer.from(ok.Payload ?? []).toString()) as { node: string };
  expect(result.node).toMatch(/^v22\./); // the template's nodejs22.x, whatever Node runs the cloud
  const bad = await lambda.send(new InvokeCommand({ FunctionName: 'reporter-Ab12Cd34Ef56', Payload: Buffer.from('{"n":6,"fail":true}') }));
  expect(bad.FunctionError).toBe('Unhandled');
  lambda.destroy();

  const terminal = printed.join('').split('\n').filter((l) => l.includes('reporter'));
  expect(terminal).toEqual([
    expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} reporter {2}ok +\d+ ms {2}Handled 5 \(cold start\)$/),
    expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} reporter {2}FAILED +\d+ ms {2}RangeError: cannot handle 6$/),
  ]);
  expect(printed.join('')).toContain('    RangeError: cannot handle 6'); // the trace, in full
  expect(printed.join('')).not.toContain('batch done');

  await cloud.functionLogs.close(); // flushes the file (the cloud would on stop)
  const file = readFileSync(path.join(dir, 'data', 'logs', 'reporter-Ab12Cd34Ef56.log'), 'utf8');
  expect(file).toContain('"message":"batch done","n":5');
  expect(file).toContain('"Handled":6');
  expect(file).toMatch(/REPORT RequestId: \S+\tDuration: \d+ ms\tMemory Size: 128 MB\tCold start\n/);
  expect(file).toContain('"errorType":"RangeError"');

  const cw = new CloudWatchClient({ endpoint: cloud.endpoint, region: cloud.region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, requestHandler: new NodeHttpHandler() });
  const metrics = await cw.send(new ListMetricsCommand({ Namespace: 'LogsTest' }));
  cw.destroy();
  expect(metrics.Metrics?.map((m) => m.MetricName)).toContain('Handled');
});
