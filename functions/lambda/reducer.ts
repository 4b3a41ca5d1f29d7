// Lambda entry of the reducer: the job is bound at bundle time ('riffle:job', see job.d.ts).
import job from 'riffle:job';
import { reducerLambda } from '../reducer';

export const handler = reducerLambda(job);
