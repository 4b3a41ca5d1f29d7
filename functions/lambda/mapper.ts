// Lambda entry of the mapper: the job is bound at bundle time ('riffle:job', see job.d.ts).
import job from 'riffle:job';
import { mapperLambda } from '../mapper';

export const handler = mapperLambda(job);
