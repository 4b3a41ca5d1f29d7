// Average, min, max and p95 temperature (and mean humidity) per sensor per 5 minutes.
import { count, max, mean, min, quantile } from '../functions/core/aggregates';
import { defineJob } from '../functions/core/job';
import { tumbling } from '../functions/core/windows';
import { sensorReadingSamples } from '../events/samples/sensor-readings';
import { SensorReading } from '../events/schemas';

export default defineJob({
  name: 'sensor-averages',
  schema: SensorReading,
  eventTime: (r) => r.ts,
  map: (r) => [[r.sensorId, { temperature: r.temperature, humidity: r.humidity }]],
  window: tumbling('5m'),
  allowedLateness: '2m',
  outOfOrderness: '30s',
  aggregates: {
    count: count(),
    temperature_avg: mean('temperature'),
    temperature_min: min('temperature'),
    temperature_max: max('temperature'),
    temperature_p95: quantile('temperature', 0.95),
    humidity_avg: mean('humidity'),
  },
  emit: 'final',
  samples: sensorReadingSamples,
});
