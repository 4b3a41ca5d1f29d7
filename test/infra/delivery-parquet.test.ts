// The results delivery as synthesized, run through the local cloud's record format conversion: the
// template's results stream and Glue table (resolved as the local deployer resolves them) convert
// real result records into a Parquet object whose rows read back as the records — so the embedded
// Firehose converts from the same configuration AWS gets, and the schema matches what the closer writes.
import { Template } from 'aws-cdk-lib/assertions';
import { makeResult } from '../../functions/core/output-records';
import { resolveValue, type ResolveContext } from '../../local/deploy/intrinsics';
import { glueTableOf, withLocalGlueTable } from '../../local/services/format-conversion/glue-schema';
import { compileFormatConversion, conversionFailure, parquetBody } from '../../local/services/format-conversion/parquet';
import { parquetRecords } from '../../scripts/lib/output-reader';
import { buildTestApp } from './helpers';

type Resource = { Type: string; Properties?: Record<string, unknown> };

test('the synthesized results stream converts the closer\'s records with the job\'s Glue table; they read back unchanged', async () => {
  const { stacks } = buildTestApp({ jobs: ['sensor-averages'] });
  const stack = stacks[0]!;
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
  // What Ref returns for the resources involved (the local deployer: a Glue resource's name property).
  const ctx: ResolveContext = {
    region: 'us-east-1',
    accountId: '000000000000',
    stackName: stack.stackName,
    parameters: {},
    condition: () => true,
    ref: (id) => {
      const p = resources[id]?.Properties as { DatabaseInput?: { Name: string }; TableInput?: { Name: string } } | undefined;
      return p?.DatabaseInput?.Name ?? p?.TableInput?.Name ?? `${id}-physical`;
    },
    getAtt: (id, attr) => `${id}.${attr}`,
  };
  const results = stack.jobs['sensor-averages']!.delivery.deliveryStreams.results;
  const streamProps = resolveValue(resources[stack.getLogicalId(results)]!.Properties, ctx) as Record<string, unknown>;
  const tables = Object.values(resources).filter((r) => r.Type === 'AWS::Glue::Table').map((r) => glueTableOf(resolveValue(r.Properties, ctx))!);
  const input = withLocalGlueTable({ ...streamProps, DeliveryStreamName: 'results' }, tables);
  const conversion = compileFormatConversion(input.ExtendedS3DestinationConfiguration as Record<string, unknown>)!;
  expect(conversion.table).toMatchObject({ databaseName: 'riffle_sensor_averages', tableName: 'sensor_averages' });

  // The fixture job's aggregates: count, mean, quantile, topK.
  const start = Date.parse('2026-02-03T04:05:00Z');
  const records = [
    makeResult({ job: 'sensor-averages', key: 's-1', start, end: start + 300_000, values: { count: 7, temperature_avg: 20.5, temperature_p95: 23.25, top: [{ value: 'a', count: 4 }] }, final: true, version: 2, eventCount: 7, nowMs: start + 400_000 }),
    makeResult({ job: 'sensor-averages', key: 's-2', start, end: start + 300_000, values: { count: 0, temperature_avg: null, temperature_p95: null, top: [] }, final: false, version: 1, eventCount: 0, nowMs: start + 400_000 }),
  ];
  const lines = records.map((r) => Buffer.from(`${JSON.stringify(r)}\n`));
  expect(lines.map((l) => conversionFailure(conversion, l))).toEqual([undefined, undefined]);
  const body = parquetBody(conversion, lines);
  expect(body.subarray(0, 4).toString()).toBe('PAR1');
  expect(await parquetRecords(body)).toEqual(records);
});
