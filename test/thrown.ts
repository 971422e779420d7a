// The RackhandError a synchronous call throws: the unit tests' way to look at an error's code and details.
import { expect } from 'vitest';
import { RackhandError } from '../src/errors.js';

export function thrown(fn: () => unknown): RackhandError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RackhandError);
    return e as RackhandError;
  }
  throw new Error('expected a RackhandError, nothing was thrown');
}
