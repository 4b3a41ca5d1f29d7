// Lambda entry of the archiver: one per source, no job bound (it copies the input as it is).
import { archiverLambda } from '../archiver';

export const handler = archiverLambda();
