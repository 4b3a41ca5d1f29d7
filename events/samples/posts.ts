// Sample posts used by jobs/trending-hashtags.ts to check its map at definition time.
import type { Post } from '../schemas';

export const postSamples: Post[] = [
  { postId: 'p1', ts: 1767225600000, text: 'Launch day! #serverless #aws', lang: 'en' },
  { postId: 'p2', ts: 1767225601000, text: 'Hola #serverless' },
];
