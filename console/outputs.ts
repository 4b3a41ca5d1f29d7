// The Windows and Results views' data: Riffle's S3 output (results/, late/, rejected/) read with
// `npm run query`'s own code — listed and cached by scripts/lib/s3-cache.ts, queried in DuckDB
// through the views of scripts/lib/duckdb.ts — so the page shows what `npm run query` returns. One
// DuckDB session per job is kept while the listing (keys and ETags) is unchanged, and rebuilt when
// Firehose writes something new. (The session is opened exactly as executeQuery in scripts/query.ts
// opens it; the query there is one-shot, this one is kept.)
import { inferredColumns, resultColumns } from '../scripts/query';
import { plainRows, QuerySession } from '../scripts/lib/duckdb';
import { emptyFetchStats, fetchToCache, listOutputObjects, OUTPUT_KINDS, type ListedObject, type OutputKind } from '../scripts/lib/s3-cache';
import type { KeyVolume, RankedWindow, RawRecord, ReasonCount, RecordRef, ResultRow, ResultsSnapshot, SeriesData } from './api';
import type { Deployment, JobResources } from './deployment';

/**
 * A record's reason without its particulars, to group by: times, numbers in parentheses and
 * bracketed ranges are dropped, and the text is cut at the first ':' (what follows is the detail:
 * "schema: ts: Invalid input" → "schema"; "window [… (n), … (n)) closed at … (…); watermark is … (n)" →
 * "window closed at …; watermark is …").
 */
const PROBLEM = String.raw`trim(split_part(regexp_replace(regexp_replace(regexp_replace(regexp_replace(coalesce(reason, '(none)'), '\d{4}-\d\d-\d\dT[0-9:.]+Z', '…', 'g'), '\s*\(\d+\)', '', 'g'), '\s*\[[^\])]*\)', '', 'g'), '\s*\([^)]*\)', '', 'g'), ':', 1))`;

const RESERVED = new Set(['resultId', 'job', 'key', 'windowStart', 'windowEnd', 'final', 'version', 'eventCount', 'emittedAt']);

interface OpenSession {
  signature: string;
  session: QuerySession;
}

export const quoteString = (text: string): string => `'${text.replace(/'/g, "''")}'`;
export const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const ms = (v: unknown): number => (typeof v === 'string' ? Date.parse(v) : typeof v === 'number' ? v : NaN);

export class OutputStore {
  private readonly sessions = new Map<string, OpenSession>();
  /** One query at a time per job (a DuckDB connection runs one statement at a time). */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly deployment: Deployment,
    private readonly cacheDir: string,
  ) {}

  /** The job's objects right now: a signature of keys and ETags, and the objects per kind. */
  async listing(r: JobResources): Promise<{ signature: string; objects: Record<OutputKind, ListedObject[]> }> {
    const objects = {} as Record<OutputKind, ListedObject[]>;
    const parts: string[] = [];
    for (const kind of OUTPUT_KINDS) {
      objects[kind] = await listOutputObjects(this.deployment.s3, r.bucket, kind, { job: r.job.name });
      for (const o of objects[kind]) parts.push(`${o.key}@${o.etag ?? o.size}`);
    }
    return { signature: parts.sort().join('\n'), objects };
  }

  /** Runs fn with an up-to-date session of the job's output (serialised per job). */
  async withSession<T>(r: JobResources, fn: (session: QuerySession) => Promise<T>): Promise<T> {
    const name = r.job.name;
    const previous = this.locks.get(name) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(async () => {
      const { signature, objects } = await this.listing(r);
      let open = this.sessions.get(name);
      if (!open || open.signature !== signature) {
        const stats = emptyFetchStats();
        const files: Partial<Record<OutputKind, string[]>> = {};
        for (const kind of OUTPUT_KINDS) files[kind] = await fetchToCache(this.deployment.s3, objects[kind], this.cacheDir, stats);
        const session = await QuerySession.open({ files, filter: { job: name }, resultColumns: resultColumns([name]), inferredColumns: inferredColumns([name]) });
        open?.session.close();
        open = { signature, session };
        this.sessions.set(name, open);
      }
      return fn(open.session);
    });
    this.locks.set(name, run);
    return run;
  }

  close(): void {
    for (const s of this.sessions.values()) s.session.close();
    this.sessions.clear();
  }

  async rows(r: JobResources, sql: string): Promise<Record<string, unknown>[]> {
    return this.withSession(r, async (s) => plainRows(await s.run(sql)));
  }

  async results(r: JobResources, options: { aggregate: string; keys?: readonly string[]; top: number; page: number; pageSize: number; window?: number }): Promise<ResultsSnapshot> {
    const aggregates = r.info.aggregates;
    const agg = aggregates.find((a) => a.name === options.aggregate) ?? aggregates.find((a) => a.shape === 'numeric') ?? aggregates[0];
    if (!agg) throw new Error(`job ${r.job.name} has no aggregates`);
    return this.withSession(r, async (s) => {
      const q = async (sql: string) => plainRows(await s.run(sql));
      const keys: KeyVolume[] = (await q('SELECT key, sum(eventCount) AS events, count(*) AS windows FROM results GROUP BY key ORDER BY events DESC, key')).map((k) => ({
        key: String(k.key),
        events: Number(k.events ?? 0),
        windows: Number(k.windows ?? 0),
      }));
      const chosen = options.keys?.length ? options.keys.filter((k) => keys.some((x) => x.key === k)) : keys.slice(0, options.top).map((k) => k.key);
      let series: SeriesData = { aggregate: agg.name, keys: chosen, timestamps: [], values: [] };
      if (agg.shape === 'numeric' && chosen.length > 0) {
        const rows = await q(
          `SELECT key, windowStart, TRY_CAST(${quoteIdent(agg.name)} AS DOUBLE) AS value FROM results WHERE key IN (${chosen.map(quoteString).join(', ')}) ORDER BY windowStart, key`,
        );
        const times = [...new Set(rows.map((row) => ms(row.windowStart)))].sort((a, b) => a - b);
        const index = new Map(times.map((t, i) => [t, i]));
        const values = chosen.map(() => times.map((): number | null => null));
        for (const row of rows) {
          const k = chosen.indexOf(String(row.key));
          const v = row.value;
          (values[k] as (number | null)[])[index.get(ms(row.windowStart)) as number] = typeof v === 'number' ? v : null;
        }
        series = { aggregate: agg.name, keys: chosen, timestamps: times, values };
      }
      const toRow = (row: Record<string, unknown>): ResultRow => ({
        key: String(row.key),
        windowStart: ms(row.windowStart),
        windowEnd: ms(row.windowEnd),
        final: row.final === true,
        version: Number(row.version ?? 0),
        eventCount: Number(row.eventCount ?? 0),
        values: Object.fromEntries(Object.entries(row).filter(([k]) => !RESERVED.has(k) && aggregates.some((a) => a.name === k))),
      });
      const [{ n } = { n: 0 }] = await q('SELECT count(*) AS n FROM results');
      const latest = (await q(`SELECT * FROM results ORDER BY windowStart DESC, key LIMIT ${options.pageSize} OFFSET ${options.page * options.pageSize}`)).map(toRow);
      const live = r.job.emit === 'update' ? (await q('SELECT * FROM results WHERE NOT final ORDER BY windowStart DESC, key LIMIT 200')).map(toRow) : [];
      const windows = (await q('SELECT DISTINCT windowStart FROM results ORDER BY windowStart DESC LIMIT 200')).map((w) => ms(w.windowStart));
      let ranked: RankedWindow | undefined;
      if (agg.shape === 'ranked' && windows.length > 0) {
        const at = options.window !== undefined && windows.includes(options.window) ? options.window : (windows[0] as number);
        const rows = await q(
          `SELECT key, t.value AS value, t.count AS count FROM (SELECT key, unnest(${quoteIdent(agg.name)}) AS t FROM results WHERE windowStart = make_timestamp(${at * 1000})) ORDER BY key, count DESC, value`,
        );
        const byKey = new Map<string, { value: string; count: number }[]>();
        for (const row of rows) byKey.set(String(row.key), [...(byKey.get(String(row.key)) ?? []), { value: String(row.value), count: Number(row.count) }]);
        ranked = { windowStart: at, byKey: [...byKey.entries()].map(([key, list]) => ({ key, ranked: list })) };
      }
      return {
        job: r.job.name,
        aggregate: agg.name,
        keys,
        series,
        latest,
        latestTotal: Number(n),
        live,
        windows,
        ...(ranked ? { ranked } : {}),
      };
    });
  }

  /** Late or rejected records: how many, the top reasons (text before the first ':'), a few samples of each. */
  async reasons(r: JobResources, kind: 'late' | 'rejected', top = 5, samples = 3): Promise<{ total: number; reasons: ReasonCount[] }> {
    const time = kind === 'late' ? 'lateAt' : 'rejectedAt';
    return this.withSession(r, async (s) => {
      const q = async (sql: string) => plainRows(await s.run(sql));
      const [{ n } = { n: 0 }] = await q(`SELECT count(*) AS n FROM ${kind}`);
      const counts = await q(`SELECT ${PROBLEM} AS reason, count(*) AS n FROM ${kind} GROUP BY 1 ORDER BY n DESC, reason LIMIT ${top}`);
      const picked = await q(
        `SELECT ${PROBLEM} AS problem, reason, shardId, sequenceNumber, subSequenceNumber${kind === 'late' ? ', key, windowStart, eventTime' : ', partitionKey'} FROM ${kind}
         QUALIFY row_number() OVER (PARTITION BY problem ORDER BY ${time} DESC NULLS LAST, shardId, sequenceNumber, subSequenceNumber) <= ${samples}`,
      );
      const reasons: ReasonCount[] = counts.map((c) => ({
        reason: String(c.reason),
        count: Number(c.n),
        samples: picked
          .filter((p) => p.problem === c.reason)
          .map(
            (p): RecordRef => ({
              kind,
              shardId: String(p.shardId ?? ''),
              sequenceNumber: String(p.sequenceNumber ?? ''),
              subSequenceNumber: Number(p.subSequenceNumber ?? 0),
              summary: kind === 'late' ? `key ${String(p.key)}, event time ${String(p.eventTime)}, window ${String(p.windowStart)}` : `partition key ${String(p.partitionKey)}: ${String(p.reason)}`,
            }),
          ),
      }));
      return { total: Number(n), reasons };
    });
  }

  /** One late or rejected record, found by where it came from. */
  async record(r: JobResources, ref: Pick<RecordRef, 'kind' | 'shardId' | 'sequenceNumber' | 'subSequenceNumber'>): Promise<RawRecord | undefined> {
    const rows = await this.rows(
      r,
      `SELECT * FROM ${ref.kind} WHERE shardId = ${quoteString(ref.shardId)} AND sequenceNumber = ${quoteString(ref.sequenceNumber)} AND coalesce(subSequenceNumber, 0) = ${Math.trunc(ref.subSequenceNumber)} LIMIT 1`,
    );
    const row = rows[0];
    if (!row) return undefined;
    return { kind: ref.kind, row, ...(ref.kind === 'rejected' ? { payloadText: (row.payloadText as string | null | undefined) ?? null } : {}) };
  }
}
