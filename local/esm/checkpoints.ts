// Per-mapping shard checkpoints: the last sequence number fully handled on each shard (and which
// shards have been read to their end). Kept in memory and, with a data directory, persisted as
// <dataDir>/esm/<uuid>.json (written atomically, coalesced) so a restarted cloud resumes where
// it stopped instead of replaying from the starting position.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

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
      } catch {
        // no checkpoint yet
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
      this.schedule();
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

  /** Writes pending changes now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.file) return;
    mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const body: CheckpointFile = {
      uuid: this.uuid,
      streamArn: this.streamArn,
      ...(this.origin !== undefined ? { originMs: this.origin } : {}),
      shards: this.shards,
    };
    writeFileSync(tmp, JSON.stringify(body, null, 2));
    renameSync(tmp, this.file);
  }

  private schedule(): void {
    if (!this.file || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      try {
        this.flush();
      } catch (e) {
        console.warn(`[local-esm] could not persist checkpoint ${this.file}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }, FLUSH_DELAY_MS);
    this.timer.unref();
  }
}
