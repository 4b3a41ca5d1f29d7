// The pure parts of `npm run query`: partition pruning by key, JSON-lines repair, output formats,
// which views a statement reads, the Athena form of a query, and the round-trip comparison that
// the e2e tests and `npm run localstack:e2e` rely on (it must catch wrong results).
import { resultsSchema } from '../../infra/results-schema';
import { formatCsv, formatJson, formatTable, plainValue, referencedKinds, type QueryResult } from '../../scripts/lib/duckdb';
import { keyMayMatch, normalizeJsonLines, partitionOf, splitConcatenated } from '../../scripts/lib/s3-cache';
import { athenaSql } from '../../scripts/query';
import { checkRoundTrip, type SentRecord } from '../../scripts/localstack-e2e';

const H = 3_600_000;
const day = Date.parse('2026-03-04T00:00:00Z');

describe('partition pruning by key', () => {
  it('reads job, dt and hour from Riffle keys and ignores what is not a real partition', () => {
    expect(partitionOf('results/job=a/dt=2026-03-04/hour=05/x.gz')).toEqual({ job: 'a', fromMs: day + 5 * H, toMs: day + 6 * H });
    expect(partitionOf('results/job=a/dt=2026-03-04/')).toEqual({ job: 'a', fromMs: day, toMs: day + 24 * H });
    expect(partitionOf('results/job=a/dt=!{partitionKeyFromQuery:dt}/hour=!{partitionKeyFromQuery:hour}/2026/03/04/05/f')).toEqual({ job: 'a' });
    expect(partitionOf('results/dt=2026-02-30/hour=05/f')).toEqual({}); // no Feb 30
    expect(partitionOf('results/dt=2026-03-04/hour=24/f')).toEqual({ fromMs: day, toMs: day + 24 * H });
  });

  it('skips a key only when its partition proves no row can match', () => {
    const filter = { job: 'a', sinceMs: day + 2 * H, untilMs: day + 4 * H };
    expect(keyMayMatch('results/job=a/dt=2026-03-04/hour=02/f', filter)).toBe(true);
    expect(keyMayMatch('results/job=a/dt=2026-03-04/hour=03/f', filter)).toBe(true);
    expect(keyMayMatch('results/job=a/dt=2026-03-04/hour=04/f', filter)).toBe(false); // until is exclusive
    expect(keyMayMatch('results/job=a/dt=2026-03-04/hour=01/f', filter)).toBe(false);
    expect(keyMayMatch('results/job=b/dt=2026-03-04/hour=02/f', filter)).toBe(false);
    expect(keyMayMatch('results/job=a/dt=2026-03-03/hour=23/f', filter)).toBe(false);
    expect(keyMayMatch('results/job=a/dt=2026-03-04/f', filter)).toBe(true); // a day covering the range
    expect(keyMayMatch('results/anything/else', filter)).toBe(true);
    expect(keyMayMatch('results/job=a/dt=!{partitionKeyFromQuery:dt}/2026/03/01/00/f', filter)).toBe(true);
  });
});

describe('JSON lines', () => {
  it('splits objects written back to back, strings with braces included', () => {
    expect(splitConcatenated('{"a":"}{"}{"b":[1,{"c":2}]}')).toEqual(['{"a":"}{"}', '{"b":[1,{"c":2}]}']);
  });

  it('keeps object lines, repairs concatenations, counts the rest', () => {
    const text = '{"a":1}\n\n{"b":2}{"c":3}\n[1]\nnot json\n{"d":4}';
    expect(normalizeJsonLines(text)).toEqual({ lines: ['{"a":1}', '{"b":2}', '{"c":3}', '{"d":4}'], malformed: 2, firstMalformed: 4 });
  });
});

describe('formats', () => {
  const result: QueryResult = {
    columns: ['key', 'n', 'avg', 'at', 'top', 'note'],
    types: ['VARCHAR', 'BIGINT', 'DOUBLE', 'TIMESTAMP', 'STRUCT("value" VARCHAR, "count" BIGINT)[]', 'VARCHAR'],
    rows: [
      ['s1', 12n, 20.5, new Date('2026-01-01T00:05:00Z'), [{ value: 'x', count: 3n }], 'a, "quoted"\nline'],
      ['s2', 2n ** 60n, null, null, [], null],
    ],
  };

  it('table: aligned, numbers right, NULL shown, long and multi-line cells kept on one line', () => {
    expect(formatTable(result)).toBe(
      [
        'key                    n   avg  at                        top                        note',
        '───  ───────────────────  ────  ────────────────────────  ─────────────────────────  ────────────────',
        's1                    12  20.5  2026-01-01T00:05:00.000Z  [{"value":"x","count":3}]  a, "quoted"⏎line',
        's2   1152921504606846976  NULL  NULL                      []                         NULL',
        '(2 rows)',
      ].join('\n'),
    );
  });

  it('csv: RFC 4180 quoting, nested values as JSON, NULL empty', () => {
    expect(formatCsv(result)).toBe(['key,n,avg,at,top,note', 's1,12,20.5,2026-01-01T00:05:00.000Z,"[{""value"":""x"",""count"":3}]","a, ""quoted""\nline"', 's2,1152921504606846976,,,[],'].join('\r\n'));
  });

  it('json: an array of row objects; bigints past 2^53 as strings, times as ISO-8601 UTC', () => {
    expect(JSON.parse(formatJson(result))).toEqual([
      { key: 's1', n: 12, avg: 20.5, at: '2026-01-01T00:05:00.000Z', top: [{ value: 'x', count: 3 }], note: 'a, "quoted"\nline' },
      { key: 's2', n: '1152921504606846976', avg: null, at: null, top: [], note: null },
    ]);
    expect(formatJson({ columns: ['a'], types: ['INTEGER'], rows: [] })).toBe('[]');
  });

  it('dates as YYYY-MM-DD, blobs as base64', () => {
    expect(plainValue(new Date('2026-01-02T00:00:00Z'), 'DATE')).toBe('2026-01-02');
    expect(plainValue(Buffer.from('hi'))).toBe('aGk=');
  });
});

describe('which outputs a statement reads', () => {
  it('by whole-word view names', () => {
    expect([...referencedKinds('SELECT * FROM results')]).toEqual(['results']);
    expect([...referencedKinds('select * from RESULTS_ALL r join late l using (key)')].sort()).toEqual(['late', 'results']);
    expect([...referencedKinds('SELECT count(*) FROM rejected')]).toEqual(['rejected']);
    expect([...referencedKinds('SELECT count(*) FROM rejected_all, late_all')].sort()).toEqual(['late', 'rejected']);
    expect([...referencedKinds('SELECT 1 AS lateness, 2 AS results_x')]).toEqual([]);
  });
});

describe('--athena', () => {
  it('wraps the SQL with the same view names over both Glue tables (Parquet, and JSON lines cast to its types), with partition predicates for --since/--until', () => {
    const columns = resultsSchema({ aggregates: { count: { kind: 'count' }, top: { kind: 'topK' } } });
    const sql = athenaSql({ sql: 'SELECT key FROM results;', sinceMs: day + 2 * H, untilMs: day + 30 * H }, 'riffle_sensor_averages', 'sensor_averages', columns);
    expect(sql).toContain(
      'results_all AS (SELECT * FROM (SELECT "resultid", "job", "key", "windowstart", "windowend", "count", "top", "final", "version", "eventcount", "emittedat", "job_version", "revision", dt, hour FROM "riffle_sensor_averages"."sensor_averages" ' +
        'UNION ALL SELECT "resultid", "job", "key", CAST(from_iso8601_timestamp("windowstart") AS timestamp) AS "windowstart", CAST(from_iso8601_timestamp("windowend") AS timestamp) AS "windowend", "count", ' +
        'CAST(json_parse("top") AS array(row(value varchar,count bigint))) AS "top", "final", "version", "eventcount", CAST(from_iso8601_timestamp("emittedat") AS timestamp) AS "emittedat", "job_version", "revision", dt, hour FROM "riffle_sensor_averages"."sensor_averages_json") ' +
        "WHERE dt >= '2026-03-04' AND windowstart >= TIMESTAMP '2026-03-04 02:00:00.000' AND dt <= '2026-03-05' AND windowstart < TIMESTAMP '2026-03-05 06:00:00.000')",
    );
    expect(sql).toContain('PARTITION BY resultid ORDER BY coalesce(job_version, 1) DESC, coalesce(revision, 0) DESC, version DESC, final DESC');
    expect(sql.endsWith('\nSELECT key FROM results')).toBe(true);
  });
});

describe('round-trip comparison', () => {
  const base = Date.parse('2026-01-01T00:00:00Z');
  let seq = 1000;
  const sent = (flag: SentRecord['flag'], payload: Record<string, unknown> | string): SentRecord => ({
    n: seq - 1000,
    flag,
    partitionKey: 'k',
    shardId: 'shardId-000000000000',
    sequenceNumber: String(seq++),
    subSequenceNumber: 0,
    aggregated: false,
    ...(typeof payload === 'string' ? { payloadBase64: Buffer.from(payload).toString('base64') } : { payload: JSON.stringify(payload) }),
  });
  const log = [
    sent('ok', { sensorId: 's1', ts: base + 1000, temperature: 20, humidity: 50 }),
    sent('ok', { sensorId: 's1', ts: base + 2000, temperature: 22 }),
    sent('duplicate', { sensorId: 's1', ts: base + 2000, temperature: 22 }),
    sent('bad', '{"sensorId":'),
  ];
  const row = { job: 'sensor-averages', key: 's1', windowStart: '2026-01-01T00:00:00.000Z', windowEnd: '2026-01-01T00:05:00.000Z', count: 3, eventCount: 3, temperature_avg: 64 / 3, temperature_min: 20, temperature_max: 22, temperature_p95: 22, humidity_avg: 50 };
  const rejected = [{ job: 'sensor-averages', sequenceNumber: log[3]?.sequenceNumber, subSequenceNumber: 0 }];

  it('accepts the right answer (duplicates count: they are records of their own)', () => {
    expect(checkRoundTrip({ job: 'sensor-averages', sent: log, results: [row], late: [], rejected }).problems).toEqual([]);
  });

  it('catches a wrong aggregate, a missing window, a missing rejection and a wrongly late record', () => {
    expect(checkRoundTrip({ job: 'sensor-averages', sent: log, results: [{ ...row, temperature_max: 21 }], late: [], rejected }).problems).toEqual([expect.stringContaining('temperature_max 21 ≠ 22')]);
    expect(checkRoundTrip({ job: 'sensor-averages', sent: log, results: [], late: [], rejected }).problems).toEqual([expect.stringMatching(/^missing result s1/)]);
    expect(checkRoundTrip({ job: 'sensor-averages', sent: log, results: [row], late: [], rejected: [] }).problems).toEqual([expect.stringMatching(/malformed record n=3 .* not in rejected/)]);
    const late = [{ job: 'sensor-averages', kind: 'event', sequenceNumber: log[0]?.sequenceNumber, subSequenceNumber: 0, windowStart: row.windowStart, reason: 'closed' }];
    expect(checkRoundTrip({ job: 'sensor-averages', sent: log, results: [row], late, rejected }).problems).toEqual(expect.arrayContaining([expect.stringMatching(/on-time record .* was reported late/), expect.stringContaining('eventCount 3 ≠ 2')]));
  });

  it('with a watermark, windows that cannot have closed yet are not expected', () => {
    const report = checkRoundTrip({ job: 'sensor-averages', sent: log, results: [], late: [], rejected, watermark: base + 300_000 + 60_000 });
    expect(report).toMatchObject({ expectedWindows: 0, problems: [] });
  });
});
