// The local Lambda runtime's queue of accepted asynchronous invocations (InvocationType Event,
// answered 202), on disk: Lambda keeps an accepted event until a function attempt succeeds or its
// retries / maximum age run out, whatever happens to the machine that took it, so the local
// runtime journals each event before the 202 and its settlement after, and a restarted cloud runs
// again every event that was not settled (local/durable/journal.ts: one frame per event, torn
// tail dropped). Delivery stays at least once, as on AWS: an attempt running when the process
// died runs again, so functions invoked this way must be idempotent (Riffle's closer is).
//
// Records (JSON, one journal entry each): {"op":"q", id, fn, payload, at} an accepted event;
// {"op":"a", id, attempts} a failed attempt (the retry budget survives restarts); {"op":"s", id}
// settled (succeeded or dropped). The journal is compacted to the live events when it opens, cut
// to nothing whenever no event is live, and rewritten when it grows large.
import { Journal, type FsyncPolicy } from '../durable/journal';

/** An accepted, unsettled asynchronous event. */
export interface PendingAsyncEvent {
  readonly requestId: string;
  readonly functionName: string;
  readonly payload: string;
  readonly enqueuedAt: number;
  /** Attempts that failed so far. */
  attempts: number;
}

type JournalRecord =
  | { readonly op: 'q'; readonly id: string; readonly fn: string; readonly payload: string; readonly at: number; readonly attempts?: number }
  | { readonly op: 'a'; readonly id: string; readonly attempts: number }
  | { readonly op: 's'; readonly id: string };

/** Rewrite the journal to its live events past this size. */
const COMPACT_BYTES = 32 * 1024 * 1024;

export class AsyncEventJournal {
  private readonly journal: Journal;
  private readonly live = new Map<string, PendingAsyncEvent>();
  /** Events a previous process accepted and did not settle, in acceptance order. */
  readonly recovered: PendingAsyncEvent[];
  readonly droppedBytes: number;
  private closed = false;

  constructor(file: string, fsync: FsyncPolicy) {
    const { journal, recovered } = Journal.open(file, { fsync });
    this.journal = journal;
    this.droppedBytes = recovered.droppedBytes;
    for (const entry of recovered.entries) {
      let r: JournalRecord;
      try {
        r = JSON.parse(entry.toString('utf8')) as JournalRecord;
      } catch {
        continue; // a frame passed its CRC, so this is not a torn write; skip what we cannot read
      }
      if (r.op === 'q') this.live.set(r.id, { requestId: r.id, functionName: r.fn, payload: r.payload, enqueuedAt: r.at, attempts: r.attempts ?? 0 });
      else if (r.op === 'a') {
        const e = this.live.get(r.id);
        if (e) e.attempts = r.attempts;
      } else if (r.op === 's') this.live.delete(r.id);
    }
    this.recovered = [...this.live.values()];
    this.compact();
  }

  /** Journals an accepted event; the promise resolves when it may be acknowledged (fsync policy). */
  accept(event: PendingAsyncEvent): Promise<void> {
    const durable = this.write({ op: 'q', id: event.requestId, fn: event.functionName, payload: event.payload, at: event.enqueuedAt, attempts: event.attempts });
    this.live.set(event.requestId, event);
    return durable;
  }

  /** A failed attempt (a retry follows). */
  attempted(event: PendingAsyncEvent): void {
    if (this.closed || !this.live.has(event.requestId)) return;
    void this.write({ op: 'a', id: event.requestId, attempts: event.attempts }).catch(() => undefined);
  }

  /** Succeeded, or dropped after its retries or maximum age: never run again. */
  settle(requestId: string): void {
    if (this.closed || !this.live.delete(requestId)) return;
    if (this.live.size === 0) {
      this.journal.truncate();
      return;
    }
    void this.write({ op: 's', id: requestId }).catch(() => undefined);
    if (this.journal.bytes > COMPACT_BYTES) this.compact();
  }

  /** Live (accepted, unsettled) events. */
  get size(): number {
    return this.live.size;
  }

  close(): Promise<void> {
    this.closed = true;
    return this.journal.close();
  }

  private write(record: JournalRecord): Promise<void> {
    return this.journal.append([Buffer.from(JSON.stringify(record))]);
  }

  private compact(): void {
    const entries = [...this.live.values()].map((e) =>
      Buffer.from(JSON.stringify({ op: 'q', id: e.requestId, fn: e.functionName, payload: e.payload, at: e.enqueuedAt, attempts: e.attempts } satisfies JournalRecord)),
    );
    if (entries.length === 0) this.journal.truncate();
    else this.journal.rewrite(entries);
  }
}
