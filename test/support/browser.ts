// Chromium for the browser tests: the build @sparticuz/chromium ships inside its npm package (no
// download), driven by playwright-core. The package inflates its binary into os.tmpdir() and takes
// any file already there for a finished one, so two test files starting together could launch a
// half-written binary: a lock directory makes the first extraction exclusive, and a marker written
// after it tells a complete binary from one left by an interrupted run.
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import chromium from '@sparticuz/chromium';
import { chromium as playwright, type Browser } from 'playwright-core';

const LOCK = path.join(os.tmpdir(), 'riffle-chromium.lock');
const MARKER = path.join(os.tmpdir(), 'riffle-chromium.ok');
const BINARY = path.join(os.tmpdir(), 'chromium');
/** Flags of the package meant for Lambda that would weaken what the tests check, or destabilise it. */
const DROPPED = new Set(['--disable-web-security', '--allow-running-insecure-content', '--single-process']);

async function executablePath(): Promise<string> {
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (existsSync(MARKER) && existsSync(BINARY)) return chromium.executablePath();
    try {
      mkdirSync(LOCK);
    } catch {
      // Another test file is extracting; a lock older than 3 minutes is from a killed run.
      if (existsSync(LOCK) && Date.now() - statSync(LOCK).mtimeMs > 180_000) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`Chromium extraction lock ${LOCK} held for too long`);
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    try {
      rmSync(BINARY, { force: true }); // whatever is there was not finished under the lock
      const file = await chromium.executablePath();
      writeFileSync(MARKER, file);
      return file;
    } finally {
      rmSync(LOCK, { recursive: true, force: true });
    }
  }
}

export async function launchChromium(): Promise<Browser> {
  return playwright.launch({ executablePath: await executablePath(), args: chromium.args.filter((a) => !DROPPED.has(a)), headless: true });
}
