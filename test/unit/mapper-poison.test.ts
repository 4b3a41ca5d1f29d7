// A poison record never fails a mapper batch: every per-record problem — undecodable bytes, the
// schema, the event time, job code throwing, an invalid key, values the shuffle cannot carry — is
// rejected with a reason (or left out) and the batch completes. With unlimited retries (the
// default) a batch that failed on a record would block its shard for the stream's whole retention.
import { count, max, sum } from '../../functions/core/aggregates';
import { defineJob } from '../../functions/core/job';
import { tumbling } from '../../functions/core/windows';
import { MapperAttempt } from '../../functions/core/protocol/map-attempt';
import { decodeBundle } from '../../functions/core/shuffle-format';
import { SensorReading } from '../../events/schemas';
import { inputRecord } from '../support/factories';
import { MemoryOutput, MemoryShuffle, MemoryTable } from '../support/memory-ports';
import type { InputRecord } from '../../functions/core/input-decoding';

const NOW = 1_767_225_600_000;

const job = defineJob({
  name: 'poison-test',
  schema: SensorReading,
  eventTime: (r) => {
    if (r.sensorId === 'time-throws') throw new Error('no clock today');
    return r.ts;
  },
  map: (r) => {
    if (r.sensorId === 'map-throws') throw new Error('bad luck');
    if (r.sensorId === 'bad-key') return [['', { temperature: r.temperature }]];
    // Extra values the aggregates never read: a BigInt and a cycle cannot be serialized.
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    return [[r.sensorId, { temperature: r.temperature, big: BigInt(1), cycle, huge: 'x'.repeat(2_000_000) }]];
  },
  window: tumbling('1m'),
  aggregates: { n: count(), total: sum('temperature'), hi: max('temperature') },
});

it('every kind of bad record is rejected with a reason, the rest is emitted, and the batch completes', async () => {
  const ts = NOW - 60_000;
  const good = (sensorId: string) => ({ sensorId, ts, temperature: 20 });
  const records: InputRecord[] = [
    inputRecord(0, good('a')),
    { ...inputRecord(1, good('a')), data: Buffer.from('{not json') },
    inputRecord(2, { sensorId: 'a', ts, temperature: 'hot' }),
    inputRecord(3, good('time-throws')),
    inputRecord(4, good('map-throws')),
    inputRecord(5, good('bad-key')),
    inputRecord(6, { sensorId: 'b', ts: NOW + 86_400_000 * 30, temperature: 1 }),
    inputRecord(7, good('b')),
  ];
  const [table, shuffle, output] = [new MemoryTable(), new MemoryShuffle(1), new MemoryOutput()];
  const attempt = await MapperAttempt.begin(table, { job, shuffleBuckets: 2 }, 'shardId-000000000000', records[0]!.sequenceNumber, NOW);
  for (const record of records) attempt.add(record);
  const report = await attempt.finish({ state: table, shuffle, output });
  expect(report.stats).toMatchObject({ records: 8, events: 2, rejected: 6 });
  expect(output.records.rejected.map((r) => r.reason)).toEqual([
    expect.stringMatching(/JSON|json/),
    expect.stringMatching(/^schema: temperature/),
    expect.stringMatching(/^job code threw: no clock today/),
    expect.stringMatching(/^job code threw: bad luck/),
    expect.stringMatching(/invalid key/),
    expect.stringMatching(/^event time: /),
  ]);
  const partials = shuffle.logs[0]!.map(decodeBundle).flatMap((b) => b.partials);
  expect(partials.map((p) => [p.key, p.windows[0]?.raw?.values])).toEqual(
    expect.arrayContaining([
      ['a', { temperature: 20 }],
      ['b', { temperature: 20 }],
    ]),
  );
});
