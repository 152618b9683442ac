// The range check every bound bigint passes before the driver encodes it (it would wrap silently).
import { describe, expect, it } from 'vitest';
import { assertInt64Params, definitelyNotApplied, Int64RangeError, storeError } from '../src/index.ts';

describe('assertInt64Params', () => {
  it.each([[[2n ** 63n - 1n]], [[-(2n ** 63n)]], [[0n, 'x', 5, null]], [undefined], [{}]])('accepts %s', (params) => {
    expect(() => assertInt64Params(params)).not.toThrow();
  });

  it.each([
    [[2n ** 63n], 1],
    [['a', -(2n ** 63n) - 1n], 2],
    [[1n, 2n ** 64n + 5n], 2],
  ])('refuses %s, naming parameter %i', (params, index) => {
    expect(() => assertInt64Params(params)).toThrow(new Int64RangeError(`parameter ${index} (${String(params[index - 1])}) does not fit a 64-bit column`));
  });

  it('is certainly not applied (nothing was sent) and stays a bug to see, not "unavailable"', () => {
    const err = new Int64RangeError('x');
    expect(definitelyNotApplied(err)).toBe(true);
    expect(storeError(err, 'write')).toBe(err);
  });
});
