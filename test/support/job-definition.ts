// A deployed job's definition back as the object defineJob takes, so a test can change one part of
// it (an aggregate, the window, the map…) and keep the rest exactly as the job file has it.
import type { Job, JobDefinition, MappedValues } from '../../functions/core/job';

export function definitionOf<E, V extends MappedValues>(job: Job<E, V>): JobDefinition<E, V> {
  return {
    name: job.name,
    schema: job.schema,
    eventTime: job.eventTime,
    map: job.map,
    window: job.window,
    allowedLateness: `${job.allowedLatenessMs}ms`,
    outOfOrderness: `${job.outOfOrdernessMs}ms`,
    aggregates: job.aggregates,
  };
}
