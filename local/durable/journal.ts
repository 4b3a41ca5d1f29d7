// An append-only journal file: what the local cloud writes BEFORE it acknowledges something
// (Firehose records, accepted asynchronous Lambda events), so that a process killed at any
// instant loses nothing it answered for. One append = one frame = one write() call (a group
// commit: a PutRecordBatch of 500 records costs one write and at most one fsync, not 500).
//
// Frame: [u32 LE payload length][u32 LE CRC-32 of (length bytes ‖ payload)][payload], payload =
// the append's entries, each [u32 LE length][bytes]. Recovery reads frames until the first one
// that is incomplete or fails its CRC and drops everything from there: a torn tail is a write the
// process died in, and its caller never got an acknowledgement (it is acknowledged only after
// append() returned). The CRC covers the length too, so a zero-filled tail (an extended file whose
// blocks never hit the disk) is rejected rather than read as empty frames.
//
// Durability (FsyncPolicy):
//   'never'      — write() only: the bytes are in the OS page cache when append() returns, which
//                  survives a process kill but not an OS crash or power loss.
//   'commit'     — append() also returns a promise that resolves after an fsync covering it;
//                  concurrent appends share one fsync (group commit, off the event loop).
//   {intervalMs} — write() now, fsync in the background every intervalMs: an OS crash loses at
//                  most that window.
// Hand-written (no dependency): the format is ~40 lines; the log-structured stores on npm
// (LevelDB via classic-level, hypercore…) bring a database or a replication protocol for it.
import { closeSync, constants, fsync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';

export type FsyncPolicy = 'never' | 'commit' | { readonly intervalMs: number };

export interface RecoveredJournal {
  /** Entries of every complete frame, in append order. */
  readonly entries: Buffer[];
  /** Frames read (appends that completed). */
  readonly frames: number;
  /** Length of the valid prefix of the file. */
  readonly validBytes: number;
  /** Bytes after the valid prefix (a torn or corrupt tail), dropped. */
  readonly droppedBytes: number;
}

const FRAME_HEADER = 8;
/** Larger "frames" are garbage lengths, not real appends (Lambda's async limit is 1 MB, Firehose's batch 4 MiB). */
const MAX_FRAME = 256 * 1024 * 1024;

/** Encodes one append (a non-empty list of entries) as a frame. */
export function encodeFrame(entries: readonly Buffer[]): Buffer {
  let size = 0;
  for (const e of entries) size += 4 + e.length;
  const frame = Buffer.allocUnsafe(FRAME_HEADER + size);
  frame.writeUInt32LE(size, 0);
  let at = FRAME_HEADER;
  for (const e of entries) {
    frame.writeUInt32LE(e.length, at);
    e.copy(frame, at + 4);
    at += 4 + e.length;
  }
  frame.writeUInt32LE(frameCrc(frame, size), 4);
  return frame;
}

function frameCrc(frame: Buffer, size: number): number {
  return crc32(frame.subarray(FRAME_HEADER, FRAME_HEADER + size), crc32(frame.subarray(0, 4)));
}

/** Parses a journal's bytes: the entries of its complete frames and where the valid prefix ends. */
export function decodeJournal(data: Buffer): RecoveredJournal {
  const entries: Buffer[] = [];
  let at = 0;
  let frames = 0;
  while (at + FRAME_HEADER <= data.length) {
    const size = data.readUInt32LE(at);
    if (size === 0 || size > MAX_FRAME || at + FRAME_HEADER + size > data.length) break;
    const frame = data.subarray(at, at + FRAME_HEADER + size);
    if (frame.readUInt32LE(4) !== frameCrc(frame, size)) break;
    const parsed = splitEntries(frame.subarray(FRAME_HEADER));
    if (!parsed) break;
    for (const e of parsed) entries.push(e);
    frames++;
    at += FRAME_HEADER + size;
  }
  return { entries, frames, validBytes: at, droppedBytes: data.length - at };
}

function splitEntries(payload: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let at = 0;
  while (at < payload.length) {
    if (at + 4 > payload.length) return undefined;
    const n = payload.readUInt32LE(at);
    if (at + 4 + n > payload.length) return undefined;
    out.push(payload.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

/** Reads a journal file (missing = empty). */
export function readJournal(file: string): RecoveredJournal {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], frames: 0, validBytes: 0, droppedBytes: 0 };
    throw err;
  }
  return decodeJournal(data);
}

/** fsyncs a directory, so a file created, renamed or removed in it stays so after a power loss. */
export function fsyncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (err) {
    // Some platforms (Windows) cannot open or fsync a directory; the rename itself is still atomic.
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EBADF'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Positional writes: the file offset is the journal's size whatever truncate() or the open mode did. */
function writeFully(fd: number, data: Buffer, position: number): void {
  let at = 0;
  while (at < data.length) at += writeSync(fd, data, at, data.length - at, position + at);
}

export interface JournalOptions {
  readonly fsync: FsyncPolicy;
}

export class Journal {
  private fd: number | undefined;
  private size: number;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private dirty = false;
  private dirDirty: boolean;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly file: string,
    fd: number,
    size: number,
    private readonly policy: FsyncPolicy,
    created: boolean,
  ) {
    this.fd = fd;
    this.size = size;
    this.dirDirty = created && policy !== 'never';
    if (typeof policy === 'object') {
      if (!(policy.intervalMs > 0)) throw new Error(`fsync interval must be > 0 ms, got ${policy.intervalMs}`);
      this.timer = setInterval(() => {
        if (this.dirty) void this.sync().catch(() => undefined);
      }, policy.intervalMs);
      this.timer.unref();
    }
  }

  /**
   * Opens (or creates) a journal for appending after recovering what it holds: the entries of its
   * complete frames are returned and a torn tail is cut off, so new appends follow valid frames.
   */
  static open(file: string, options: JournalOptions): { journal: Journal; recovered: RecoveredJournal } {
    mkdirSync(path.dirname(file), { recursive: true });
    const recovered = readJournal(file);
    const fd = openSync(file, constants.O_RDWR | constants.O_CREAT);
    let created = recovered.validBytes === 0 && recovered.droppedBytes === 0;
    if (recovered.droppedBytes > 0) {
      ftruncateSync(fd, recovered.validBytes);
      created = true; // the cut must reach the disk before new frames follow it
    }
    return { journal: new Journal(file, fd, recovered.validBytes, options.fsync, created), recovered };
  }

  /** Creates a new journal; fails if the file exists. */
  static create(file: string, options: JournalOptions): Journal {
    mkdirSync(path.dirname(file), { recursive: true });
    return new Journal(file, openSync(file, 'wx'), 0, options.fsync, true);
  }

  /** Bytes in the journal. */
  get bytes(): number {
    return this.size;
  }

  /**
   * Appends the entries as one frame with one write() (synchronously: when this returns, a process
   * kill can no longer lose them). The promise resolves when the policy's durability is reached:
   * at once for 'never' and intervals, after a covering fsync for 'commit'.
   */
  append(entries: readonly Buffer[]): Promise<void> {
    const fd = this.requireOpen();
    if (entries.length === 0) return Promise.resolve();
    const frame = encodeFrame(entries);
    writeFully(fd, frame, this.size);
    this.size += frame.length;
    this.dirty = true;
    return this.policy === 'commit' ? this.sync() : Promise.resolve();
  }

  /** Drops every entry (nothing in the journal is needed any more). */
  truncate(): void {
    ftruncateSync(this.requireOpen(), 0);
    this.size = 0;
    this.dirty = true;
  }

  /**
   * Replaces the journal's content with `entries` atomically (compaction): a new file is written,
   * synced and renamed over this one, so a kill at any point leaves the old or the new journal.
   */
  rewrite(entries: readonly Buffer[]): void {
    this.requireOpen();
    const tmp = `${this.file}.compact`;
    const fd = openSync(tmp, 'w');
    const frame = entries.length > 0 ? encodeFrame(entries) : Buffer.alloc(0);
    try {
      writeFully(fd, frame, 0);
      if (this.policy !== 'never') fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    renameSync(tmp, this.file);
    if (this.policy !== 'never') fsyncDirSync(path.dirname(this.file));
    // The old descriptor still points at the replaced file; appends go to the new one. A sync in
    // flight on the old descriptor may still be using it: close it once that settles.
    const old = this.fd as number;
    void (this.running ?? Promise.resolve()).finally(() => closeSync(old));
    this.fd = fd;
    this.size = frame.length;
    this.dirty = false;
  }

  /** fsyncs now (and the directory, the first time after the file was created). */
  sync(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) {
      this.running = this.fsyncNow().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    // An fsync is running; it may have started before the latest write: the next one covers it.
    const next = this.running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      this.queued = undefined;
      return this.sync();
    });
    this.queued = next;
    return next;
  }

  private fsyncNow(): Promise<void> {
    const fd = this.fd;
    // Removed meanwhile: its content was delivered and is no longer needed (close() syncs first).
    if (fd === undefined) return Promise.resolve();
    this.dirty = false;
    const dirDirty = this.dirDirty;
    this.dirDirty = false;
    return new Promise<void>((resolve, reject) => {
      fsync(fd, (err) => {
        if (err) {
          this.dirty = true;
          reject(err);
          return;
        }
        try {
          if (dirDirty) fsyncDirSync(path.dirname(this.file));
          resolve();
        } catch (e) {
          reject(e as Error);
        }
      });
    });
  }

  /** Waits for a running fsync, then closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const fd = this.fd;
    if (fd === undefined) return;
    if (this.dirty && this.policy !== 'never') await this.sync().catch(() => undefined);
    await Promise.allSettled([this.running, this.queued]);
    this.fd = undefined;
    closeSync(fd);
  }

  /** Closes and deletes the journal (everything in it is delivered). */
  async remove(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.dirty = false; // nothing left to make durable: the content is no longer needed
    const fd = this.fd;
    this.fd = undefined;
    await Promise.allSettled([this.running, this.queued]);
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  private requireOpen(): number {
    if (this.fd === undefined) throw new Error(`journal ${this.file} is closed`);
    return this.fd;
  }
}
