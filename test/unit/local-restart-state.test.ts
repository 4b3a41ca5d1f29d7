// What the embedded cloud's schedules and event source mappings keep across a crash: a schedule
// that should have fired while the cloud was down fires once at start (and only then), and an
// event source mapping's origin (what LATEST means after a restart) is on disk the moment it is
// fixed, with checkpoint advances following within the coalescing delay.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Scheduler, type ScheduledRule } from '../../local/deploy/schedule';
import { CheckpointStore } from '../../local/esm/checkpoints';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'riffle-restart-state-'));
});
afterEach(() => {
  jest.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const rule = (name: string, expression: string): ScheduledRule => ({ name, arn: `arn:aws:events:us-east-1:000000000000:rule/${name}`, expression, targets: [{ functionName: `fn-${name}` }] });

describe('Scheduler after downtime', () => {
  it('fires once at start the rules that should have fired while the cloud was down', () => {
    const stateFile = path.join(dir, 'schedules.json');
    const now = Date.now();
    writeFileSync(
      stateFile,
      JSON.stringify({
        rules: {
          missed: { expression: 'rate(1 minute)', since: now - 10 * 60_000 }, // ten periods missed: one catch-up
          recent: { expression: 'rate(1 minute)', since: now - 10_000 },
          changed: { expression: 'rate(5 minutes)', since: now - 3_600_000 },
          hourly: { expression: 'cron(0 * * * ? *)', since: now - 2 * 3_600_000 },
        },
      }),
    );
    const calls: string[] = [];
    const scheduler = new Scheduler({ region: 'us-east-1', accountId: '000000000000', invokeAsync: (fn) => calls.push(fn), stateFile });
    for (const r of [rule('missed', 'rate(1 minute)'), rule('recent', 'rate(1 minute)'), rule('changed', 'rate(1 minute)'), rule('fresh', 'rate(1 minute)'), rule('hourly', 'cron(0 * * * ? *)')]) {
      scheduler.add(r);
    }
    scheduler.start();
    scheduler.stop();
    expect(calls.sort()).toEqual(['fn-hourly', 'fn-missed']);
    const saved = (JSON.parse(readFileSync(stateFile, 'utf8')) as { rules: Record<string, { expression: string; since: number }> }).rules;
    expect(saved.missed?.since).toBeGreaterThanOrEqual(now); // the catch-up counts as its last firing
    expect(saved.recent?.since).toBe(now - 10_000);
    expect(saved.fresh?.expression).toBe('rate(1 minute)'); // first seen: downtime from now on counts
    expect(saved.changed?.expression).toBe('rate(1 minute)');
    expect(scheduler.list().find((r) => r.name === 'missed')?.fired).toBe(1);
  });

  it('measures downtime on the scaled schedule clock and persists every firing', async () => {
    const stateFile = path.join(dir, 'schedules.json');
    writeFileSync(stateFile, JSON.stringify({ rules: { tick: { expression: 'rate(1 minute)', since: Date.now() - 1_000 } } }));
    const calls: number[] = [];
    const scheduler = new Scheduler({ region: 'us-east-1', accountId: '000000000000', timeScale: 600, invokeAsync: () => calls.push(Date.now()), stateFile });
    scheduler.add(rule('tick', 'rate(1 minute)'));
    scheduler.start(); // 1 s × 600 = 10 minutes of schedule time: missed
    expect(calls).toHaveLength(1);
    for (let i = 0; i < 100 && calls.length < 2; i++) await new Promise((r) => setTimeout(r, 20)); // next firing 60 s / 600 = 100 ms later
    scheduler.stop();
    expect(calls.length).toBeGreaterThanOrEqual(2);
    const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { rules: { tick: { since: number } } };
    expect(saved.rules.tick.since).toBeGreaterThanOrEqual(calls[1] ?? Infinity);
  });
});

describe('event source mapping checkpoints', () => {
  it('write the origin at once and advances within the coalescing delay', async () => {
    const store = new CheckpointStore('uuid-1', 'arn:aws:kinesis:us-east-1:000000000000:stream/in', dir);
    const origin = store.originMs();
    const file = path.join(dir, 'esm', 'uuid-1.json');
    expect((JSON.parse(readFileSync(file, 'utf8')) as { originMs: number }).originMs).toBe(origin); // a kill right now keeps it
    store.advance('shardId-000000000000', '49590338271490256608559692538361571095921575989136588898');
    const deadline = Date.now() + 3_000;
    let saved: { shards: Record<string, { sequenceNumber?: string }> } = { shards: {} };
    while (Date.now() < deadline) {
      saved = JSON.parse(readFileSync(file, 'utf8')) as typeof saved;
      if (saved.shards['shardId-000000000000']) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(saved.shards['shardId-000000000000']?.sequenceNumber).toBe('49590338271490256608559692538361571095921575989136588898');
    await store.settle();
    const reopened = new CheckpointStore('uuid-1', 'arn:aws:kinesis:us-east-1:000000000000:stream/in', dir);
    expect(reopened.hasOrigin()).toBe(true);
    expect(reopened.originMs()).toBe(origin);
  });

  it('say so when a checkpoint file cannot be read', () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const file = path.join(dir, 'esm', 'uuid-2.json');
    new CheckpointStore('uuid-2', 'arn:s', dir).flush();
    writeFileSync(file, '{"uuid":');
    const store = new CheckpointStore('uuid-2', 'arn:s', dir);
    expect(store.hasOrigin()).toBe(false);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('unreadable checkpoint'));
  });
});
