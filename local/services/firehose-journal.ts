// Firehose's write-ahead journal: one segment file per partition buffer, holding exactly the
// records that buffer will deliver as one S3 object, written before PutRecord(Batch) answers.
// Why per buffer: a segment then maps to one object, so it is deleted as a whole once that object
// is in S3 and recovery needs no bookkeeping of which records were already delivered.
//
// A segment's first entry is its header — stream, bucket and the object key, fixed when the
// buffer opened (prefix rendered with the oldest arrival and partition keys, AWS's object name
// with its random id) — and every later entry is a record payload, already processed (de-
// aggregated, delimited, error-formatted). Each request adds one frame per buffer it touches
// (local/durable/journal.ts: one write, a torn frame is dropped on recovery).
//
// After a crash, start() finds the segments left behind and their owner delivers each to the key
// in its header: a crash between "object written" and "segment deleted" writes the same key with
// the same bytes again (GZIP output is deterministic), so every accepted record lands once.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { Journal, readJournal, type FsyncPolicy } from '../durable/journal';

export interface SegmentHeader {
  readonly v: 1;
  readonly stream: string;
  readonly kind: 'data' | 'error';
  readonly bucket: string;
  readonly key: string;
  readonly gzip: boolean;
  /** When the buffer opened (its oldest record's arrival). */
  readonly openedAt: number;
}

/** A segment found at start: what a killed process had accepted and not yet delivered. */
export interface RecoveredSegment {
  readonly file: string;
  readonly header: SegmentHeader;
  readonly records: Buffer[];
  /** Bytes of a torn last write, dropped (that request was never answered). */
  readonly droppedBytes: number;
}

const SUFFIX = '.seg';

/** An open partition buffer's journal. */
export class Segment {
  private headerWritten = false;

  constructor(
    private readonly journal: Journal,
    private readonly header: SegmentHeader,
  ) {}

  get file(): string {
    return this.journal.file;
  }

  /** Journals records of one request (one write); resolves when durable per the fsync policy. */
  append(records: readonly Buffer[]): Promise<void> {
    if (this.headerWritten) return this.journal.append(records);
    const promise = this.journal.append([Buffer.from(JSON.stringify(this.header)), ...records]);
    this.headerWritten = true;
    return promise;
  }

  /** The object is in S3: the segment is no longer needed. */
  remove(): Promise<void> {
    return this.journal.remove();
  }

  /** Delivery failed: keep the file (recovered at the next start), release the descriptor. */
  close(): Promise<void> {
    return this.journal.close();
  }
}

export class SegmentStore {
  constructor(
    readonly dir: string,
    private readonly fsync: FsyncPolicy,
  ) {}

  /** Starts a segment for a new partition buffer (the file is created by its first append). */
  open(header: SegmentHeader): Segment {
    const name = `${header.stream}.${header.openedAt.toString(36)}-${randomBytes(6).toString('hex')}${SUFFIX}`;
    return new Segment(Journal.create(path.join(this.dir, name), { fsync: this.fsync }), header);
  }

  /**
   * The segments a previous process left (by stream, oldest first). Segments with no complete record (killed
   * in their first write) are deleted here: nothing in them was acknowledged.
   */
  recover(warn: (message: string) => void): RecoveredSegment[] {
    mkdirSync(this.dir, { recursive: true });
    const out: RecoveredSegment[] = [];
    for (const name of readdirSync(this.dir).filter((n) => n.endsWith(SUFFIX)).sort()) {
      const file = path.join(this.dir, name);
      const { entries, droppedBytes } = readJournal(file);
      const [first, ...records] = entries;
      const header = first ? parseHeader(first) : undefined;
      if (!header || records.length === 0) {
        if (first && !header) warn(`dropping journal segment ${file}: unreadable header`);
        unlinkSync(file);
        continue;
      }
      out.push({ file, header, records, droppedBytes });
    }
    return out;
  }
}

function parseHeader(entry: Buffer): SegmentHeader | undefined {
  try {
    const h = JSON.parse(entry.toString('utf8')) as Partial<SegmentHeader>;
    if (h.v !== 1 || typeof h.stream !== 'string' || typeof h.bucket !== 'string' || typeof h.key !== 'string') return undefined;
    if (h.kind !== 'data' && h.kind !== 'error') return undefined;
    return { v: 1, stream: h.stream, kind: h.kind, bucket: h.bucket, key: h.key, gzip: h.gzip === true, openedAt: Number(h.openedAt) || 0 };
  } catch {
    return undefined;
  }
}
