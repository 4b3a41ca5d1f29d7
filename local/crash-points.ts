// Crash points: named instants in the local cloud where a crash test kills the whole process with
// SIGKILL — a real kill (no exception, no finally blocks, no flush, no graceful stop), so that what
// survives is exactly what was on disk. `RIFFLE_CRASH_AT` arms one point per process:
//
//   RIFFLE_CRASH_AT=<point>[@<target>][:<N>]
//
//   point   one of CRASH_POINTS below
//   target  only when the point is reached for this target (a stream, delivery stream or function
//           name; equal to it or contained in it, e.g. `@Reducer`)
//   N       the Nth time it is reached (default 1); counted from this process's start
//
// e.g. RIFFLE_CRASH_AT=firehose.put-record-batch.acked@Riffle-sensor-averages-SensorAveragesDeliveryResult-VRE7Q4Y7DS4W:2
//
// Before dying it writes one line to stderr (CRASH_MARKER …) so that whoever runs the process can
// tell the planned kill from an accident. The variable is read once, at load: with it unset a
// crash point costs one comparison. A malformed value fails at load with what to write instead —
// a typo must not silently turn a crash test into a run without a crash.
import { writeSync } from 'node:fs';

/** Every crash point, with where it is and why that instant is a hard one for durability. */
export const CRASH_POINTS = {
  'kinesis.put-records.stored':
    "Kinesis PutRecords: the records are stored, the response is not sent yet (the producer's retry then puts them twice)",
  'firehose.put-record-batch.acked':
    'Firehose PutRecordBatch: the success answer has been handed to the connection, the records may still be only buffered',
  'esm.batch.invoked':
    "event source mapping: the function's result for a batch has arrived, the shard checkpoint has not moved past the batch",
} as const;

export type CrashPointName = keyof typeof CRASH_POINTS;

/** The first text of the line written to stderr just before the kill. */
export const CRASH_MARKER = '[riffle crash point]';

export interface CrashSpec {
  readonly point: CrashPointName;
  readonly target?: string;
  readonly nth: number;
}

/** Parses a RIFFLE_CRASH_AT value; throws an error saying what to write instead. */
export function parseCrashSpec(text: string): CrashSpec {
  const m = /^([a-z][a-z0-9.-]*)(?:@([^:]+))?(?::(\d+))?$/.exec(text.trim());
  const points = `points: ${Object.keys(CRASH_POINTS).join(', ')}`;
  const usage = `RIFFLE_CRASH_AT=${JSON.stringify(text)}: expected <point>[@<target>][:<N>] with N ≥ 1; ${points}`;
  if (!m) throw new Error(usage);
  const [, point, target, nth] = m;
  if (!(point !== undefined && point in CRASH_POINTS)) throw new Error(`RIFFLE_CRASH_AT=${JSON.stringify(text)}: unknown point '${point}'; ${points}`);
  const n = nth === undefined ? 1 : Number(nth);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(usage);
  return { point: point as CrashPointName, ...(target ? { target } : {}), nth: n };
}

/** The value that arms `spec` (the inverse of parseCrashSpec). */
export function formatCrashSpec(spec: CrashSpec): string {
  return `${spec.point}${spec.target ? `@${spec.target}` : ''}${spec.nth !== 1 ? `:${spec.nth}` : ''}`;
}

const raw = process.env.RIFFLE_CRASH_AT;
const armed: CrashSpec | undefined = raw === undefined || raw.trim() === '' ? undefined : parseCrashSpec(raw);
let hits = 0;

/** A target, or a function computing it (called only when the point itself is armed). */
export type CrashTarget = string | undefined | (() => string | undefined);

/** Kills this process with SIGKILL if RIFFLE_CRASH_AT names this point (and target) and this is the Nth hit. */
export function crashPoint(name: CrashPointName, target?: CrashTarget): void {
  if (armed === undefined || name !== armed.point) return;
  const actual = typeof target === 'function' ? target() : target;
  if (armed.target !== undefined && (actual === undefined || !actual.includes(armed.target))) return;
  hits++;
  if (hits < armed.nth) return;
  try {
    writeSync(2, `${CRASH_MARKER} ${name}${actual ? ` (${actual})` : ''}, hit ${hits}: SIGKILL\n`);
  } catch {
    // stderr closed: die anyway
  }
  process.kill(process.pid, 'SIGKILL');
}

/**
 * crashPoint() once `response` has been handed to the connection (its 'finish' event): for an
 * acknowledgement, the hardest instant is right after it has left. Nothing is registered when
 * the point is not armed.
 */
export function crashPointAfterResponse(response: { once(event: 'finish', listener: () => void): unknown }, name: CrashPointName, target?: CrashTarget): void {
  if (armed === undefined || name !== armed.point) return;
  response.once('finish', () => crashPoint(name, target));
}
