// Crash verifier, the input as the stream holds it. Exactly-once is relative to what Kinesis
// stored, and a kill in the middle of a PutRecords call can store records whose response never
// reached the producer: the producer sends them again, and the stream holds both copies (each
// with its own sequence number, each an event Riffle must count). So the oracle's input is not the
// producer's log but every record read back from the input stream with GetRecords, each matched
// to the producer record it carries:
//
//   - a record at a position (shard, sequence number) the producer logged as accepted is that record;
//   - any other record is a retry copy: matched by partition key and bytes to a producer record of
//     its round (the round is the one of the logged records around it on its shard: rounds are sent
//     one after another, and sequence numbers grow with time), and logged as a duplicate of the
//     original it re-sends, so the oracle treats it as that original (ok, late or bad);
//   - a record matching no producer record is unknown (reported; the oracle cannot classify it).
//
// The result is a log in the producer's format (scripts/produce.ts logLine) with records renumbered
// so that each round is again one contiguous range of `n`, as oracle.ts expects.
import { isUtf8 } from 'node:buffer';
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { listShards } from '../kinesis-shards';
import type { ProducedRecord } from '../generators';
import type { RoundRange } from './oracle';
import type { Workload } from './workload';

export interface StoredRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: Buffer;
}

/** A producer log line (scripts/produce.ts logLine) of an accepted record. */
export interface LoggedRecord {
  n: number;
  flag: string;
  badKind?: string;
  duplicateOf?: number;
  partitionKey: string;
  shardId: string;
  sequenceNumber: string;
  subSequenceNumber: number;
  aggregated: boolean;
  eventTime?: number;
  payload?: string;
  payloadBase64?: string;
}

/** Every record of every shard of `stream`, oldest first per shard. */
export async function readStream(kinesis: KinesisClient, stream: string): Promise<StoredRecord[]> {
  const shards = await listShards(kinesis, stream);
  const out: StoredRecord[] = [];
  for (const shard of shards) {
    const shardId = shard.ShardId as string;
    let iterator = (await kinesis.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    while (iterator) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      const records = page.Records ?? [];
      for (const r of records) {
        out.push({ shardId, sequenceNumber: r.SequenceNumber as string, partitionKey: r.PartitionKey ?? '', data: Buffer.from(r.Data ?? new Uint8Array()) });
      }
      // An empty page is the tip of an open shard; a closed shard ends without a next iterator.
      if (records.length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  return out;
}

export interface StreamLogCounts {
  /** Records in the input stream. */
  streamRecords: number;
  producerRecords: number;
  /** Stream records at a position the producer logged. */
  logged: number;
  /** Stream records the producer never saw acknowledged (a retry re-sent them). */
  retryCopies: number;
  /** Stream records matching no producer record. */
  unknown: number;
  /** Producer records not in the stream. */
  missing: number;
}

export interface StreamLog {
  /** JSON lines for the oracle, one per stream record that matches a producer record. */
  lines: string[];
  rounds: RoundRange[];
  counts: StreamLogCounts;
  /** A few unknown stream records (shard/sequence) and missing producer records (n), for the report. */
  unknownExamples: string[];
  missingExamples: number[];
}

const contentKey = (partitionKey: string, data: Buffer) => `${partitionKey}\u0000${data.toString('base64')}`;
const compareSeq = (a: string, b: string) => (a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0);

/** The oracle's log for what the stream holds; `accepted` is the producer's log by shard/sequence. */
export function streamLog(stored: readonly StoredRecord[], workload: Workload, accepted: ReadonlyMap<string, LoggedRecord>): StreamLog {
  const produced = new Map<number, ProducedRecord>();
  const roundOfN = new Map<number, number>();
  const byContent = new Map<string, number[]>();
  for (const round of workload.rounds) {
    for (const r of round.records) {
      produced.set(r.n, r);
      roundOfN.set(r.n, round.index);
      const key = contentKey(r.partitionKey, r.data);
      const list = byContent.get(key);
      if (list) list.push(r.n);
      else byContent.set(key, [r.n]);
    }
  }
  /** The record whose bytes a duplicate re-sends (the oracle classifies it as that one). */
  const rootOf = (n: number): number => {
    let r = produced.get(n);
    while (r?.duplicateOf !== undefined) r = produced.get(r.duplicateOf);
    return r?.n ?? n;
  };

  interface Entry {
    stored: StoredRecord;
    logged?: LoggedRecord;
    /** The producer record it carries. */
    n?: number;
    round?: number;
  }
  const byShard = new Map<string, Entry[]>();
  for (const s of stored) {
    const logged = accepted.get(`${s.shardId}/${s.sequenceNumber}`);
    const entry: Entry = { stored: s, ...(logged ? { logged, n: logged.n, round: roundOfN.get(logged.n) } : {}) };
    const list = byShard.get(s.shardId);
    if (list) list.push(entry);
    else byShard.set(s.shardId, [entry]);
  }
  const unknownExamples: string[] = [];
  let unknown = 0;
  for (const entries of byShard.values()) {
    entries.sort((a, b) => compareSeq(a.stored.sequenceNumber, b.stored.sequenceNumber));
    // The round of the nearest logged record after (else before) each position on the shard.
    const after: (number | undefined)[] = new Array(entries.length);
    const before: (number | undefined)[] = new Array(entries.length);
    for (let i = entries.length - 1, last: number | undefined; i >= 0; i--) {
      after[i] = last;
      if (entries[i]?.logged) last = entries[i]?.round;
    }
    for (let i = 0, last: number | undefined; i < entries.length; i++) {
      before[i] = last;
      if (entries[i]?.logged) last = entries[i]?.round;
    }
    entries.forEach((entry, i) => {
      if (entry.logged) return;
      const candidates = byContent.get(contentKey(entry.stored.partitionKey, entry.stored.data)) ?? [];
      if (candidates.length === 0) {
        unknown++;
        if (unknownExamples.length < 5) unknownExamples.push(`${entry.stored.shardId}/${entry.stored.sequenceNumber}`);
        return;
      }
      const round = after[i] ?? before[i];
      const n = candidates.find((c) => roundOfN.get(c) === round) ?? (candidates[0] as number);
      entry.n = n;
      entry.round = round ?? roundOfN.get(n);
    });
  }

  // Renumber: each round one contiguous range; the originals' new numbers for duplicateOf.
  const matched = [...byShard.values()].flat().filter((e): e is Entry & { n: number; round: number } => e.n !== undefined && e.round !== undefined);
  matched.sort((a, b) => a.round - b.round || a.n - b.n || (a.logged ? 0 : 1) - (b.logged ? 0 : 1) || compareSeq(a.stored.sequenceNumber, b.stored.sequenceNumber));
  const renumbered = new Map<number, number>();
  matched.forEach((e, i) => {
    if (e.logged) renumbered.set(e.n, i);
  });
  const lines: string[] = [];
  const rounds: RoundRange[] = [];
  matched.forEach((e, i) => {
    const last = rounds[rounds.length - 1];
    if (last && last.index === e.round) last.endN = i + 1;
    else rounds.push({ index: e.round, firstN: i, endN: i + 1 });
    if (e.logged) {
      const original = e.logged.duplicateOf;
      const line: LoggedRecord = { ...e.logged, n: i, ...(original !== undefined ? { duplicateOf: renumbered.get(original) ?? -1 } : {}) };
      lines.push(JSON.stringify(line));
      return;
    }
    const root = rootOf(e.n);
    const source = produced.get(root) as ProducedRecord;
    const copy: LoggedRecord = {
      n: i,
      flag: 'duplicate',
      duplicateOf: renumbered.get(root) ?? -1,
      partitionKey: e.stored.partitionKey,
      shardId: e.stored.shardId,
      sequenceNumber: e.stored.sequenceNumber,
      subSequenceNumber: 0,
      aggregated: false,
      ...(source.eventTime !== undefined ? { eventTime: source.eventTime } : {}),
      // As the producer logs payloads: readable text unless bad or binary.
      ...(source.flag !== 'bad' && isUtf8(e.stored.data) ? { payload: e.stored.data.toString('utf8') } : { payloadBase64: e.stored.data.toString('base64') }),
    };
    lines.push(JSON.stringify(copy));
  });
  // A round index the oracle's bounds expect even when no record of it reached the stream.
  for (const round of workload.rounds) {
    if (!rounds.some((r) => r.index === round.index)) rounds.push({ index: round.index, firstN: lines.length, endN: lines.length });
  }
  rounds.sort((a, b) => a.index - b.index);

  const inStream = new Set(matched.filter((e) => e.logged).map((e) => e.n));
  const missingExamples: number[] = [];
  let missing = 0;
  for (const n of produced.keys()) {
    if (inStream.has(n)) continue;
    missing++;
    if (missingExamples.length < 5) missingExamples.push(n);
  }
  const logged = matched.filter((e) => e.logged).length;
  return {
    lines,
    rounds,
    counts: { streamRecords: stored.length, producerRecords: produced.size, logged, retryCopies: matched.length - logged, unknown, missing },
    unknownExamples,
    missingExamples,
  };
}
