// The results schema of every job in jobs/, snapshotted: it is the Glue table Firehose converts
// records with, so it is the schema of every Parquet object already written. A job change that
// alters it (an aggregate renamed, retyped, added or removed) fails here with the diff. Before
// accepting it (`npx jest test/infra/results-schema.test.ts -u`), know what it does to the objects
// already in S3: Athena and DuckDB read Parquet columns by name, so an added column reads NULL in
// older objects and a removed one is ignored, but a changed type fails every query that reads an
// older object — give the aggregate a new name instead.
import { jobs } from '../../jobs';
import { describeJobs } from '../../infra/riffle-app';
import { resultsSchema, schemaLines, TOPK_TYPE } from '../../infra/results-schema';

const descriptors = describeJobs(jobs);

describe.each(Object.keys(descriptors))('job %s', (name) => {
  test('results schema is the recorded one', () => {
    expect(schemaLines(resultsSchema(descriptors[name]!))).toMatchSnapshot();
  });
});

test('exact types: counts bigint, means and sketches double, top-k a list of (value, count) structs, times timestamp', () => {
  const columns = resultsSchema({
    aggregates: { n: { kind: 'count' }, avg: { kind: 'mean' }, p95: { kind: 'quantile' }, users: { kind: 'distinct' }, top: { kind: 'topK' }, firstPage: { kind: 'first' }, custom: { kind: 'eventTimeSpan' } },
  });
  expect(Object.fromEntries(columns.map((c) => [c.field, c.type]))).toEqual({
    resultId: 'string',
    job: 'string',
    key: 'string',
    windowStart: 'timestamp',
    windowEnd: 'timestamp',
    n: 'bigint',
    avg: 'double',
    p95: 'double',
    users: 'double',
    top: TOPK_TYPE,
    firstPage: 'string',
    custom: 'string',
    final: 'boolean',
    version: 'bigint',
    job_version: 'bigint',
    revision: 'bigint',
    eventCount: 'bigint',
    emittedAt: 'timestamp',
  });
  // Glue names are the lowercased fields.
  expect(columns.map((c) => c.name)).toContain('firstpage');
});

test('two fields that differ only by case would be one Glue column: an error naming both', () => {
  expect(() => resultsSchema({ aggregates: { Key: { kind: 'count' } } })).toThrow("two columns named 'key' ('key' and 'Key')");
});
