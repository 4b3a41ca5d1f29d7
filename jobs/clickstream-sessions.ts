// Per-user sessions (30-minute inactivity gap) over the same click stream: clicks and duration.
import { count, first, last } from '../functions/core/aggregates';
import { defineJob } from '../functions/core/job';
import { session } from '../functions/core/windows';
import { clickSamples } from '../events/samples/clicks';
import { Click } from '../events/schemas';
import { eventTimeSpan } from './lib/event-time-span';

export default defineJob({
  name: 'clickstream-sessions',
  source: 'clickstream',
  schema: Click,
  eventTime: (c) => c.ts,
  map: (c) => [[c.userId, { page: c.page }]],
  window: session('30m'),
  allowedLateness: '1m',
  outOfOrderness: '5s',
  aggregates: {
    clicks: count(),
    entry_page: first('page'),
    exit_page: last('page'),
    duration_ms: eventTimeSpan(),
  },
  emit: 'final',
  samples: clickSamples,
});
