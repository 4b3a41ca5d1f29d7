// The SQL of README's "Querying the output" block, statement by statement, so tests run the queries
// the README shows exactly as written. Each statement carries the job its comment names
// ("-- sensor-averages: …"; statements without a comment inherit the previous one), or none for the
// ones about every job.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { jobs } from '../../jobs';

export interface ReadmeQuery {
  readonly sql: string;
  /** The job the README says the query is for; undefined: any job. */
  readonly job?: string;
  /** Whether it must return rows whenever the job's output exists (rejected: the tests send bad records). */
  readonly expectRows: boolean;
}

export function readmeQueries(readmePath = path.join(__dirname, '..', '..', 'README.md')): ReadmeQuery[] {
  const readme = readFileSync(readmePath, 'utf8');
  const section = readme.slice(readme.indexOf('## Querying the output'));
  const block = /```sql\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README: no ```sql block under "Querying the output"');
  const queries: ReadmeQuery[] = [];
  let job: string | undefined;
  let lines: string[] = [];
  for (const line of block.split('\n')) {
    const comment = /^\s*--\s*([a-z0-9-]+)/.exec(line);
    if (comment && lines.every((l) => l.trim().startsWith('--') || l.trim() === '')) {
      const named = comment[1] as string;
      job = named in jobs ? named : undefined;
    }
    lines.push(line);
    if (line.trim().endsWith(';')) {
      const sql = lines.join('\n').trim().replace(/;$/, '');
      queries.push({ sql, ...(job !== undefined ? { job } : {}), expectRows: /\bFROM rejected\b/.test(sql) });
      lines = [];
    }
  }
  return queries;
}
