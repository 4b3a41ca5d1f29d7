// Sample click events used by jobs/clickstream*.ts to check their maps at definition time.
import type { Click } from '../schemas';

export const clickSamples: Click[] = [
  { userId: 'user-1', page: '/home', ts: 1767225600000, dwellMs: 5400 },
  { userId: 'user-2', page: '/pricing', ts: 1767225601000 },
];
