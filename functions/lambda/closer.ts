// Lambda entry of the closer: the job is bound at bundle time ('riffle:job', see job.d.ts).
import job from 'riffle:job';
import { closerLambda } from '../closer';

export const handler = closerLambda(job);
