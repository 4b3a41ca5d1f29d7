// The mapper's core: one input batch → partials per state item, plus rejected and late events:
// decode → validate (schema) → event time → map → assign windows → combine.
//
// Exactly-once rests on the origin ranges this produces: the batch is cut into *segments* —
// contiguous runs of the shard — at every `cutAfter` position (the ends of earlier attempts that
// may have been partly emitted, protocol/write-ahead.ts), so that no partial's range ever
// straddles a range the reducer may already have applied. Each segment yields at most one partial
// per state item.
import type { AnyAggregate, Json } from './aggregates/types';
import { decodeInto, DecodedEvent, InputRecord, Rejection } from './input-decoding';
import { FastValidator, fastValidator, UNSURE } from './fast-schema';
import { checkEventTimeSkew, parseEventTime } from './event-time';
import type { Job, MappedValues } from './job';
import type { Origin, Partial, WindowContribution } from './shuffle-format';
import type { PendingEnd } from './progress';
import { iso, LateEventRecord, makeRejected, REJECTED_PAYLOAD_MAX_BYTES, RejectedRecord } from './output-records';
import { createHash } from 'node:crypto';
import { isWindowClosed, lateReasonFor, openWindowsFor } from './watermark';
import { mergeSessions, Window } from './windows';

/** Longest accepted result key (DynamoDB keys are ≤ 2 KiB; keys also land in S3 and SQL). */
export const MAX_KEY_LENGTH = 512;
const LONE_SURROGATE = /\p{Cs}/u;
/** Whether `s` has any UTF-16 surrogate unit: a scan ~8× cheaper than the regex, which then decides pairing. */
function hasSurrogateUnit(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}
/** Late events larger than this keep a truncated payload instead of the event (Firehose takes ≤ 1,000 KiB). */
export const LATE_EVENT_MAX_BYTES = REJECTED_PAYLOAD_MAX_BYTES;

export interface MapperBatchOptions {
  /** The job watermark when the batch started (events for windows closed by it are late). */
  watermark: number;
  nowMs: number;
  /**
   * Earlier attempts' range ends (and the watermark each classified its last segment with): a
   * segment ends at each, and a segment up to a recorded end is classified with that end's
   * watermark — the retry decides late/on-time exactly as the attempt it repeats.
   */
  cutAfter?: readonly PendingEnd[];
}

export interface Segment {
  origin: Origin;
  partials: Partial[];
  /** Max valid event time up to the end of this segment (the batch's running max). */
  maxEventTime: number | undefined;
}

export interface MapperOutput {
  segments: Segment[];
  rejected: RejectedRecord[];
  late: LateEventRecord[];
  /** Max event time of the valid events in the batch (undefined when none). */
  maxEventTime: number | undefined;
  stats: { records: number; events: number; rejected: number; late: number; partials: number };
}

/** Accumulation slot of one window: the single raw event until a second one arrives. */
interface Slot {
  start: number;
  end: number;
  n: number;
  rawT: number;
  rawValues: MappedValues | undefined;
  accs: unknown[] | undefined;
  /** The key's next window slot (tumbling/hopping). */
  next?: Slot | undefined;
}

export class MapperBatch {
  private readonly aggregates: readonly AnyAggregate[];
  private readonly names: readonly string[];
  private readonly sessionGap: number | undefined;
  /** Indices of the aggregates that pre-check their values. */
  private readonly checked: number[];
  /** The fields the aggregates read: all of a raw event's values that travel to the reducer. */
  private readonly fields: readonly string[];
  /** The schema compiled to a plain validator (fast-schema.ts); zod runs only when it is unsure. */
  private readonly fastSchema: FastValidator | undefined;
  private readonly cuts: bigint[];
  private readonly cutWatermarks: number[];
  private cutIndex = 0;
  /** The watermark the current segment is classified with. */
  private watermark: number;

  private segments: Segment[] = [];
  private segFirst: string | undefined;
  private segLast: string | undefined;
  /** Per key, its windows' slots as a short chain (one link in the common case: no inner Map). */
  private windowed = new Map<string, Slot>();
  private sessions = new Map<string, Slot[]>();

  private readonly rejected: RejectedRecord[] = [];
  private readonly late: LateEventRecord[] = [];
  private maxEventTime: number | undefined;
  private readonly stats = { records: 0, events: 0, rejected: 0, late: 0, partials: 0 };

  constructor(
    private readonly job: Job<unknown, MappedValues>,
    private readonly shardId: string,
    private readonly options: MapperBatchOptions,
  ) {
    this.names = Object.keys(job.aggregates);
    this.aggregates = this.names.map((name) => job.aggregates[name] as AnyAggregate);
    this.sessionGap = job.window.type === 'session' ? job.window.gapMs : undefined;
    this.checked = this.aggregates.flatMap((agg, i) => (agg.check && agg.field !== undefined ? [i] : []));
    this.fields = [...new Set(this.aggregates.flatMap((agg) => (agg.field === undefined ? [] : [agg.field])))];
    this.fastSchema = fastValidator(job.schema);
    const ends = [...(options.cutAfter ?? [])].map((p) => ({ at: BigInt(p.end), watermark: p.watermark ?? Number.NEGATIVE_INFINITY }));
    ends.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    this.cuts = ends.map((e) => e.at);
    this.cutWatermarks = ends.map((e) => e.watermark);
    this.watermark = options.watermark;
  }

  /** Fold one Kinesis record (plain or KPL-aggregated) into the batch. Never throws for bad data. */
  add(record: InputRecord): void {
    this.stats.records++;
    this.maybeCut(record.sequenceNumber);
    if (this.segFirst === undefined) {
      this.segFirst = record.sequenceNumber;
      this.watermark = this.segmentWatermark(record.sequenceNumber);
    }
    this.segLast = record.sequenceNumber;

    // Fresh arrays per record: cheaper than truncating (length = 0) and nothing outlives the record.
    const events: DecodedEvent[] = [];
    const rejections: Rejection[] = [];
    decodeInto(record, events, rejections);
    for (let i = 0; i < rejections.length; i++) {
      const r = rejections[i] as Rejection;
      this.reject(r.reason, r.position.seq, r.position.sub, r.partitionKey, r.raw);
    }
    for (let i = 0; i < events.length; i++) this.addEvent(events[i] as DecodedEvent, record);
  }

  /** Close the batch: the partials of every segment, the rejects and the late events. */
  finish(): MapperOutput {
    this.closeSegment();
    return {
      segments: this.segments,
      rejected: this.rejected,
      late: this.late,
      maxEventTime: this.maxEventTime,
      stats: this.stats,
    };
  }

  /**
   * A segment starting at `seq` ends at the first recorded end ≥ seq (if any): it repeats part of
   * that attempt, so it gets that attempt's watermark. Past every recorded end: the current one.
   */
  private segmentWatermark(seq: string): number {
    if (this.cuts.length === 0) return this.options.watermark;
    const at = BigInt(seq);
    for (let i = 0; i < this.cuts.length; i++) if ((this.cuts[i] as bigint) >= at) return this.cutWatermarks[i] as number;
    return this.options.watermark;
  }

  /** The watermark the last segment was classified with (recorded with this batch's end). */
  lastSegmentWatermark(): number {
    return this.watermark;
  }

  private maybeCut(seq: string): void {
    if (this.cutIndex >= this.cuts.length || this.segLast === undefined) return;
    const position = BigInt(seq);
    // Skip cut points at or before the segment's last record that a new record passes: the
    // segment must end at the last record ≤ cut point.
    let cut = false;
    while (this.cutIndex < this.cuts.length && (this.cuts[this.cutIndex] as bigint) < position) {
      if ((this.cuts[this.cutIndex] as bigint) >= BigInt(this.segLast)) cut = true;
      this.cutIndex++;
    }
    if (cut) this.closeSegment();
  }

  private closeSegment(): void {
    if (this.segFirst === undefined || this.segLast === undefined) return;
    const partials: Partial[] = [];
    for (const [key, head] of this.windowed) {
      for (let slot: Slot | undefined = head; slot; slot = slot.next) partials.push({ key, windows: [this.contribution(slot)] });
    }
    for (const [key, slots] of this.sessions) {
      const merged = mergeSessions(
        slots.map((slot) => ({ start: slot.start, end: slot.end, value: slot })),
        (into, from) => this.mergeSlots(into, from),
      );
      partials.push({ key, windows: merged.map((m) => this.contribution({ ...m.value, start: m.start, end: m.end })) });
    }
    this.stats.partials += partials.length;
    this.segments.push({ origin: { shardId: this.shardId, first: this.segFirst, last: this.segLast }, partials, maxEventTime: this.maxEventTime });
    this.windowed = new Map();
    this.sessions = new Map();
    this.segFirst = undefined;
    this.segLast = undefined;
  }

  private contribution(slot: Slot): WindowContribution {
    if (slot.accs === undefined) {
      return { start: slot.start, end: slot.end, n: slot.n, raw: { t: slot.rawT, values: this.aggregatedValues(slot.rawValues) } };
    }
    const accs: Json[] = this.aggregates.map((agg, i) => agg.encode(slot.accs?.[i]));
    return { start: slot.start, end: slot.end, n: slot.n, accs };
  }

  /**
   * Only the values the aggregates read (each checked): whatever else `map` returned — a BigInt, a
   * cycle, a megabyte string — must not fail the shuffle put, which would fail the batch on every retry.
   */
  private aggregatedValues(values: MappedValues | undefined): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (values === undefined) return out;
    for (let i = 0; i < this.fields.length; i++) {
      const field = this.fields[i] as string;
      if (values[field] !== undefined) out[field] = values[field];
    }
    return out;
  }

  private reject(reason: string, seq: string, sub: number, partitionKey: string, raw: Buffer): void {
    this.stats.rejected++;
    this.rejected.push(
      makeRejected({ job: this.job.name, reason, shardId: this.shardId, seq, sub, partitionKey, raw, nowMs: this.options.nowMs }),
    );
  }

  private rejectEvent(decoded: DecodedEvent, reason: string): void {
    // The bytes as sent, not the parsed value re-serialized (1e400 would come back as null).
    this.reject(reason, decoded.position.seq, decoded.position.sub, decoded.partitionKey, decoded.raw);
  }

  /** Why the mapped pairs cannot be counted, or undefined when they all can. */
  private invalidPairs(pairs: readonly (readonly [string, MappedValues])[]): string | undefined {
    // Index loops: destructuring [key, values] goes through the iterator protocol per pair.
    for (let p = 0; p < pairs.length; p++) {
      const pair = pairs[p] as readonly [string, MappedValues];
      const key = pair[0];
      const values = pair[1];
      if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
        return `map produced an invalid key ${JSON.stringify(key)}: keys must be non-empty strings of at most ${MAX_KEY_LENGTH} characters`;
      }
      // A lone surrogate (legal as a JSON escape) has no UTF-8 form: DynamoDB would store it as
      // U+FFFD, colliding with another key's state item.
      if (hasSurrogateUnit(key) && LONE_SURROGATE.test(key)) return `map produced the key ${JSON.stringify(key)}, which has an unpaired surrogate and is not valid Unicode text`;
      if (values === null || typeof values !== 'object') return `map produced values that are not an object for key '${key}'`;
      for (const i of this.checked) {
        const agg = this.aggregates[i] as AnyAggregate;
        const problem = (agg.check as (value: unknown) => string | undefined)(values[agg.field as string]);
        if (problem) return `${this.names[i]}: ${problem}`;
      }
    }
    return undefined;
  }

  private addEvent(decoded: DecodedEvent, record: InputRecord): void {
    let event = this.fastSchema === undefined ? UNSURE : this.fastSchema(decoded.value);
    if (event === UNSURE) {
      const parsed = this.job.schema.safeParse(decoded.value);
      if (!parsed.success) {
        this.rejectEvent(decoded, `schema: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ')}`);
        return;
      }
      event = parsed.data;
    }

    let t: number;
    let pairs: readonly (readonly [string, MappedValues])[];
    try {
      const time = parseEventTime(this.job.eventTime(event));
      if (!time.ok) return this.rejectEvent(decoded, `event time: ${time.reason}`);
      t = time.ms;
      const skew = checkEventTimeSkew(t, this.options.nowMs, this.job.maxFutureSkewMs);
      if (skew) return this.rejectEvent(decoded, `event time: ${skew}`);
      const mapped = this.job.map(event);
      pairs = Array.isArray(mapped) ? mapped : Array.from(mapped);
    } catch (error) {
      // User code (eventTime/map) throwing on an event is deterministic: retrying cannot help.
      return this.rejectEvent(decoded, `job code threw: ${(error as Error)?.message ?? String(error)}`);
    }
    const invalid = this.invalidPairs(pairs);
    if (invalid) return this.rejectEvent(decoded, invalid);

    this.stats.events++;
    if (this.maxEventTime === undefined || t > this.maxEventTime) this.maxEventTime = t;
    const spec = this.job.window;
    if (spec.type === 'tumbling') {
      // Hot path (no window arrays): the one window and whether it has closed.
      const start = t - (((t % spec.sizeMs) + spec.sizeMs) % spec.sizeMs);
      const end = start + spec.sizeMs;
      if (isWindowClosed(end, this.job.allowedLatenessMs, this.watermark)) {
        for (let p = 0; p < pairs.length; p++) this.recordLate((pairs[p] as readonly [string, MappedValues])[0], { start, end }, t, decoded, record);
        return;
      }
      for (let p = 0; p < pairs.length; p++) {
        const pair = pairs[p] as readonly [string, MappedValues];
        this.addWindowed(pair[0], start, end, t, pair[1]);
      }
      return;
    }
    const { open, closed } = openWindowsFor(spec, t, this.job.allowedLatenessMs, this.watermark);
    for (const window of closed) {
      for (const [key] of pairs) this.recordLate(key, window, t, decoded, record);
    }
    if (open.length === 0) return;
    for (const [key, values] of pairs) {
      if (this.sessionGap !== undefined) this.addSession(key, open[0] as Window, t, values);
      else for (const window of open) this.addWindowed(key, window.start, window.end, t, values);
    }
  }

  private recordLate(key: string, window: Window, t: number, decoded: DecodedEvent, record: InputRecord): void {
    this.stats.late++;
    this.late.push({
      kind: 'event',
      job: this.job.name,
      key,
      windowStart: iso(window.start),
      windowEnd: iso(window.end),
      eventTime: iso(t),
      watermark: Number.isFinite(this.watermark) ? iso(this.watermark) : null,
      reason: lateReasonFor(window, this.job.allowedLatenessMs, this.watermark),
      shardId: record.shardId,
      sequenceNumber: decoded.position.seq,
      subSequenceNumber: decoded.position.sub,
      ...(decoded.raw.length > LATE_EVENT_MAX_BYTES
        ? {
            event: null,
            payload: decoded.raw.subarray(0, LATE_EVENT_MAX_BYTES).toString('base64'),
            payloadBytes: decoded.raw.length,
            payloadTruncated: true,
            payloadSha256: createHash('sha256').update(decoded.raw).digest('hex'),
          }
        : { event: decoded.value }),
      lateAt: iso(this.options.nowMs),
    });
  }

  private addWindowed(key: string, start: number, end: number, t: number, values: MappedValues): void {
    const head = this.windowed.get(key);
    let slot = head;
    while (slot !== undefined && slot.start !== start) slot = slot.next;
    if (slot === undefined) {
      this.windowed.set(key, { start, end, n: 1, rawT: t, rawValues: values, accs: undefined, next: head });
    } else {
      this.addToSlot(slot, t, values);
    }
  }

  private addSession(key: string, proto: Window, t: number, values: MappedValues): void {
    let slots = this.sessions.get(key);
    if (slots === undefined) {
      slots = [];
      this.sessions.set(key, slots);
    }
    // Within a batch a key has few sessions; merging happens once, in closeSegment.
    const hit = slots.find((s) => s.start <= proto.end && proto.start <= s.end);
    if (hit === undefined) {
      slots.push({ start: proto.start, end: proto.end, n: 1, rawT: t, rawValues: values, accs: undefined, next: undefined });
      return;
    }
    hit.start = Math.min(hit.start, proto.start);
    hit.end = Math.max(hit.end, proto.end);
    this.addToSlot(hit, t, values);
  }

  private materialize(slot: Slot): unknown[] {
    if (slot.accs === undefined) {
      const accs = this.aggregates.map((agg) => agg.zero());
      const values = slot.rawValues ?? {};
      for (let i = 0; i < this.aggregates.length; i++) {
        const agg = this.aggregates[i] as AnyAggregate;
        accs[i] = agg.add(accs[i], agg.field === undefined ? undefined : values[agg.field], slot.rawT);
      }
      slot.accs = accs;
      slot.rawValues = undefined;
    }
    return slot.accs;
  }

  private addToSlot(slot: Slot, t: number, values: MappedValues): void {
    const accs = this.materialize(slot);
    for (let i = 0; i < this.aggregates.length; i++) {
      const agg = this.aggregates[i] as AnyAggregate;
      accs[i] = agg.add(accs[i], agg.field === undefined ? undefined : values[agg.field], t);
    }
    slot.n++;
  }

  private mergeSlots(into: Slot, from: Slot): Slot {
    const a = this.materialize(into);
    const b = this.materialize(from);
    for (let i = 0; i < this.aggregates.length; i++) a[i] = (this.aggregates[i] as AnyAggregate).merge(a[i], b[i]);
    into.n += from.n;
    return into;
  }
}

/** Map a whole batch in one call (tests and benchmarks; the handler feeds records one by one). */
export function mapBatch(job: Job<unknown, MappedValues>, shardId: string, records: Iterable<InputRecord>, options: MapperBatchOptions): MapperOutput {
  const batch = new MapperBatch(job, shardId, options);
  for (const record of records) batch.add(record);
  return batch.finish();
}
