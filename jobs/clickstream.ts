// Clicks per page per minute: count, distinct users and p95 dwell time.
import { count, distinct, quantile } from '../functions/core/aggregates';
import { defineJob } from '../functions/core/job';
import { tumbling } from '../functions/core/windows';
import { clickSamples } from '../events/samples/clicks';
import { Click } from '../events/schemas';

export default defineJob({
  name: 'clickstream',
  schema: Click,
  eventTime: (c) => c.ts,
  map: (c) => [[c.page, { userId: c.userId, dwellMs: c.dwellMs }]],
  window: tumbling('1m'),
  allowedLateness: '30s',
  outOfOrderness: '5s',
  aggregates: {
    clicks: count(),
    users: distinct('userId'),
    dwell_p95_ms: quantile('dwellMs', 0.95),
  },
  emit: 'final',
  samples: clickSamples,
});
