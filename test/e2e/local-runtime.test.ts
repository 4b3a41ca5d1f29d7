// The embedded cloud's Lambda runtime: execution environments (processes on the Node binary of
// the function's runtime) with their own environment, warm reuse, timeouts, crashes, concurrency caps, async retries, fault injection
// and the Lambda invoke REST API driven by @aws-sdk/client-lambda.
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Faults } from '../../local/faults';
import { LambdaRuntime, LambdaServiceError } from '../../local/lambda/runtime';
import { lambdaService } from '../../local/lambda/service';
import { COLLECT_JS, startCollector, waitFor, writeHandler, type Collector } from '../fixtures/local/harness';

jest.setTimeout(60_000);

const ECHO = `
let calls = 0;
exports.handler = async (event, context) => {
  calls += 1;
  if (event.throw) throw new RangeError('bad input ' + calls);
  if (event.throwString) throw 'plain string';
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  if (event.throwLater) {
    setTimeout(() => { throw new TypeError('thrown from a timer'); }, 5);
    await new Promise((r) => setTimeout(r, 1000));
  }
  if (event.hog) {
    const hold = [];
    for (;;) hold.push(new Array(1e6).fill(hold.length));
  }
  return {
    calls,
    node: process.version,
    color: process.env.COLOR,
    fn: process.env.AWS_LAMBDA_FUNCTION_NAME,
    region: process.env.AWS_REGION,
    mem: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    endpoint: process.env.AWS_ENDPOINT_URL,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    memoryLimitInMB: context.memoryLimitInMB,
    arn: context.invokedFunctionArn,
    remaining: context.getRemainingTimeInMillis(),
  };
};
exports.callback = (event, context, cb) => { setTimeout(() => cb(null, { via: 'callback', n: event.n }), 10); };
`;

let dir: string;
let collector: Collector;
let faults: Faults;
let runtime: LambdaRuntime;
const warnings: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'riffle-runtime-'));
  collector = await startCollector();
  faults = new Faults();
  runtime = new LambdaRuntime({
    faults,
    log: 'silent',
    baseEnv: { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566', COLLECTOR_URL: collector.url },
    asyncRetryDelaysMs: [50, 50],
    warn: (line) => warnings.push(line),
  });
  const echo = writeHandler(dir, 'echo', ECHO);
  runtime.register({ name: 'red', assetDir: echo, handler: 'index.handler', environment: { COLOR: 'red' }, timeoutSeconds: 2, memoryMb: 256 });
  runtime.register({ name: 'blue', assetDir: echo, handler: 'index.handler', environment: { COLOR: 'blue' }, timeoutSeconds: 1 });
  runtime.register({ name: 'cb', assetDir: echo, handler: 'index.callback' });
  runtime.register({ name: 'capped', assetDir: echo, handler: 'index.handler', reservedConcurrency: 2, timeoutSeconds: 5 });
  runtime.register({ name: 'missing-export', assetDir: echo, handler: 'index.nope' });
  runtime.register({ name: 'node22', assetDir: echo, handler: 'index.handler', runtime: 'nodejs22.x', memoryMb: 128, timeoutSeconds: 20 });
});

afterAll(async () => {
  await runtime.stop();
  await collector.stop();
  rmSync(dir, { recursive: true, force: true });
});

function body(result: { payload: string }): Record<string, unknown> {
  return JSON.parse(result.payload) as Record<string, unknown>;
}

test('each function has its own environment, context and warm module state', async () => {
  const [r1, b1] = await Promise.all([runtime.invoke('red', {}), runtime.invoke('blue', {})]);
  const r2 = await runtime.invoke('red', {});
  expect(r1.ok && b1.ok && r2.ok).toBe(true);
  expect(body(r1)).toMatchObject({ color: 'red', fn: 'red', region: 'us-east-1', mem: '256', endpoint: 'http://127.0.0.1:4566' });
  expect(body(b1)).toMatchObject({ color: 'blue', fn: 'blue', mem: '128' });
  // Warm reuse: module-level state survives between invocations of the same environment.
  expect(body(r2)['calls']).toBe((body(r1)['calls'] as number) + 1);
  expect(body(r1)).toMatchObject({ requestId: r1.requestId, functionName: 'red', memoryLimitInMB: '256', arn: 'arn:aws:lambda:us-east-1:000000000000:function:red' });
  const remaining = body(r1)['remaining'] as number;
  expect(remaining).toBeGreaterThan(0);
  expect(remaining).toBeLessThanOrEqual(2000);
  // The host's environment is not shared with (or modified by) the functions.
  expect(process.env.COLOR).not.toBe('red');
  expect(runtime.resolve('arn:aws:lambda:us-east-1:000000000000:function:red')).toBe('red');
});

test('a nodejs22.x function runs on Node 22, whatever Node runs the cloud', async () => {
  const r = await runtime.invoke('node22', {});
  expect(r.ok).toBe(true);
  expect(String(body(r)['node'])).toMatch(/^v22\./);
});

test('a runtime whose Node binary is missing runs on the host Node, with one warning saying what to install', async () => {
  const echo = path.join(dir, 'echo');
  runtime.register({ name: 'old-a', assetDir: echo, handler: 'index.handler', runtime: 'nodejs18.x' });
  runtime.register({ name: 'old-b', assetDir: echo, handler: 'index.handler', runtime: 'nodejs18.x' });
  const [a, b] = await Promise.all([runtime.invoke('old-a', {}), runtime.invoke('old-b', {})]);
  expect(body(a)['node']).toBe(process.version);
  expect(body(b)['node']).toBe(process.version);
  expect(warnings.filter((w) => w.includes('nodejs18.x'))).toHaveLength(1);
  expect(warnings[0]).toMatch(/npm install --no-save node-\S+@18/);
});

test('an error thrown outside the handler kills the environment with its type', async () => {
  const r = await runtime.invoke('node22', { throwLater: true });
  expect(r.ok).toBe(false);
  expect(r.error).toMatchObject({ errorType: 'TypeError' });
  expect(r.error?.errorMessage).toContain('thrown from a timer');
  expect((await runtime.invoke('node22', {})).ok).toBe(true);
});

test('a function over its MemorySize dies with Runtime.OutOfMemory', async () => {
  const r = await runtime.invoke('node22', { hog: true });
  expect(r.ok).toBe(false);
  expect(r.error?.errorType).toBe('Runtime.OutOfMemory');
  expect((await runtime.invoke('node22', {})).ok).toBe(true);
});

test('callback-style handlers are supported', async () => {
  const r = await runtime.invoke('cb', { n: 7 });
  expect(body(r)).toEqual({ via: 'callback', n: 7 });
});

test('a thrown error is an Unhandled function error and the environment is reused', async () => {
  const before = body(await runtime.invoke('red', {}))['calls'] as number;
  const err = await runtime.invoke('red', { throw: true });
  expect(err.ok).toBe(false);
  expect(err.functionError).toBe('Unhandled');
  expect(body(err)).toMatchObject({ errorType: 'RangeError', errorMessage: `bad input ${before + 1}` });
  const s = await runtime.invoke('red', { throwString: true });
  expect(body(s)).toMatchObject({ errorType: 'string', errorMessage: 'plain string' });
  const after = await runtime.invoke('red', {});
  expect(body(after)['calls']).toBe(before + 3);
});

test('a handler that cannot be loaded reports Runtime.HandlerNotFound', async () => {
  const r = await runtime.invoke('missing-export', {});
  expect(r.ok).toBe(false);
  expect(r.error?.errorType).toBe('Runtime.HandlerNotFound');
});

test('a timed-out invocation is terminated, counted, and the next one gets a fresh environment', async () => {
  const warm = body(await runtime.invoke('blue', {}))['calls'] as number;
  expect(warm).toBeGreaterThan(0);
  const timeoutsBefore = runtime.stats()['blue']?.timeouts ?? 0;
  const t = await runtime.invoke('blue', { sleepMs: 5000 });
  expect(t.ok).toBe(false);
  expect(t.timedOut).toBe(true);
  expect(t.error?.errorType).toBe('Sandbox.Timedout');
  expect(t.error?.errorMessage).toContain('Task timed out after 1.00 seconds');
  expect(t.durationMs).toBeLessThan(4000);
  expect(runtime.stats()['blue']?.timeouts).toBe(timeoutsBefore + 1);
  const next = await runtime.invoke('blue', {});
  expect(next.ok).toBe(true);
  expect(body(next)['calls']).toBe(1); // module state was lost with the terminated worker
});

test('reserved concurrency caps the pool; extra invocations queue', async () => {
  const results = await Promise.all(Array.from({ length: 6 }, () => runtime.invoke('capped', { sleepMs: 150 })));
  expect(results.every((r) => r.ok)).toBe(true);
  const s = runtime.stats()['capped'];
  expect(s?.maxConcurrent).toBe(2);
  expect(s?.workers).toBeLessThanOrEqual(2);
  // Each environment is a process of its own, alive and listed.
  const pids = runtime.processIds();
  expect(new Set(pids).size).toBe(pids.length);
  expect(pids).not.toContain(process.pid);
  for (const pid of pids) expect(process.kill(pid, 0)).toBe(true);
});

test('payloads over 6 MB are rejected like Lambda', async () => {
  const big = JSON.stringify({ x: 'a'.repeat(6 * 1024 * 1024) });
  await expect(runtime.invoke('red', big)).rejects.toMatchObject({ code: 'RequestTooLargeException', statusCode: 413 });
  await expect(runtime.invoke('nope', {})).rejects.toBeInstanceOf(LambdaServiceError);
});

describe('asynchronous invocation', () => {
  const FLAKY = `${COLLECT_JS}
exports.handler = async (event, context) => {
  await collect({ Records: [] }, context, event.tag);
  if (event.failTimes > 0) {
    const fs = require('node:fs');
    const f = process.env.COUNTER_FILE + '.' + event.tag;
    const n = fs.existsSync(f) ? Number(fs.readFileSync(f, 'utf8')) : 0;
    fs.writeFileSync(f, String(n + 1));
    if (n < event.failTimes) throw new Error('flaky ' + n);
  }
  return 'ok';
};`;

  beforeAll(() => {
    const flaky = writeHandler(dir, 'flaky', FLAKY);
    runtime.register({ name: 'flaky', assetDir: flaky, handler: 'index.handler', environment: { COUNTER_FILE: path.join(dir, 'counter') } });
  });

  test('Event invocations are retried twice on error, then dropped', async () => {
    runtime.invokeAsync('flaky', { tag: 'two-failures', failTimes: 2 });
    runtime.invokeAsync('flaky', { tag: 'always', failTimes: 99 });
    await runtime.drainAsync();
    const calls = (tag: string) => collector.invocations.filter((i) => i.note === tag).length;
    expect(calls('two-failures')).toBe(3); // 1 + 2 retries, the third succeeds
    expect(calls('always')).toBe(3); // 1 + 2 retries, then dropped
    const s = runtime.stats()['flaky'];
    expect(s?.asyncRetries).toBe(4);
    expect(s?.asyncDropped).toBe(1);
  });
});

describe('fault injection', () => {
  const SIDE_EFFECT = `${COLLECT_JS}
exports.handler = async (event, context) => {
  await collect({ Records: [] }, context, event.tag + ':1');
  if (event.two) await collect({ Records: [] }, context, event.tag + ':2');
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  return { done: event.tag };
};`;

  beforeAll(() => {
    const d = writeHandler(dir, 'side', SIDE_EFFECT);
    runtime.register({ name: 'side', assetDir: d, handler: 'index.handler', timeoutSeconds: 30 });
    // A 1 s Timeout lets the timeout fault wait for the real deadline: the handler always runs to
    // its end first, however slow the machine (a fixed 200 ms cut raced the cold start).
    runtime.register({ name: 'side-1s', assetDir: d, handler: 'index.handler', timeoutSeconds: 1 });
  });

  const notes = () => collector.invocations.map((i) => i.note);

  test('throwOn fails the Nth invocation before the handler runs', async () => {
    faults.throwOn('side', { invocation: 2 });
    const a = await runtime.invoke('side', { tag: 't-a' });
    const b = await runtime.invoke('side', { tag: 't-b' });
    const c = await runtime.invoke('side', { tag: 't-c' });
    expect([a.ok, b.ok, c.ok]).toEqual([true, false, true]);
    expect(b.error?.errorType).toBe('InjectedFault');
    expect(notes()).toContain('t-a:1');
    expect(notes()).not.toContain('t-b:1');
  });

  test('crashAfter (default) applies the side effects and then loses the result', async () => {
    faults.crashAfter('side', { invocation: 1 });
    const r = await runtime.invoke('side', { tag: 'crash-after' });
    expect(r.ok).toBe(false);
    expect(r.error?.errorType).toBe('Runtime.ExitError');
    expect(r.error?.errorMessage).toContain('injected crash after the handler completed');
    expect(notes()).toContain('crash-after:1');
    expect((await runtime.invoke('side', { tag: 'after-crash' })).ok).toBe(true);
  });

  test('crashAfter afterCalls dies mid-handler, after the Nth completed call', async () => {
    faults.crashAfter('side', { invocation: 1, afterCalls: 1 });
    const r = await runtime.invoke('side', { tag: 'mid', two: true });
    expect(r.ok).toBe(false);
    expect(r.error?.errorMessage).toContain('after 1 completed call');
    expect(notes()).toContain('mid:1');
    expect(notes()).not.toContain('mid:2');
  });

  test('crashAfter afterMs kills the worker while the handler is still working', async () => {
    faults.crashAfter('side', { invocation: 1, afterMs: 100 });
    const r = await runtime.invoke('side', { tag: 'slow', sleepMs: 3000 });
    expect(r.ok).toBe(false);
    expect(r.durationMs).toBeLessThan(2500);
    expect(r.error?.errorMessage).toContain('injected crash 100 ms');
  });

  test('timeout makes an invocation time out (the handler ran, the worker is terminated)', async () => {
    faults.timeout('side-1s', { invocation: 1 });
    const r = await runtime.invoke('side-1s', { tag: 'to' });
    expect(r.timedOut).toBe(true);
    expect(r.error?.errorMessage).toContain('Task timed out after 1.00 seconds');
    expect(notes()).toContain('to:1');
    expect(faults.fired().map((f) => f.kind)).toEqual(expect.arrayContaining(['throw', 'crashAfterHandler', 'crashAfterCalls', 'crashAfterMs', 'timeout']));
  });
});

describe('Lambda REST API (LocalService)', () => {
  let server: Server;
  let client: LambdaClient;

  beforeAll(async () => {
    const service = lambdaService(runtime);
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (!service.matches(req)) {
          res.statusCode = 404;
          res.end();
          return;
        }
        void service.handle(req, res, Buffer.concat(chunks));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    client = new LambdaClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      requestHandler: new NodeHttpHandler(),
    });
  });

  afterAll(async () => {
    client.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  test('InvokeCommand RequestResponse, function errors, Event, DryRun and not-found', async () => {
    const ok = await client.send(new InvokeCommand({ FunctionName: 'red', Payload: Buffer.from('{}') }));
    expect(ok.StatusCode).toBe(200);
    expect(ok.FunctionError).toBeUndefined();
    expect(JSON.parse(Buffer.from(ok.Payload ?? []).toString())).toMatchObject({ color: 'red' });

    const bad = await client.send(new InvokeCommand({ FunctionName: 'arn:aws:lambda:us-east-1:000000000000:function:red', Payload: Buffer.from('{"throw":true}'), LogType: 'Tail' }));
    expect(bad.FunctionError).toBe('Unhandled');
    expect(JSON.parse(Buffer.from(bad.Payload ?? []).toString())).toMatchObject({ errorType: 'RangeError' });
    expect(typeof bad.LogResult).toBe('string');

    const ev = await client.send(new InvokeCommand({ FunctionName: 'side', InvocationType: 'Event', Payload: Buffer.from('{"tag":"rest-event"}') }));
    expect(ev.StatusCode).toBe(202);
    await waitFor(() => collector.invocations.some((i) => i.note === 'rest-event:1'), { what: 'async REST invocation' });

    const dry = await client.send(new InvokeCommand({ FunctionName: 'red', InvocationType: 'DryRun' }));
    expect(dry.StatusCode).toBe(204);

    await expect(client.send(new InvokeCommand({ FunctionName: 'does-not-exist', Payload: Buffer.from('{}') }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});
