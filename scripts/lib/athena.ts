// Running a query on AWS through Athena (`npm run query -- --target aws --athena --job J "SQL"`):
// start it in the stack's workgroup, poll until it ends, page through the results. Athena returns
// every value as a string; the table/CSV/JSON formatters print them as they come.
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import type { QueryResult } from './duckdb';

export interface AthenaQuery {
  sql: string;
  workgroup: string;
  database: string;
}

export interface AthenaOptions {
  /** Milliseconds between status polls. */
  pollMs?: number;
  /** Give up (and say so) after this long. */
  timeoutMs?: number;
}

const DONE = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

export async function runAthena(client: Pick<AthenaClient, 'send'>, query: AthenaQuery, options: AthenaOptions = {}): Promise<QueryResult & { queryExecutionId: string; scannedBytes: number }> {
  const started = await client.send(
    new StartQueryExecutionCommand({ QueryString: query.sql, WorkGroup: query.workgroup, QueryExecutionContext: { Database: query.database } }),
  );
  const id = started.QueryExecutionId;
  if (!id) throw new Error('Athena did not return a query execution id');
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  let state = 'QUEUED';
  let reason = '';
  let scannedBytes = 0;
  while (!DONE.has(state)) {
    if (Date.now() > deadline) throw new Error(`Athena query ${id} still ${state} after ${Math.round((options.timeoutMs ?? 300_000) / 1000)} s; look it up in the console or with 'aws athena get-query-execution --query-execution-id ${id}'`);
    await new Promise((r) => setTimeout(r, options.pollMs ?? 1_000));
    const execution = (await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution;
    state = execution?.Status?.State ?? 'QUEUED';
    reason = execution?.Status?.StateChangeReason ?? '';
    scannedBytes = execution?.Statistics?.DataScannedInBytes ?? 0;
  }
  if (state !== 'SUCCEEDED') throw new Error(`Athena query ${id} ${state.toLowerCase()}: ${reason || 'no reason given'}`);

  const columns: string[] = [];
  const types: string[] = [];
  const rows: unknown[][] = [];
  let token: string | undefined;
  let first = true;
  do {
    const page = await client.send(new GetQueryResultsCommand({ QueryExecutionId: id, ...(token ? { NextToken: token } : {}) }));
    if (first) {
      for (const c of page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []) {
        columns.push(c.Name ?? '');
        types.push(c.Type ?? 'varchar');
      }
    }
    const data = page.ResultSet?.Rows ?? [];
    // The first row of the first page repeats the column names.
    for (const row of first ? data.slice(1) : data) rows.push((row.Data ?? []).map((d) => d.VarCharValue ?? null));
    first = false;
    token = page.NextToken;
  } while (token);
  return { columns, types, rows, queryExecutionId: id, scannedBytes };
}
