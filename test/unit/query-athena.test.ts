// `npm run query -- --target aws --athena`: Athena cannot be reached from here, so the client is a
// stub that answers like Athena (pure unit test of the polling, paging and formatting).
import { GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { runAthena } from '../../scripts/lib/athena';
import type { Target } from '../../scripts/lib/targets';
import { query } from '../../scripts/query';

type Command = StartQueryExecutionCommand | GetQueryExecutionCommand | GetQueryResultsCommand;

function stubAthena(states: string[], pages: string[][][], reason = '') {
  const sent: Command[] = [];
  let polls = 0;
  const client = {
    send: async (command: Command): Promise<unknown> => {
      sent.push(command);
      if (command instanceof StartQueryExecutionCommand) return { QueryExecutionId: 'q-1' };
      if (command instanceof GetQueryExecutionCommand) {
        const state = states[Math.min(polls++, states.length - 1)];
        return { QueryExecution: { Status: { State: state, StateChangeReason: reason }, Statistics: { DataScannedInBytes: 2_097_152 } } };
      }
      const index = command.input.NextToken ? Number(command.input.NextToken) : 0;
      const rows = pages[index] ?? [];
      return {
        ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'key', Type: 'varchar' }, { Name: 'n', Type: 'bigint' }] }, Rows: rows.map((r) => ({ Data: r.map((v) => ({ VarCharValue: v })) })) },
        ...(index + 1 < pages.length ? { NextToken: String(index + 1) } : {}),
      };
    },
  };
  return { client, sent };
}

describe('Athena', () => {
  it('polls until the query succeeds and pages through the results (dropping the header row)', async () => {
    const { client, sent } = stubAthena(['QUEUED', 'RUNNING', 'SUCCEEDED'], [[['key', 'n'], ['a', '1']], [['b', '2']]]);
    const result = await runAthena(client, { sql: 'SELECT 1', workgroup: 'riffle-x', database: 'riffle_x' }, { pollMs: 1 });
    expect(result).toMatchObject({ columns: ['key', 'n'], rows: [['a', '1'], ['b', '2']], queryExecutionId: 'q-1', scannedBytes: 2_097_152 });
    expect((sent[0] as StartQueryExecutionCommand).input).toEqual({ QueryString: 'SELECT 1', WorkGroup: 'riffle-x', QueryExecutionContext: { Database: 'riffle_x' } });
    expect(sent.filter((c) => c instanceof GetQueryExecutionCommand)).toHaveLength(3);
  });

  it('a failed query says why', async () => {
    const { client } = stubAthena(['FAILED'], [], "TABLE_NOT_FOUND: line 1:15: Table 'riffle_x.nope' does not exist");
    await expect(runAthena(client, { sql: 'SELECT 1', workgroup: 'w', database: 'd' }, { pollMs: 1 })).rejects.toThrow(/Athena query q-1 failed: TABLE_NOT_FOUND/);
  });

  it('npm run query --athena runs the rewritten SQL in the job\'s workgroup and database and prints the rows', async () => {
    const { client, sent } = stubAthena(['SUCCEEDED'], [[['key', 'n'], ['sensor-1', '12']]]);
    const out: string[] = [];
    const err: string[] = [];
    const outputs = { 'Riffle-sensor-averages': { SensorAveragesGlueDatabase: 'riffle_sensor_averages', SensorAveragesGlueTable: 'sensor_averages', SensorAveragesAthenaWorkgroup: 'riffle-sensor-averages' } };
    const target = { name: 'aws', endpoint: undefined, region: 'us-east-1', outputsFile: 'cdk-outputs.json', outputs, clientConfig: () => ({}) } as unknown as Target;
    const code = await query(
      { sql: 'SELECT key, count(*) AS n FROM results GROUP BY key', format: 'csv', job: 'sensor-averages', target: 'aws', cache: false, athena: true },
      { athena: client, target, stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) } },
    );
    expect(code).toBe(0);
    const start = (sent[0] as StartQueryExecutionCommand).input;
    expect(start).toMatchObject({ WorkGroup: 'riffle-sensor-averages', QueryExecutionContext: { Database: 'riffle_sensor_averages' } });
    expect(start.QueryString).toContain('sensor_averages');
    expect(out.join('')).toContain('sensor-1');
    expect(err.join('')).toMatch(/athena: query q-1, 1 rows, 2\.0 MB scanned/);
  });
});
