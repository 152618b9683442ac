// The domain's parsers, with the exact messages clients see: each one starts with the field it is about.
import { describe, expect, it } from 'vitest';
import { MAX_AMOUNT, MAX_USER_ID, failed, isAccount, isUuid, parsePositiveInt64, parseUserId, pending, success } from '../src/index.ts';

describe('isAccount', () => {
  it.each([
    ['funding', true],
    ['trading', true],
    ['Funding', false],
    ['spot', false],
    ['', false],
    [1, false],
    [null, false],
  ])('%s: %s', (value, expected) => {
    expect(isAccount(value)).toBe(expected);
  });
});

describe('isUuid', () => {
  const id = '2f1c6c0e-6f5e-4b7c-9a43-3a4c2b1d0e9f';
  it.each([
    [id, true],
    [id.toUpperCase(), true],
    [`x${id}`, false],
    [`${id}x`, false],
    [id.replaceAll('-', ''), false],
    ['', false],
  ])('%s: %s', (value, expected) => {
    expect(isUuid(value)).toBe(expected);
  });
});

describe('parsePositiveInt64', () => {
  it.each<[unknown, bigint | undefined, bigint | string]>([
    [1, undefined, 1n],
    ['1', undefined, 1n],
    [Number.MAX_SAFE_INTEGER, undefined, 2n ** 53n - 1n],
    ['9223372036854775807', undefined, MAX_AMOUNT],
    [null, undefined, 'f is required'],
    [undefined, undefined, 'f is required'],
    [0, undefined, 'f must be a positive integer'],
    [1.5, undefined, 'f must be a positive integer'],
    [2 ** 53, undefined, 'f is larger than 2^53-1 as a JSON number and has lost precision; send it as a decimal string'],
    // The bound applies to JSON numbers too, inclusive.
    [10, 10n, 10n],
    [11, 10n, 'f must be at most 10'],
    ['10', 10n, 10n],
    ['11', 10n, 'f must be at most 10'],
    ['0', undefined, 'f must be a positive integer (a decimal string of digits, no sign, fraction or leading zeros)'],
    ['01', undefined, 'f must be a positive integer (a decimal string of digits, no sign, fraction or leading zeros)'],
    ['9223372036854775808', undefined, 'f must be at most 9223372036854775807'],
    // More than 19 digits is refused before BigInt() sees it, even under a larger bound.
    ['1'.repeat(20), 10n ** 30n, `f must be at most ${10n ** 30n}`],
    ['1'.repeat(19), 10n ** 30n, BigInt('1'.repeat(19))],
    // A lossless body parser hands over integers beyond 2^53-1 as bigints.
    [2n ** 60n, undefined, 2n ** 60n],
    [MAX_AMOUNT, undefined, MAX_AMOUNT],
    [MAX_AMOUNT + 1n, undefined, 'f must be at most 9223372036854775807'],
    [0n, undefined, 'f must be a positive integer'],
    [-1n, undefined, 'f must be a positive integer'],
    [true, undefined, 'f must be a positive integer (JSON integer or decimal string)'],
    [{}, undefined, 'f must be a positive integer (JSON integer or decimal string)'],
  ])('%s (max %s) → %s', (value, max, expected) => {
    expect(parsePositiveInt64(value, 'f', max)).toBe(expected);
  });
});

describe('parseUserId', () => {
  it.each<[unknown, bigint | undefined]>([
    ['1', 1n],
    ['9223372036854775807', MAX_USER_ID],
    ['9223372036854775808', undefined],
    ['0', undefined],
    ['01', undefined],
    ['1'.repeat(20), undefined],
    [1, undefined],
  ])('%s → %s', (value, expected) => {
    expect(parseUserId(value)).toBe(expected);
  });
});

describe('outcomes', () => {
  it('are built with their kind and detail', () => {
    expect([success(), failed('insufficient_funds'), pending('timeout')]).toEqual([
      { kind: 'success' },
      { kind: 'failed', reason: 'insufficient_funds' },
      { kind: 'pending', detail: 'timeout' },
    ]);
  });
});
