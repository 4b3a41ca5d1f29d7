// Per-mapping shard checkpoints: the last sequence number fully handled on each shard (and which
// shards have been read to their end). Kept in memory and, with a data directory, persisted as
// <dataDir>/esm/<uuid>.json so a restarted cloud resumes where it stopped instead of replaying
// from the starting position.
//
// What a crash costs: advances are written at most FLUSH_DELAY_MS later (coalesced, atomically
// and fsynced off the event loop: local/durable/state-file.ts), so a process killed at any
// instant resumes from a checkpoint up to that much older, plus the batches in flight: those
// records are delivered again. That is the at-least-once delivery Lambda's own event source
// mappings give, and the functions they invoke must (and Riffle's do) tolerate it. Nothing is
// lost: the records stay in the stream until the checkpoint passes them. The mapping's origin
// (what LATEST means after a restart) is written at once, durably, when it is first fixed:
// losing it would skip the records written between two starts.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeStateFile, writeStateFileSync } from '../durable/state-file';

export interface ShardCheckpoint {
  /** Last sequence number processed (success, discarded, or sent to the on-failure destination). */
  sequenceNumber?: string;
  /** The shard was closed and read to its end. */
  ended?: boolean;
}

interface CheckpointFile {
  readonly uuid: string;
  readonly streamArn: string;
  /** When the mapping first started: what StartingPosition LATEST means after a restart. */
  readonly originMs?: number;
  readonly shards: Record<string, ShardCheckpoint>;
}

const FLUSH_DELAY_MS = 250;

export class CheckpointStore {
  private readonly shards: Record<string, ShardCheckpoint> = {};
  private readonly file: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private origin: number | undefined;
  /** An asynchronous write in progress; a change meanwhile is written after it. */
  private writing: Promise<void> | undefined;
  private dirtyWhileWriting = false;

  constructor(
    private readonly uuid: string,
    private readonly streamArn: string,
    dataDir?: string,
  ) {
    this.file = dataDir ? path.join(dataDir, 'esm', `${uuid}.json`) : undefined;
    if (this.file) {
      try {
        const saved = JSON.parse(readFileSync(this.file, 'utf8')) as CheckpointFile;
        // A checkpoint for another stream (same mapping id, recreated stream) must not be reused.
        if (saved.streamArn === streamArn) {
          Object.assign(this.shards, saved.shards);
          this.origin = saved.originMs;
        }
      } catch (e) {
        // Atomic replacement means a present file is complete; say so if one cannot be read.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
          console.warn(`[local-esm] ignoring unreadable checkpoint ${this.file} (the mapping starts from its starting position): ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    }
  }

  /**
   * The moment the mapping first started (persisted): LATEST is resolved once, at creation, as
   * in Lambda, so records written while a local cloud was stopped are not skipped on restart.
   */
  hasOrigin(): boolean {
    return this.origin !== undefined;
  }

  originMs(): number {
    if (this.origin === undefined) {
      this.origin = Date.now();
      this.flush();
    }
    return this.origin;
  }

  get(shardId: string): ShardCheckpoint | undefined {
    return this.shards[shardId];
  }

  all(): Readonly<Record<string, ShardCheckpoint>> {
    return this.shards;
  }

  advance(shardId: string, sequenceNumber: string): void {
    this.shards[shardId] = { ...this.shards[shardId], sequenceNumber };
    this.schedule();
  }

  markEnded(shardId: string): void {
    this.shards[shardId] = { ...this.shards[shardId], ended: true };
    this.schedule();
  }

  /** Writes the checkpoints now, synchronously and durably (start, stop). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.file) return;
    writeStateFileSync(this.file, this.body());
  }

  /** Waits for a periodic write in progress (stop() calls flush() after this). */
  async settle(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private body(): string {
    const body: CheckpointFile = {
      uuid: this.uuid,
      streamArn: this.streamArn,
      ...(this.origin !== undefined ? { originMs: this.origin } : {}),
      shards: this.shards,
    };
    return JSON.stringify(body, null, 2);
  }

  private schedule(): void {
    if (!this.file || this.timer) return;
    if (this.writing) {
      this.dirtyWhileWriting = true;
      return;
    }
    const file = this.file;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing = writeStateFile(file, this.body())
        .catch((e: unknown) => console.warn(`[local-esm] could not persist checkpoint ${file}: ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => {
          this.writing = undefined;
          if (this.dirtyWhileWriting) {
            this.dirtyWhileWriting = false;
            this.schedule();
          }
        });
    }, FLUSH_DELAY_MS);
    this.timer.unref();
  }
}
