// A Lambda handler configured on its first invocation (not at module load): the environment is
// read, and a configuration error becomes a rejected invocation like any other failure. Warm
// invocations reuse the configured handler (and its SDK clients).
import type { Context } from 'aws-lambda';

export function configuredOnFirstCall<E, R>(configure: () => (event: E, context: Context) => Promise<R>): (event: E, context: Context) => Promise<R> {
  let configured: ((event: E, context: Context) => Promise<R>) | undefined;
  return async (event, context) => {
    configured ??= configure();
    return configured(event, context);
  };
}
