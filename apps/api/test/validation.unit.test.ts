// The public API's request parsing with the exact messages a client reads, field by field; the happy paths
// and HTTP mapping are in api.unit.test.ts.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_ASSET_ID } from '@it/domain';
import { encodeCursor, parseIdempotencyKey, parseListQuery, parseTransferBody, prefersAsync, requestHash } from '../src/validation.ts';

const ok = { from: 'funding', to: 'trading', user_id: '5', asset_id: 3, amount: '100' };

describe('parseTransferBody: one message per field, each starting with the field', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['from missing', { from: undefined }, 'from is required'],
    ['from null', { from: null }, 'from is required'],
    ['from unknown', { from: 'spot' }, 'from must be "funding" or "trading"'],
    ['to missing', { to: undefined }, 'to is required'],
    ['to unknown', { to: 'spot' }, 'to must be "funding" or "trading"'],
    ['user_id missing', { user_id: undefined }, 'user_id is required'],
    ['amount zero', { amount: '0' }, 'amount must be a positive integer (a decimal string of digits, no sign, fraction or leading zeros)'],
    ['asset_id missing', { asset_id: undefined }, 'asset_id is required'],
    ['asset_id null', { asset_id: null }, 'asset_id is required'],
    ['asset_id 0', { asset_id: 0 }, `asset_id must be an integer in 1..${MAX_ASSET_ID}`],
    ['asset_id above the 32-bit column', { asset_id: MAX_ASSET_ID + 1 }, `asset_id must be an integer in 1..${MAX_ASSET_ID}`],
    ['asset_id fractional', { asset_id: 1.5 }, `asset_id must be an integer in 1..${MAX_ASSET_ID}`],
    ['asset_id as a string', { asset_id: '3' }, `asset_id must be an integer in 1..${MAX_ASSET_ID}`],
  ])('%s', (_name, over, message) => {
    expect(parseTransferBody({ ...ok, ...over })).toEqual({ ok: false, message });
  });

  it.each([1, MAX_ASSET_ID])('asset_id %i is inside the bounds', (assetId) => {
    expect(parseTransferBody({ ...ok, asset_id: assetId })).toEqual({
      ok: true,
      value: { source: 'funding', target: 'trading', userId: 5n, assetId, amount: 100n },
    });
  });

  it('lists every problem at once, in field order, separated by "; "', () => {
    expect(parseTransferBody({ from: 'spot', user_id: '5', asset_id: 0 })).toEqual({
      ok: false,
      message: `from must be "funding" or "trading"; to is required; asset_id must be an integer in 1..${MAX_ASSET_ID}; amount is required`,
    });
  });

  it('translates the wire from/to to source/target, both directions', () => {
    expect(parseTransferBody({ ...ok, from: 'trading', to: 'funding' })).toEqual({
      ok: true,
      value: { source: 'trading', target: 'funding', userId: 5n, assetId: 3, amount: 100n },
    });
  });
});

describe('parseIdempotencyKey', () => {
  it.each(['', 'k'.repeat(256), 'tab\there', 'é'])('%j is refused with the rule', (key) => {
    expect(parseIdempotencyKey(key)).toEqual({ ok: false, message: 'Idempotency-Key must be 1 to 255 printable ASCII characters' });
  });
});

describe('requestHash', () => {
  it('is the SHA-256 of the fields joined by "|": a stored value, so its form may never change', () => {
    const t = { source: 'funding', target: 'trading', userId: 12n, assetId: 3, amount: 100n } as const;
    expect(requestHash(t)).toBe(createHash('sha256').update('funding|trading|12|3|100').digest('hex'));
    // Without the separator these two would collide (…|12|3|… and …|1|23|…).
    expect(requestHash(t)).not.toBe(requestHash({ ...t, userId: 1n, assetId: 23 }));
  });
});

describe('parseListQuery', () => {
  const LIMIT = 'limit must be an integer in 1..100';
  const CURSOR = 'cursor is not a value this API returned';

  it.each<[string, unknown]>([['a number, not a query string', 5], ['101', '101'], ['0', '0']])('limit %s is refused', (_name, limit) => {
    expect(parseListQuery({ limit })).toEqual({ ok: false, message: LIMIT });
  });

  it('an empty cursor means the first page', () => {
    expect(parseListQuery({ cursor: '' })).toEqual({ ok: true, value: { limit: 20, cursor: undefined } });
  });

  it('round-trips a cursor this API returned, up to 1024 characters', () => {
    const pageState = 'ab'.repeat(768);
    const cursor = encodeCursor(pageState);
    expect(cursor).toHaveLength(1024);
    expect(parseListQuery({ cursor })).toEqual({ ok: true, value: { limit: 20, cursor: pageState } });
  });

  it.each<[string, unknown]>([
    ['a number', 1234],
    ['longer than 1024 characters, though decodable', encodeCursor('ab'.repeat(771))],
    ['a character outside base64url', '!AAA'],
    ['one that decodes to nothing', 'A'],
    ['one that Buffer decodes leniently (does not round-trip)', 'AB'],
  ])('refuses %s', (_name, cursor) => {
    expect(parseListQuery({ cursor })).toEqual({ ok: false, message: CURSOR });
  });

  it('encodeCursor: no page state, no cursor', () => {
    expect(encodeCursor(null)).toBeNull();
    expect(encodeCursor('')).toBeNull();
  });
});

describe('prefersAsync (RFC 7240 Prefer)', () => {
  it.each(['respond-async', 'Respond-Async', 'wait=5, respond-async', 'respond-async; x=1', ' handling=lenient ,respond-async '])('%j asks for it', (value) => {
    expect(prefersAsync(value)).toBe(true);
  });
  it.each([undefined, '', 'wait=10', 'return=minimal', 'respond-asynchronously', 'x-respond-async'])('%j does not', (value) => {
    expect(prefersAsync(value)).toBe(false);
  });
});
