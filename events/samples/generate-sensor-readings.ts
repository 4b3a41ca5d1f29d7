// Regenerates events/samples/sensor-readings.jsonl.gz, the sample data `npm start` streams:
// 60,000 readings from 200 sensors over two hours of event time (2026-01-15 08:00–10:00 UTC),
// with a daily temperature cycle, per-sensor offsets, noise, network disorder (up to 45 s), a
// handful of stragglers 15 minutes late (beyond the 2-minute allowed lateness → late/), and a
// few malformed records (→ rejected/). Deterministic: run it again and the file is identical.
//   npx tsx events/samples/generate-sensor-readings.ts
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export const SAMPLE_FILE = path.join(__dirname, 'sensor-readings.jsonl.gz');
const COUNT = 60_000;
const SENSORS = 200;
const START = Date.parse('2026-01-15T08:00:00Z');
const SPAN = 2 * 3_600_000;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function sampleLines(): string[] {
  const rand = rng(20260115);
  const lines: string[] = [];
  for (let i = 0; i < COUNT; i++) {
    const sensor = Math.floor(rand() * SENSORS);
    const sensorId = `sensor-${String(sensor).padStart(4, '0')}`;
    const arrival = START + (i / COUNT) * SPAN;
    // Readings arrive in order of arrival; their event time is earlier by a network delay.
    let ts = Math.round(arrival - rand() * rand() * 45_000);
    if (rand() < 0.0005) ts -= 15 * 60_000; // a straggler: buffered on a device for 15 minutes
    const hour = ((ts / 3_600_000) % 24) + 1; // 09:00–11:00 local, warming up
    const temperature = Math.round((14 + 6 * Math.sin(((hour - 9) / 24) * 2 * Math.PI) + (sensor % 17) * 0.3 + (rand() - 0.5) * 1.5) * 100) / 100;
    const reading: Record<string, unknown> = { sensorId, ts, temperature };
    if (rand() < 0.85) reading.humidity = Math.round((45 + 20 * rand()) * 10) / 10;
    const bad = rand();
    if (bad < 0.0005) lines.push(`{"sensorId":"${sensorId}","ts":${ts},"temperature":`); // truncated
    else if (bad < 0.001) lines.push(JSON.stringify({ ...reading, temperature: 'n/a' }));
    else if (bad < 0.0015) lines.push(JSON.stringify({ sensorId, temperature }));
    else lines.push(JSON.stringify(reading));
  }
  return lines;
}

if (require.main === module) {
  const lines = sampleLines();
  writeFileSync(SAMPLE_FILE, gzipSync(Buffer.from(`${lines.join('\n')}\n`), { level: 9 }));
  console.log(`wrote ${lines.length} lines to ${SAMPLE_FILE}`);
}
