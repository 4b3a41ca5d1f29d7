// Accepted asynchronous Lambda invocations survive a crash (local/lambda/async-journal.ts through
// LambdaRuntime): the journal as it is on disk the moment invokeAsync's `durable` resolved — the
// moment the 202 goes out — is what a killed process leaves; a runtime started on it runs every
// unsettled event again (at least once, as on AWS), keeps the retry budget already spent, drops a
// torn tail, parks events whose function is not deployed yet, and leaves nothing to run twice.
import { appendFileSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { encodeFrame, readJournal } from '../../local/durable/journal';
import { LambdaRuntime } from '../../local/lambda/runtime';
import { writeHandler } from '../fixtures/local/harness';

jest.setTimeout(60_000);

// Each attempt appends "<tag>" to a file named by the event's tag; fails while event.fail > attempts so far.
const HANDLER = `
const fs = require('node:fs');
const path = require('node:path');
exports.handler = async (event) => {
  const file = path.join(process.env.OUT_DIR, event.tag);
  const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').length : 0;
  fs.appendFileSync(file, 'x');
  if (before < (event.fail ?? 0)) throw new Error('failing attempt ' + (before + 1));
  return 'ok';
};`;

let dir: string;
let out: string;
let code: string;
const runtimes: LambdaRuntime[] = [];

function runtime(journal: string): LambdaRuntime {
  const r = new LambdaRuntime({ log: 'silent', asyncJournal: journal, asyncRetryDelaysMs: [20, 20] });
  r.register({ name: 'worker', assetDir: code, handler: 'index.handler', environment: { OUT_DIR: out } });
  runtimes.push(r);
  return r;
}

const attempts = (tag: string): number => {
  try {
    return readFileSync(path.join(out, tag), 'utf8').length;
  } catch {
    return 0;
  }
};

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'riffle-async-journal-'));
  out = path.join(dir, 'out');
  code = writeHandler(dir, 'code', HANDLER);
  writeHandler(dir, 'out', '', '.keep');
});

afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.stop()));
  rmSync(dir, { recursive: true, force: true });
});

test('events acknowledged before a kill run again after a restart, and settled ones never do', async () => {
  const journal = path.join(dir, 'a', 'async-events.journal');
  const first = runtime(journal);
  for (const tag of ['e1', 'e2', 'e3']) await first.invokeAsync('worker', { tag }).durable;
  const atKill = path.join(dir, 'killed.journal');
  copyFileSync(journal, atKill); // the disk at the instant of the kill: three accepted events
  appendFileSync(atKill, encodeFrame([Buffer.from('{"op":"q","id":"torn"}')]).subarray(0, 11)); // and a write the kill tore
  await first.drainAsync();
  await first.stop();
  expect(['e1', 'e2', 'e3'].map(attempts)).toEqual([1, 1, 1]);
  expect(readJournal(journal).entries).toEqual([]); // all settled: the live journal is empty

  const second = runtime(atKill);
  expect(second.resumeAsync()).toBe(3);
  await second.drainAsync();
  expect(['e1', 'e2', 'e3'].map(attempts)).toEqual([2, 2, 2]); // at least once: ran again after the "crash"
  await second.stop();
  const third = runtime(atKill);
  expect(third.resumeAsync()).toBe(0); // settled in the second runtime: never again
});

test('a restarted runtime keeps the retry budget already spent, and a stop keeps pending retries', async () => {
  const journal = path.join(dir, 'b', 'async-events.journal');
  const first = new LambdaRuntime({ log: 'silent', asyncJournal: journal, asyncRetryDelaysMs: [60_000] });
  runtimes.push(first);
  first.register({ name: 'worker', assetDir: code, handler: 'index.handler', environment: { OUT_DIR: out } });
  await first.invokeAsync('worker', { tag: 'flaky', fail: 2 }).durable;
  for (let i = 0; i < 200 && attempts('flaky') < 1; i++) await new Promise((r) => setTimeout(r, 25));
  await new Promise((r) => setTimeout(r, 100)); // the failed attempt is recorded; its retry waits 60 s
  await first.stop(); // a graceful stop keeps the pending retry in the journal
  expect(attempts('flaky')).toBe(1);

  const second = runtime(journal);
  expect(second.resumeAsync()).toBe(1);
  await second.drainAsync();
  // Attempt 2 fails, attempt 3 (the second and last retry) succeeds: 3 attempts in all, not 1 + 3.
  expect(attempts('flaky')).toBe(3);
  expect(second.stats()['worker']).toMatchObject({ asyncRetries: 1, asyncDropped: 0 });
});

test('events whose function is not deployed wait in the journal until it is', async () => {
  const journal = path.join(dir, 'c', 'async-events.journal');
  const first = runtime(journal);
  await first.invokeAsync('worker', { tag: 'later', fail: 99 }).durable;
  const atKill = path.join(dir, 'c', 'killed.journal');
  copyFileSync(journal, atKill);
  await first.stop();

  const bare = new LambdaRuntime({ log: 'silent', asyncJournal: atKill, asyncRetryDelaysMs: [20, 20] });
  runtimes.push(bare);
  expect(bare.resumeAsync()).toBe(0);
  expect(bare.parkedAsync()).toBe(1);
  expect(bare.pendingWork()).toBe(0); // a parked event does not keep the cloud busy
  bare.register({ name: 'worker', assetDir: code, handler: 'index.handler', environment: { OUT_DIR: out } });
  const before = attempts('later');
  expect(bare.resumeAsync()).toBe(1);
  await bare.drainAsync();
  expect(attempts('later')).toBeGreaterThan(before);
  expect(readdirSync(path.join(dir, 'c')).sort()).toEqual(['async-events.journal', 'killed.journal']);
});
