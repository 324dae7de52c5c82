// The ServiceConfigError a call throws (its field and message are what the user's Warning says);
// any other outcome fails the test.
import { ServiceConfigError } from '../../providers/provider.js';

export function thrownConfigError(fn: () => unknown): ServiceConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ServiceConfigError) return error;
    throw error;
  }
  throw new Error('expected a ServiceConfigError');
}
