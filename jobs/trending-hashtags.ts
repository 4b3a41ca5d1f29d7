// Top 10 hashtags per language over 10-minute windows sliding every minute.
import { count, topK } from '../functions/core/aggregates';
import { defineJob } from '../functions/core/job';
import { hopping } from '../functions/core/windows';
import { postSamples } from '../events/samples/posts';
import { Post } from '../events/schemas';
import { extractHashtags } from './lib/hashtags';

export default defineJob({
  name: 'trending-hashtags',
  schema: Post,
  eventTime: (p) => p.ts,
  // Key = language; one value per distinct hashtag in the post (a post counts once per tag).
  map: (p) => extractHashtags(p.text).map((hashtag) => [p.lang ?? 'und', { hashtag }] as const),
  window: hopping('10m', '1m'),
  allowedLateness: '1m',
  outOfOrderness: '10s',
  aggregates: {
    mentions: count(),
    top_hashtags: topK('hashtag', 10),
  },
  emit: 'final',
  samples: postSamples,
});
