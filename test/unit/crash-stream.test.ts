// The crash verifier's oracle input (scripts/lib/verify/crash-stream.ts) on a hand-made stream:
// records at logged positions are the producer's; an unacknowledged copy left by a kill mid-
// PutRecords becomes a duplicate of the record it carries, in the round of the records around it
// (not the round of an identical record sent earlier); a record matching nothing is unknown; a
// producer record that never reached the stream is missing; each round stays one range of `n`.
import type { ProducedRecord } from '../../scripts/lib/generators';
import { streamLog, type LoggedRecord, type StoredRecord } from '../../scripts/lib/verify/crash-stream';
import type { Workload } from '../../scripts/lib/verify/workload';

const event = (sensorId: string, ts: number) => Buffer.from(JSON.stringify({ sensorId, ts, temperature: 20 }));
const T = Date.parse('2026-01-01T00:00:00Z');

// Round 0: n0 (ok), n1 (bad); round 1: n2 (duplicate of n0, same bytes), n3 (ok), n4 (late).
const r0: ProducedRecord[] = [
  { n: 0, partitionKey: 's1', data: event('s1', T), flag: 'ok', eventTime: T },
  { n: 1, partitionKey: 's2', data: Buffer.from('{"sensorId":'), flag: 'bad', badKind: 'malformed-json' },
];
const r1: ProducedRecord[] = [
  { n: 2, partitionKey: 's1', data: event('s1', T), flag: 'duplicate', eventTime: T, duplicateOf: 0 },
  { n: 3, partitionKey: 's3', data: event('s3', T + 1), flag: 'ok', eventTime: T + 1 },
  { n: 4, partitionKey: 's4', data: event('s4', T - 9e6), flag: 'late', eventTime: T - 9e6 },
];
const workload: Workload = {
  rounds: [
    { index: 0, firstN: 0, endN: 2, records: r0 },
    { index: 1, firstN: 2, endN: 5, records: r1 },
  ],
  counts: { records: 5, ok: 2, late: 1, duplicate: 1, bad: 1, hot: 0 },
};

const logged = (r: ProducedRecord, sequenceNumber: string): LoggedRecord => ({
  n: r.n,
  flag: r.flag,
  ...(r.duplicateOf !== undefined ? { duplicateOf: r.duplicateOf } : {}),
  partitionKey: r.partitionKey,
  shardId: 'shard-0',
  sequenceNumber,
  subSequenceNumber: 0,
  aggregated: false,
  ...(r.eventTime !== undefined ? { eventTime: r.eventTime } : {}),
  ...(r.flag === 'bad' ? { payloadBase64: r.data.toString('base64') } : { payload: r.data.toString('utf8') }),
});
const stored = (r: ProducedRecord | { partitionKey: string; data: Buffer }, sequenceNumber: string): StoredRecord => ({ shardId: 'shard-0', sequenceNumber, partitionKey: r.partitionKey, data: r.data });
const [n0, n1] = r0 as [ProducedRecord, ProducedRecord];
const [n2, n3, n4] = r1 as [ProducedRecord, ProducedRecord, ProducedRecord];

describe('streamLog', () => {
  // Round 1 was sent as one call that a kill cut off after storing it (seq 30–32), then again (40–42).
  const stream = [stored(n0, '10'), stored(n1, '20'), stored(n2, '30'), stored(n3, '31'), stored(n4, '32'), stored(n2, '40'), stored(n3, '41'), stored(n4, '42')];
  const accepted = new Map([n0, n1].map((r, i) => [`shard-0/${(i + 1) * 10}`, logged(r, String((i + 1) * 10))]));
  for (const [i, r] of [n2, n3, n4].entries()) accepted.set(`shard-0/${40 + i}`, logged(r, String(40 + i)));

  it('turns the unacknowledged copies into duplicates of what they carry, in their own round', () => {
    const log = streamLog(stream, workload, accepted);
    expect(log.counts).toEqual({ streamRecords: 8, producerRecords: 5, logged: 5, retryCopies: 3, unknown: 0, missing: 0 });
    const lines = log.lines.map((l) => JSON.parse(l) as LoggedRecord);
    expect(lines.map((l) => [l.n, l.sequenceNumber, l.flag, l.duplicateOf ?? null])).toEqual([
      [0, '10', 'ok', null],
      [1, '20', 'bad', null],
      // Round 1: n2 (a producer duplicate of n0) logged at 40, its copy at 30 re-sends n0's bytes.
      [2, '40', 'duplicate', 0],
      [3, '30', 'duplicate', 0],
      [4, '41', 'ok', null],
      [5, '31', 'duplicate', 4],
      [6, '42', 'late', null],
      [7, '32', 'duplicate', 6],
    ]);
    expect(log.rounds).toEqual([
      { index: 0, firstN: 0, endN: 2 },
      { index: 1, firstN: 2, endN: 8 },
    ]);
    // The copy keeps the stream's bytes and the producer's event time.
    expect(lines[7]).toMatchObject({ payload: n4.data.toString('utf8'), eventTime: n4.eventTime, shardId: 'shard-0' });
  });

  it('reports records matching no producer record, and producer records missing from the stream', () => {
    const strange = stored({ partitionKey: 's9', data: Buffer.from('{"who":"knows"}') }, '50');
    const log = streamLog([...stream.filter((s) => s.sequenceNumber !== '42' && s.sequenceNumber !== '32'), strange], workload, accepted);
    expect(log.counts).toMatchObject({ streamRecords: 7, logged: 4, retryCopies: 2, unknown: 1, missing: 1 });
    expect(log.unknownExamples).toEqual(['shard-0/50']);
    expect(log.missingExamples).toEqual([4]);
  });
});
