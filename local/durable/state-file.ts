// Small state files the local cloud replaces as a whole (delivery stream definitions, event
// source mapping checkpoints, schedule firing times): written to a temporary file, fsynced,
// renamed over the old one and the directory fsynced, so a kill or power loss at any point
// leaves either the old or the new content, never a torn or empty file. A synchronous form for
// rare writes and shutdown paths, an asynchronous one for periodic writes on the event loop's
// hot path (the fsync runs on the thread pool).
import { closeSync, fsyncSync, mkdirSync, openSync, promises as fsp, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fsyncDirSync } from './journal';

let counter = 0;

function tmpName(file: string): string {
  counter = (counter + 1) % 1_000_000;
  return `${file}.${process.pid}.${counter}.tmp`;
}

/** Atomically replaces `file` with `data`; with `fsync` (default), durable when it returns. */
export function writeStateFileSync(file: string, data: string | Buffer, options: { fsync?: boolean } = {}): void {
  const sync = options.fsync ?? true;
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tmpName(file);
  const fd = openSync(tmp, 'w');
  try {
    const buffer = typeof data === 'string' ? Buffer.from(data) : data;
    let at = 0;
    while (at < buffer.length) at += writeSync(fd, buffer, at, buffer.length - at);
    if (sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  if (sync) fsyncDirSync(path.dirname(file));
}

/** Asynchronous writeStateFileSync: same guarantees, without blocking the event loop on fsync. */
export async function writeStateFile(file: string, data: string | Buffer, options: { fsync?: boolean } = {}): Promise<void> {
  const sync = options.fsync ?? true;
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = tmpName(file);
  const handle = await fsp.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(tmp, file);
  if (sync) {
    const dir = await fsp.open(path.dirname(file), 'r').catch(() => undefined);
    if (dir) await dir.sync().catch(() => undefined).finally(() => dir.close());
  }
}
