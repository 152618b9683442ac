// Pure pieces of the API: configuration refusals, request parsing, idempotency hashing, cursors.
import { describe, expect, it } from 'vitest';
import { loadApiConfig } from '@it/config';
import { isUuid, parsePositiveInt64, parseUserId } from '@it/domain';
import { encodeCursor, parseIdempotencyKey, parseListQuery, parseTransferBody, requestHash } from '../src/validation.ts';
import { resultOf } from '../src/wire.ts';

const prodEnv = {
  NODE_ENV: 'production',
  CASSANDRA_REPLICATION: 'NetworkTopologyStrategy:dc1=3',
  JWT_SECRET: 'a-production-secret-0123456789abcdef0123',
  JWT_ISSUER: 'https://auth.exchange.example',
  JWT_AUDIENCE: 'internal-transfer',
  OPS_PASSWORD: 'a-production-ops-password',
};

describe('loadApiConfig', () => {
  it('refuses AUTH_MODE=none in production', () => {
    expect(() => loadApiConfig({ ...prodEnv, AUTH_MODE: 'none' })).toThrow(/AUTH_MODE=none is for local development only/);
  });
  it('accepts AUTH_MODE=none in development and jwt in production', () => {
    expect(loadApiConfig({ NODE_ENV: 'development', AUTH_MODE: 'none' }).AUTH_MODE).toBe('none');
    expect(loadApiConfig(prodEnv).AUTH_MODE).toBe('jwt');
  });
  it('refuses jwt without a key in production', () => {
    expect(() => loadApiConfig({ ...prodEnv, JWT_SECRET: undefined })).toThrow(/JWT_SECRET or JWT_JWKS_URL/);
  });
});

describe('parsePositiveInt64', () => {
  it.each([
    [1, 1n],
    ['1', 1n],
    [Number.MAX_SAFE_INTEGER, 2n ** 53n - 1n],
    ['9223372036854775807', 2n ** 63n - 1n],
  ])('%s → %s', (input, expected) => {
    expect(parsePositiveInt64(input, 'amount')).toBe(expected);
  });
  it.each([0, -1, 1.5, 2 ** 53, 1e300, Number.NaN, Number.POSITIVE_INFINITY, '0', '-1', '01', '1.0', ' 1', '1e3', '0x10',
    '9223372036854775808', '99999999999999999999', '', true, null, undefined, {}, []])('%s is refused, naming the field', (input) => {
    const r = parsePositiveInt64(input, 'amount');
    expect(typeof r).toBe('string');
    expect(r).toMatch(/^amount /);
  });
  it('explains why a large JSON number is refused', () => {
    expect(parsePositiveInt64(2 ** 60, 'amount')).toMatch(/decimal string/);
  });
});

describe('parseTransferBody', () => {
  const ok = { from: 'funding', to: 'trading', user_id: '5', asset_id: 3, amount: '100' };
  it('parses amounts and user ids to bigint and drops unknown fields', () => {
    expect(parseTransferBody({ ...ok, extra: 1 })).toEqual({
      ok: true, value: { source: 'funding', target: 'trading', userId: 5n, assetId: 3, amount: 100n },
    });
  });
  it('refuses from == to', () => {
    expect(parseTransferBody({ ...ok, to: 'funding' })).toEqual({ ok: false, message: expect.stringMatching(/^to must differ/) });
  });
  it.each([null, [], 'x', 5])('refuses a body that is not an object: %s', (body) => {
    expect(parseTransferBody(body)).toMatchObject({ ok: false, message: expect.stringMatching(/^body/) });
  });
  it('does not let __proto__ through', () => {
    const body = JSON.parse('{"__proto__":{"amount":"5"},"from":"funding","to":"trading","user_id":"5","asset_id":3}') as unknown;
    expect(parseTransferBody(body)).toMatchObject({ ok: false, message: 'amount is required' });
  });
});

describe('identifiers, keys, cursors', () => {
  it('parseUserId takes decimal strings in 1..2^63-1 only', () => {
    expect(parseUserId('42')).toBe(42n);
    for (const bad of [undefined, '', '0', '-1', '1.0', 'abc', '9223372036854775808', 42, ['42']]) expect(parseUserId(bad)).toBeUndefined();
  });
  it('Idempotency-Key: 1..255 printable ASCII', () => {
    expect(parseIdempotencyKey(undefined)).toEqual({ ok: true, value: undefined });
    expect(parseIdempotencyKey('order 17/a')).toEqual({ ok: true, value: 'order 17/a' });
    expect(parseIdempotencyKey('k'.repeat(255)).ok).toBe(true);
    for (const bad of ['', 'k'.repeat(256), 'tab\there', 'é']) expect(parseIdempotencyKey(bad).ok).toBe(false);
  });
  it('requestHash ignores spelling, not substance', () => {
    const hashOf = (body: Record<string, unknown>) => {
      const parsed = parseTransferBody(body);
      if (!parsed.ok) throw new Error(parsed.message);
      return requestHash(parsed.value);
    };
    const base = { from: 'funding', to: 'trading', user_id: '5', asset_id: 1, amount: '300' };
    const h = hashOf(base);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    // The same transfer spelled otherwise: a JSON number, another key order, annotations.
    expect(hashOf({ ...base, amount: 300 })).toBe(h);
    expect(hashOf({ ...base, user_id: 5 })).toBe(h);
    expect(hashOf({ amount: '300', asset_id: 1, user_id: '5', to: 'trading', from: 'funding' })).toBe(h);
    expect(hashOf({ ...base, note: 'rebalance', client_ts: 1 })).toBe(h);
    // Any change of substance is another request.
    const others = [
      { ...base, amount: '301' },
      { ...base, user_id: '6' },
      { ...base, asset_id: 2 },
      { ...base, from: 'trading', to: 'funding' },
      // Fields must not run into each other: user 51 asset 1 vs user 5 asset 11.
      { ...base, user_id: '51', asset_id: 1, amount: '300' },
      { ...base, user_id: '5', asset_id: 11, amount: '300' },
    ].map(hashOf);
    for (const other of others) expect(other).not.toBe(h);
    expect(new Set(others).size).toBe(others.length);
  });
  it('isUuid', () => {
    expect(isUuid('0b45e5e0-8f17-4c58-b5f5-c9982981e7a3')).toBe(true);
    expect(isUuid('0B45E5E0-8F17-4C58-B5F5-C9982981E7A3')).toBe(true);
    for (const bad of ['', 'not-a-uuid', '0b45e5e0-8f17-4c58-b5f5-c9982981e7a', "' OR 1=1 --"]) expect(isUuid(bad)).toBe(false);
  });
  it('list query: limit bounds and opaque cursor round trip', () => {
    expect(parseListQuery({})).toEqual({ ok: true, value: { limit: 20, cursor: undefined } });
    expect(parseListQuery({ limit: '100' })).toMatchObject({ ok: true, value: { limit: 100 } });
    for (const limit of ['0', '101', '1.5', '-1', 'x', ['1', '2']]) expect(parseListQuery({ limit }).ok).toBe(false);
    const pageState = '001b0008000001c032d5f7201043ef8c';
    const cursor = encodeCursor(pageState)!;
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(parseListQuery({ cursor })).toEqual({ ok: true, value: { limit: 20, cursor: pageState } });
    expect(encodeCursor(null)).toBeNull();
    for (const bad of ['***', 'a', `${cursor}=`, ['a', 'b']]) expect(parseListQuery({ cursor: bad }).ok).toBe(false);
  });
});

describe('public status vocabulary', () => {
  const base = {
    reqId: 'r', userId: 1n, assetId: 1, amount: 1n, source: 'funding', target: 'trading', version: 1, transitionId: '',
    error: null, attempt: 0, nextAttemptAt: null, createdAt: new Date(0), updatedAt: new Date(0), retryRun: null, operatorRetry: null,
  } as const;
  it.each(['init', 'source_pending', 'source_done', 'target_pending', 'finalizing', 'compensating'] as const)('%s → pending', (state) => {
    expect(resultOf({ ...base, state })).toEqual({ req_id: 'r', status: 'pending', message: null });
  });
  it.each(['committed', 'rolled_back', 'failed'] as const)('%s → itself, with the error as message', (state) => {
    expect(resultOf({ ...base, state, error: state === 'committed' ? null : 'why' })).toEqual({
      req_id: 'r', status: state, message: state === 'committed' ? null : 'why',
    });
  });
});
