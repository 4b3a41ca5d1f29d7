// The local cloud's durable journal (local/durable/journal.ts) and state files
// (local/durable/state-file.ts): appends survive reopening, a torn last frame — a write the
// process was killed in, never acknowledged — is detected at every cut point and dropped (and cut
// off so later appends are readable), a zero-filled or corrupted tail is rejected, 'commit'
// appends share fsyncs (group commit), compaction and truncation keep exactly what they are given.
// Property runs use the suite's fixed fast-check seed (test/support/fast-check-seed.ts).
import fc from 'fast-check';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeJournal, encodeFrame, Journal, readJournal } from '../../local/durable/journal';
import { writeStateFile, writeStateFileSync } from '../../local/durable/state-file';

// The module object itself (not an import namespace copy), so a spy sees the journal's calls.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const realFs = require('node:fs') as typeof fs;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'riffle-journal-'));
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

const text = (entries: readonly Buffer[]): string[] => entries.map((e) => e.toString('utf8'));

describe('Journal', () => {
  it('returns every appended entry, in order, after reopening', async () => {
    const file = path.join(dir, 'j.log');
    const { journal, recovered } = Journal.open(file, { fsync: 'never' });
    expect(recovered.entries).toEqual([]);
    await journal.append([Buffer.from('a'), Buffer.from('')]);
    await journal.append([Buffer.from('b'), Buffer.from('c'.repeat(70_000))]);
    await journal.close();
    const again = Journal.open(file, { fsync: 'never' });
    expect(text(again.recovered.entries)).toEqual(['a', '', 'b', 'c'.repeat(70_000)]);
    expect(again.recovered).toMatchObject({ frames: 2, droppedBytes: 0 });
    await again.journal.append([Buffer.from('d')]);
    await again.journal.close();
    expect(text(readJournal(file).entries)).toEqual(['a', '', 'b', 'c'.repeat(70_000), 'd']);
  });

  it('drops a torn last frame at every cut point, and appends after it stay readable', async () => {
    const file = path.join(dir, 'torn.log');
    const whole = Buffer.concat([encodeFrame([Buffer.from('first'), Buffer.from('second')]), encodeFrame([Buffer.from('third')])]);
    const firstFrame = encodeFrame([Buffer.from('first'), Buffer.from('second')]).length;
    for (let cut = firstFrame; cut < whole.length; cut++) {
      fs.writeFileSync(file, whole.subarray(0, cut));
      const { journal, recovered } = Journal.open(file, { fsync: 'never' });
      expect(text(recovered.entries)).toEqual(['first', 'second']);
      expect(recovered.droppedBytes).toBe(cut - firstFrame);
      await journal.append([Buffer.from('after')]);
      await journal.close();
      expect(text(readJournal(file).entries)).toEqual(['first', 'second', 'after']);
    }
  });

  it('recovers exactly the complete frames of any prefix of a journal (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        (appends, cutSeed) => {
          const frames = appends.map((a) => encodeFrame(a.map((e) => Buffer.from(e))));
          const all = Buffer.concat(frames);
          const cut = cutSeed % (all.length + 1);
          const result = decodeJournal(all.subarray(0, cut));
          let complete = 0;
          let bytes = 0;
          while (complete < frames.length && bytes + (frames[complete] as Buffer).length <= cut) bytes += (frames[complete++] as Buffer).length;
          const expected = appends.slice(0, complete).flat().map((e) => Buffer.from(e));
          expect(result.entries).toEqual(expected);
          expect(result.validBytes).toBe(bytes);
          expect(result.droppedBytes).toBe(cut - bytes);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('rejects a zero-filled tail and a frame whose bytes were damaged', () => {
    const good = encodeFrame([Buffer.from('kept')]);
    const zeros = Buffer.concat([good, Buffer.alloc(4096)]);
    expect(decodeJournal(zeros)).toMatchObject({ frames: 1, validBytes: good.length, droppedBytes: 4096 });
    const damaged = Buffer.concat([good, encodeFrame([Buffer.from('lost')])]);
    damaged.writeUInt8(damaged.readUInt8(damaged.length - 2) ^ 0x01, damaged.length - 2);
    expect(text(decodeJournal(damaged).entries)).toEqual(['kept']);
    const badLength = Buffer.concat([good, encodeFrame([Buffer.from('lost')])]);
    badLength.writeUInt32LE(0xfffffff0, good.length);
    expect(decodeJournal(badLength)).toMatchObject({ frames: 1, validBytes: good.length });
  });

  it("'commit' appends resolve after an fsync, and concurrent appends share fsyncs", async () => {
    const spy = jest.spyOn(realFs, 'fsync');
    const journal = Journal.create(path.join(dir, 'group.log'), { fsync: 'commit' });
    await Promise.all(Array.from({ length: 100 }, (_, i) => journal.append([Buffer.from(`r${i}`)])));
    // One fsync for the first append, one for the 99 that arrived while it ran.
    expect(spy.mock.calls.length).toBeLessThanOrEqual(2);
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(1);
    await journal.close();
    expect(readJournal(journal.file).entries).toHaveLength(100);
  });

  it("'never' never fsyncs; an interval policy fsyncs in the background", async () => {
    const spy = jest.spyOn(realFs, 'fsync');
    const never = Journal.create(path.join(dir, 'never.log'), { fsync: 'never' });
    await never.append([Buffer.from('x')]);
    await never.close();
    expect(spy).not.toHaveBeenCalled();
    const interval = Journal.create(path.join(dir, 'interval.log'), { fsync: { intervalMs: 10 } });
    await interval.append([Buffer.from('y')]); // resolves without waiting for an fsync
    for (let i = 0; i < 200 && spy.mock.calls.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(spy).toHaveBeenCalled();
    await interval.close();
  });

  it('compacts atomically (rewrite), truncates and removes', async () => {
    const file = path.join(dir, 'compact.log');
    const { journal } = Journal.open(file, { fsync: 'commit' });
    await journal.append([Buffer.from('old-1')]);
    const pending = journal.append([Buffer.from('old-2')]);
    journal.rewrite([Buffer.from('live')]);
    await pending;
    await journal.append([Buffer.from('new')]);
    expect(text(readJournal(file).entries)).toEqual(['live', 'new']);
    journal.truncate();
    expect(readJournal(file)).toMatchObject({ entries: [], validBytes: 0 });
    await journal.append([Buffer.from('again')]);
    expect(text(readJournal(file).entries)).toEqual(['again']);
    await journal.remove();
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(() => journal.append([Buffer.from('x')])).toThrow(/closed/);
  });

  it('create refuses an existing file (a segment name is never reused)', () => {
    const file = path.join(dir, 'once.log');
    Journal.create(file, { fsync: 'never' });
    expect(() => Journal.create(file, { fsync: 'never' })).toThrow(/EEXIST/);
  });
});

describe('state files', () => {
  it('replace the whole content atomically and leave no temporary files', async () => {
    const file = path.join(dir, 'nested', 'state.json');
    writeStateFileSync(file, '{"v":1}');
    await writeStateFile(file, '{"v":2}');
    expect(fs.readFileSync(file, 'utf8')).toBe('{"v":2}');
    writeStateFileSync(file, Buffer.from('{"v":3}'), { fsync: false });
    expect(fs.readFileSync(file, 'utf8')).toBe('{"v":3}');
    expect(fs.readdirSync(path.dirname(file))).toEqual(['state.json']);
  });
});
