// Input event schemas (zod). An event that fails its job's schema is rejected to rejected/ with
// the zod message as the reason; numbers must be finite (JSON cannot carry NaN/Infinity anyway,
// but huge literals such as 1e400 parse to Infinity: zod 4's z.number() rejects ±Infinity and NaN).
import { z } from 'zod';

/** Event time as it arrives: epoch milliseconds, epoch seconds, or an ISO-8601 string with a zone. */
export const EventTimeField = z.union([z.number(), z.string().min(1).max(64)]);

export const SensorReading = z.object({
  sensorId: z.string().min(1).max(128),
  ts: EventTimeField,
  temperature: z.number().gte(-273.15, 'temperature below absolute zero'),
  humidity: z.number().min(0).max(100).optional(),
});
export type SensorReading = z.infer<typeof SensorReading>;

export const Click = z.object({
  userId: z.string().min(1).max(128),
  page: z.string().min(1).max(2048),
  ts: EventTimeField,
  dwellMs: z.number().nonnegative().optional(),
});
export type Click = z.infer<typeof Click>;

export const Post = z.object({
  postId: z.string().min(1).max(128),
  ts: EventTimeField,
  text: z.string().max(10_000),
  lang: z.string().min(2).max(16).optional(),
});
export type Post = z.infer<typeof Post>;
