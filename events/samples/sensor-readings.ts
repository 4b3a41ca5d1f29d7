// A few hand-written sensor readings: the sample events that jobs/sensor-averages checks itself with.
import type { SensorReading } from '../schemas';

export const sensorReadingSamples: SensorReading[] = [
  { sensorId: 'sensor-0001', ts: 1767225600000, temperature: 21.5, humidity: 40 },
  { sensorId: 'sensor-0002', ts: '2026-01-01T00:00:05Z', temperature: 19.25 },
];
