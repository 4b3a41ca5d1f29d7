// `npm run produce --file`: a JSONL file replayed line by line as sent (malformed lines too: the
// mapper must see what the file holds), or a CSV file whose rows become events typed by the job's
// schema; partition keys from the job's entity id field (or --key-field).
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { parseEventTime } from '../../../functions/core/event-time';
import { jobs } from '../../../jobs';
import { UsageError } from '../cli';
import { GENERATORS, type ProducedRecord } from '../generators';

/** What a CSV cell becomes, per schema field: numbers and booleans where the schema takes them. */
type CellType = 'number' | 'boolean' | 'string';

function fieldTypes(schema: unknown): Map<string, Set<CellType>> {
  const types = new Map<string, Set<CellType>>();
  if (!(schema instanceof z.ZodObject)) return types;
  const collect = (t: unknown, into: Set<CellType>): void => {
    if (t instanceof z.ZodOptional || t instanceof z.ZodNullable) collect(t.unwrap(), into);
    else if (t instanceof z.ZodUnion) for (const o of t.options) collect(o, into);
    else if (t instanceof z.ZodNumber) into.add('number');
    else if (t instanceof z.ZodBoolean) into.add('boolean');
    else into.add('string');
  };
  for (const [name, t] of Object.entries(schema.shape as Record<string, unknown>)) {
    const set = new Set<CellType>();
    collect(t, set);
    types.set(name, set);
  }
  return types;
}

const NUMERIC = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** One CSV row → the event object; empty cells are left out (optional fields). */
export function csvRowToEvent(header: readonly string[], cells: readonly string[], types: Map<string, Set<CellType>>): Record<string, unknown> {
  const event: Record<string, unknown> = {};
  header.forEach((name, i) => {
    const cell = cells[i] ?? '';
    if (cell === '') return;
    const accepts = types.get(name);
    if (accepts?.has('number') && NUMERIC.test(cell)) event[name] = Number(cell);
    else if (accepts?.has('boolean') && (cell === 'true' || cell === 'false')) event[name] = cell === 'true';
    else event[name] = cell;
  });
  return event;
}

/** RFC 4180 fields of one record (quotes doubled inside quoted fields). */
export function parseCsvRecord(text: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}

/** The event time of a replayed event, for the --log (undefined when the job cannot read one). */
function eventTimeOf(job: string, event: unknown): number | undefined {
  const definition = jobs[job];
  if (!definition || !definition.schema.safeParse(event).success) return undefined;
  try {
    const t = parseEventTime(definition.eventTime(event));
    return t.ok ? t.ms : undefined;
  } catch {
    return undefined;
  }
}

function keyFieldOf(job: string, keyField: string | undefined): string | undefined {
  return keyField ?? GENERATORS[job]?.keyField;
}

function partitionKeyOf(event: unknown, field: string | undefined, line: number): string {
  const value = field !== undefined && event && typeof event === 'object' ? (event as Record<string, unknown>)[field] : undefined;
  const key = typeof value === 'string' || typeof value === 'number' ? String(value) : '';
  // Kinesis partition keys are 1–256 characters; lines without one spread by line number.
  return key.length > 0 && key.length <= 256 ? key : `line-${line}`;
}

export async function* fileRecords(file: string, job: string, keyField: string | undefined, limit: number | undefined): AsyncGenerator<ProducedRecord> {
  const csv = path.extname(file).toLowerCase() === '.csv';
  const field = keyFieldOf(job, keyField);
  const types = fieldTypes(jobs[job]?.schema);
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let header: string[] | undefined;
  let pending = '';
  let lineNo = 0;
  let n = 0;
  for await (const raw of lines) {
    lineNo++;
    if (limit !== undefined && n >= limit) break;
    if (!csv) {
      if (raw.trim() === '') continue;
      let event: unknown;
      try {
        event = JSON.parse(raw);
      } catch {
        // Sent as-is all the same: replaying a file must not fix it (the mapper rejects it with a reason).
      }
      const t = eventTimeOf(job, event);
      yield { n: n++, partitionKey: partitionKeyOf(event, field, lineNo), data: Buffer.from(raw), flag: 'ok', ...(t !== undefined ? { eventTime: t } : {}) };
      continue;
    }
    // A quoted CSV field may span lines: gather until the quotes balance.
    pending = pending === '' ? raw : `${pending}\n${raw}`;
    if ((pending.match(/"/g)?.length ?? 0) % 2 === 1) continue;
    const record = pending;
    pending = '';
    if (record.trim() === '') continue;
    const cells = parseCsvRecord(record);
    if (header === undefined) {
      header = cells.map((c) => c.trim());
      if (field !== undefined && !header.includes(field)) {
        throw new UsageError(`--file ${file}: the header has no '${field}' column for the partition key (header: ${header.join(', ')}); add it or pass --key-field <column>`);
      }
      continue;
    }
    const event = csvRowToEvent(header, cells, types);
    const t = eventTimeOf(job, event);
    yield { n: n++, partitionKey: partitionKeyOf(event, field, lineNo), data: Buffer.from(JSON.stringify(event)), flag: 'ok', ...(t !== undefined ? { eventTime: t } : {}) };
  }
  if (pending.trim() !== '') throw new UsageError(`--file ${file}: unterminated quoted field at the end of the file (line ${lineNo}); close the quote`);
}
