// Partials and the shuffle wire format. A Partial is the pre-aggregated contribution of one
// contiguous run of an input shard (its Origin) to one state item: a (key, window) for
// tumbling/hopping jobs, or a key's sessions for session jobs. Partials travel from mapper to
// reducer packed into Bundles — one Kinesis record per (mapper batch segment, shuffle bucket) —
// which is what keeps the reducer's batches wide: a reducer batch of 1,000 shuffle records holds
// the partials of up to 1,000 mapper batches, so each state item is written about once per
// reducer batch instead of once per event. Bundles are JSON, deflate-compressed.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Json } from './aggregates/types';

/** The contiguous run of an input shard a partial covers: the fence compares `last`. */
export interface Origin {
  readonly shardId: string;
  /** Sequence number of the first Kinesis record of the run. */
  readonly first: string;
  /** Sequence number of the last Kinesis record of the run. */
  readonly last: string;
}

/**
 * One window's contribution. With n = 1 the mapper sends the event itself (`raw`: event time and
 * mapped values) rather than accumulators: smaller on the wire and no accumulator allocation in
 * the common case of one event per key per batch. Otherwise `accs` holds the encoded
 * accumulators in the job's aggregate order.
 */
export interface WindowContribution {
  readonly start: number;
  readonly end: number;
  readonly n: number;
  readonly accs?: Json[];
  readonly raw?: { readonly t: number; readonly values: Record<string, unknown> };
}

export interface Partial {
  readonly key: string;
  /** Tumbling/hopping: exactly one window. Sessions: the key's sessions in this run, merged. */
  readonly windows: readonly WindowContribution[];
}

export interface Bundle {
  readonly job: string;
  readonly origin: Origin;
  /** Shuffle bucket this bundle is for (all partials of a key always go to the same bucket). */
  readonly bucket: number;
  /** The input shard's max event time after this run: the in-band watermark for this bucket. */
  readonly progress: number | null;
  readonly partials: readonly Partial[];
  /** A replay of the gap ending at `gap` (traced: part of it may have been applied before). */
  readonly replay?: { readonly gap: string; readonly traced: boolean };
}

const MAGIC = Buffer.from('RB1');
const WIRE_VERSION = 1;

type WireWindow = [number, number, number, Json[] | null, number | null, Record<string, unknown> | null];
type WirePartial = [string, WireWindow[]];
interface WireBundle {
  v: number;
  j: string;
  s: string;
  f: string;
  l: string;
  b: number;
  w: number | null;
  p: WirePartial[];
  /** Replay: the gap's end, and 1 when untraced. */
  r?: string;
  u?: number;
}

function toWire(p: Partial): WirePartial {
  return [p.key, p.windows.map((w) => [w.start, w.end, w.n, w.accs ?? null, w.raw ? w.raw.t : null, w.raw ? w.raw.values : null])];
}

/** Serialize partials to the JSON text of one bundle (the caller sizes bundles by this length). */
export function partialJson(p: Partial): string {
  return JSON.stringify(toWire(p));
}

/** Encode a bundle from partial JSON texts already produced by partialJson (avoids stringifying twice). */
export function encodeBundleFromJson(header: Omit<Bundle, 'partials'>, partialTexts: readonly string[]): Buffer {
  const head: Omit<WireBundle, 'p'> = {
    v: WIRE_VERSION,
    j: header.job,
    s: header.origin.shardId,
    f: header.origin.first,
    l: header.origin.last,
    b: header.bucket,
    w: header.progress,
    ...(header.replay ? { r: header.replay.gap, ...(header.replay.traced ? {} : { u: 1 }) } : {}),
  };
  const text = `${JSON.stringify(head).slice(0, -1)},"p":[${partialTexts.join(',')}]}`;
  return Buffer.concat([MAGIC, deflateRawSync(Buffer.from(text, 'utf8'), { level: 6 })]);
}

export function encodeBundle(bundle: Bundle): Buffer {
  return encodeBundleFromJson(bundle, bundle.partials.map(partialJson));
}

export function isBundle(data: Buffer): boolean {
  return data.length >= MAGIC.length && data.subarray(0, MAGIC.length).equals(MAGIC);
}

/** Decode a shuffle record. Throws on anything that is not a bundle of this version (a bug or foreign writer). */
export function decodeBundle(data: Buffer): Bundle {
  if (!isBundle(data)) throw new Error('shuffle record is not a Riffle bundle (bad magic bytes)');
  const wire = JSON.parse(inflateRawSync(data.subarray(MAGIC.length)).toString('utf8')) as WireBundle;
  if (wire.v !== WIRE_VERSION) throw new Error(`shuffle bundle version ${wire.v} is not supported by this reducer (expects ${WIRE_VERSION})`);
  return {
    job: wire.j,
    origin: { shardId: wire.s, first: wire.f, last: wire.l },
    bucket: wire.b,
    progress: wire.w,
    ...(typeof wire.r === 'string' ? { replay: { gap: wire.r, traced: wire.u !== 1 } } : {}),
    partials: wire.p.map(([key, windows]) => ({
      key,
      windows: windows.map(([start, end, n, accs, t, values]) =>
        t !== null && values !== null ? { start, end, n, raw: { t, values } } : { start, end, n, accs: accs ?? [] },
      ),
    })),
  };
}
