// Limits both sides of a seam must agree on: the functions check them when they start, the CDK
// app checks the same numbers at synth (infra/config.ts), so a deployment that synthesizes is one
// whose functions accept their configuration.

/**
 * Shuffle buckets (RIFFLE_SHUFFLE_BUCKETS). Every mapper batch sends one bundle per bucket — an
 * empty one too, it carries the shard's progress for the in-band watermark — and every watermark
 * read queries one progress item per bucket, so the count bounds the shuffle records per mapper
 * batch and the size of the progress partition. 1,024 keeps both within one PutRecords wave of
 * three calls and a progress Query of a few pages.
 */
export const SHUFFLE_BUCKETS = { min: 1, max: 1024 } as const;

/** Days a CLOSED window item is kept (RIFFLE_CLOSED_RETENTION_DAYS): late partials for it are recognised until TTL removes it. */
export const CLOSED_RETENTION_DAYS = { min: 1, max: 365, default: 7 } as const;

/** Spread of the open-windows index: its partition key takes this many values per job (no hot index key). */
export const OPEN_INDEX_PARTITIONS = 8;

/** Kinesis Data Streams' own limits, which the mapper's shuffle writer and the producer both respect. */
export const KINESIS = {
  putRecordsMaxRecords: 500,
  putRecordsMaxBytes: 5 * 1024 * 1024,
  /** Data plus partition key of one record. */
  recordMaxBytes: 1024 * 1024,
} as const;
