// The reference ledgers' own behaviour over HTTP, against the real Cassandra: validation, service and admin
// guards, fault injection, the crash windows between claim and apply, and the statement cost of each operation.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCassandraClient, serialConsistency } from '@it/cassandra';
import { cassandraSettings } from '@it/config';
import type { Account } from '@it/domain';
import { DEFAULT_ASSETS, LedgerStore, ledgerAdminClient, parseAssetSet, type RunningLedgers, type StoreCounters } from '../src/index.ts';
import { newUserId, startTestLedgers, testConfig } from './helpers.ts';

const config = testConfig();
const client = createCassandraClient(cassandraSettings(config, config.CASSANDRA_LEDGER_KEYSPACE));
let ledgers: RunningLedgers;
let F = '';
let T = '';
const auth = { authorization: `Bearer ${config.LEDGER_ADMIN_TOKEN}` };
const service = { authorization: `Bearer ${config.LEDGER_SERVICE_TOKEN}` };

beforeAll(async () => {
  ledgers = await startTestLedgers(config);
  F = ledgers.urls.funding;
  T = ledgers.urls.trading;
});
afterAll(async () => {
  await ledgers?.close();
  await client.shutdown();
});

const admin = (ledger: Account) => ledgerAdminClient(ledgers.urls[ledger], config.LEDGER_ADMIN_TOKEN);

async function post(url: string, body: unknown, headers: Record<string, string> = service) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function get(url: string, headers: Record<string, string> = service) {
  const res = await fetch(url, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const move = (userId: bigint, amount: bigint | string | number, reqId: string = randomUUID(), assetId: unknown = 1) => ({
  req_id: reqId,
  user_id: userId.toString(),
  asset_id: assetId,
  amount: typeof amount === 'bigint' ? amount.toString() : amount,
});

async function funded(ledger: Account, amount: bigint): Promise<bigint> {
  const u = newUserId();
  await admin(ledger).credit(u, 1, amount);
  return u;
}

describe('validation: 400 naming the field, never a crash', () => {
  const u = 77n;
  it.each([
    ['missing req_id', { user_id: '1', asset_id: 1, amount: '1' }, /req_id/],
    ['req_id not a uuid', move(u, 1n, 'abc'), /req_id must be a UUID/],
    ['req_id a number', { ...move(u, 1n), req_id: 5 }, /req_id/],
    ['amount 0', move(u, '0'), /amount must be a positive integer/],
    ['amount negative', move(u, '-5'), /amount/],
    ['amount with a fraction', move(u, '1.5'), /amount/],
    ['amount as a float', move(u, 1.5), /amount/],
    ['amount above 2^63-1', move(u, '9223372036854775808'), /amount/],
    ['amount with leading zeros', move(u, '007'), /amount/],
    ['amount as a JSON number beyond 2^63-1', move(u, 2 ** 64), /amount/],
    ['user_id 0', { ...move(u, 1n), user_id: '0' }, /user_id/],
    ['user_id missing', { req_id: randomUUID(), asset_id: 1, amount: '1' }, /user_id/],
    ['asset_id 0', move(u, 1n, randomUUID(), 0), /asset_id must be an integer in 1\.\.2147483647/],
    ['asset_id 2^31', move(u, 1n, randomUUID(), 2 ** 31), /asset_id/],
    ['asset_id fractional', move(u, 1n, randomUUID(), 1.5), /asset_id/],
    ['asset_id an object', move(u, 1n, randomUUID(), { $gt: 1 }), /asset_id/],
    ['body an array', [1, 2, 3], /body must be a JSON object/],
    ['body a string', '"hello"', /body/],
    ['body not JSON', '{"req_id":', /body: not valid JSON/],
  ])('withdraw with %s', async (_name, body, message) => {
    const r = await post(`${F}/v1/withdraw`, body);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ status: 'invalid' });
    expect(String(r.body.error)).toMatch(message);
  });

  it('a body that is not declared JSON is not read', async () => {
    const res = await fetch(`${F}/v1/deposit`, { method: 'POST', headers: { ...service, 'content-type': 'text/plain' }, body: 'x' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'body must be a JSON object' });
  });

  it('an oversized body: 413', async () => {
    const r = await post(`${F}/v1/withdraw`, { ...move(u, 1n), pad: 'x'.repeat(20_000) });
    expect(r.status).toBe(413);
  });

  it('commit / rollback / query with a malformed req_id', async () => {
    expect((await post(`${F}/v1/commit`, { req_id: 'nope' })).status).toBe(400);
    expect((await post(`${T}/v1/rollback`, {})).status).toBe(400);
    const q = await get(`${F}/v1/ops/not-a-uuid`);
    expect(q.status).toBe(400);
    expect(String(q.body.error)).toMatch(/req_id/);
  });

  it('balances with malformed path parameters', async () => {
    expect((await get(`${F}/v1/balances/abc/1`)).body.error).toMatch(/user_id/);
    expect((await get(`${F}/v1/balances/1/0`)).body.error).toMatch(/asset_id/);
    expect((await get(`${F}/v1/balances/1/99999999999`)).status).toBe(400);
  });

  it('unknown routes: 404 JSON; the process is still healthy afterwards', async () => {
    expect((await get(`${F}/v2/whatever`)).status).toBe(404);
    expect((await get(`${F}/livez`)).body).toMatchObject({ status: 'ok', ledger: 'funding' });
    expect((await get(`${T}/healthz`)).body).toMatchObject({ status: 'ok', ledger: 'trading' });
    expect((await get(`${T}/readyz`)).body).toMatchObject({ status: 'ready', ledger: 'trading' });
  });

  it('a uuid in upper case is the same operation', async () => {
    const user = await funded('funding', 1_000n);
    const id = randomUUID();
    expect((await post(`${F}/v1/withdraw`, move(user, 100n, id.toUpperCase()))).status).toBe(200);
    expect((await post(`${F}/v1/withdraw`, move(user, 100n, id))).status).toBe(200);
    expect(await admin('funding').balance(user, 1)).toEqual({ available: 900n, frozen: 100n });
  });
});

describe('service credential', () => {
  const wrong = { authorization: 'Bearer wrong-token-wrong-token' };
  const admin_ = auth;
  const refusals: [string, Record<string, string>][] = [
    ['no credential', {}],
    ['a wrong token', wrong],
    ['the token without "Bearer"', { authorization: config.LEDGER_SERVICE_TOKEN }],
    ['the admin token', admin_],
  ];

  async function expectUnauthorized(r: Promise<Response>) {
    const res = await r;
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await res.json()).toMatchObject({ status: 'unauthorized', error: expect.stringMatching(/bearer token required/) });
  }
  const send = (url: string, body: unknown, headers: Record<string, string>) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it.each(refusals)('operations with %s: 401, nothing applied', async (_name, headers) => {
    const u = await funded('funding', 1_000n);
    const id = randomUUID();
    await expectUnauthorized(send(`${F}/v1/withdraw`, move(u, 300n, id), headers));
    await expectUnauthorized(send(`${F}/v1/deposit`, move(u, 2n ** 63n - 1001n), headers));
    await expectUnauthorized(send(`${T}/v1/deposit`, move(u, 2n ** 63n - 1n), headers));
    await expectUnauthorized(send(`${F}/v1/commit`, { req_id: id }, headers));
    await expectUnauthorized(send(`${F}/v1/rollback`, { req_id: id }, headers));
    await expectUnauthorized(send(`${T}/v1/rollback`, { req_id: id }, headers));
    await expectUnauthorized(fetch(`${F}/v1/ops/${id}`, { headers }));
    expect(await admin('funding').balance(u, 1)).toEqual({ available: 1_000n, frozen: 0n });
    expect(await admin('trading').balance(u, 1)).toEqual({ available: 0n, frozen: 0n });
    // Nothing recorded either: the req_id is unknown, and no rollback tombstone stops its withdraw.
    expect((await get(`${F}/v1/ops/${id}`)).status).toBe(404);
    expect((await get(`${T}/v1/ops/${id}`)).status).toBe(404);
    expect((await post(`${F}/v1/withdraw`, move(u, 300n, id))).body).toMatchObject({ status: 'success', state: 'frozen' });
  });

  it.each(refusals.filter(([name]) => name !== 'the admin token'))('balances with %s: 401', async (_name, headers) => {
    await expectUnauthorized(fetch(`${F}/v1/balances/1/1`, { headers }));
    await expectUnauthorized(fetch(`${T}/v1/balances/1/1`, { headers }));
  });

  it('with the service token every operation answers; balances take the service or the admin token', async () => {
    const u = await funded('funding', 1_000n);
    const id = randomUUID();
    expect(await post(`${F}/v1/withdraw`, move(u, 300n, id), service)).toMatchObject({ status: 200, body: { state: 'frozen' } });
    expect(await post(`${T}/v1/deposit`, move(u, 300n, id), service)).toMatchObject({ status: 200, body: { state: 'credited' } });
    expect(await get(`${F}/v1/ops/${id}`, service)).toMatchObject({ status: 200, body: { state: 'frozen' } });
    expect(await post(`${F}/v1/commit`, { req_id: id }, service)).toMatchObject({ status: 200, body: { state: 'committed' } });
    expect(await post(`${T}/v1/rollback`, { req_id: randomUUID() }, service)).toMatchObject({ status: 200 });
    for (const headers of [service, admin_]) {
      expect(await get(`${F}/v1/balances/${u}/1`, headers)).toMatchObject({ status: 200, body: { available: '700', frozen: '0' } });
    }
  });

  it('probes need no credential', async () => {
    for (const path of ['/livez', '/healthz', '/readyz']) {
      expect((await fetch(F + path)).status).toBe(200);
      expect((await fetch(T + path)).status).toBe(200);
    }
  });
});

describe('admin endpoints', () => {
  it('refuse a missing or wrong bearer token', async () => {
    const body = { user_id: '5', asset_id: 1, amount: '100' };
    expect((await post(`${F}/v1/admin/credit`, body, {})).status).toBe(401);
    expect((await post(`${F}/v1/admin/credit`, body, { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    expect((await post(`${F}/v1/admin/credit`, body, { authorization: config.LEDGER_ADMIN_TOKEN })).status).toBe(401);
    // The service credential is not an admin one.
    expect((await post(`${F}/v1/admin/credit`, body, service)).status).toBe(401);
    expect((await get(`${F}/v1/admin/faults`, {})).status).toBe(401);
    const put = await fetch(`${F}/v1/admin/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(put.status).toBe(401);
  });

  it('credit with a req_id is idempotent; without one each call is a new credit', async () => {
    const u = newUserId();
    const reqId = randomUUID();
    for (let i = 0; i < 3; i++) {
      const r = await post(`${T}/v1/admin/credit`, { req_id: reqId, user_id: u.toString(), asset_id: 1, amount: '250' }, auth);
      expect(r).toEqual({ status: 200, body: { req_id: reqId, status: 'success', state: 'credited' } });
    }
    await post(`${T}/v1/admin/credit`, { user_id: u.toString(), asset_id: 1, amount: 50 }, auth);
    expect(await admin('trading').balance(u, 1)).toEqual({ available: 300n, frozen: 0n });
    expect(await admin('funding').balance(u, 1)).toEqual({ available: 0n, frozen: 0n });
  });

  it('credit of an unknown asset is refused', async () => {
    const r = await post(`${F}/v1/admin/credit`, { user_id: '5', asset_id: 5_000, amount: '1' }, auth);
    expect(r).toMatchObject({ status: 422, body: { status: 'failed', reason: 'unknown_asset' } });
  });

  it('a credit that would overflow int64 is refused and changes nothing', async () => {
    const u = await funded('funding', 2n ** 63n - 10n);
    const r = await post(`${F}/v1/admin/credit`, { user_id: u.toString(), asset_id: 1, amount: '10' }, auth);
    expect(r).toMatchObject({ status: 422, body: { reason: 'balance_overflow' } });
    const d = await post(`${F}/v1/deposit`, move(u, 9n));
    expect(d.status).toBe(200);
    expect(await admin('funding').balance(u, 1)).toEqual({ available: 2n ** 63n - 1n, frozen: 0n });
  });

  it('fault settings: GET reads, PUT replaces and validates', async () => {
    const put = await fetch(`${T}/v1/admin/faults`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ error_rate: 2 }),
    });
    expect(put.status).toBe(400);
    expect(((await put.json()) as { error: string }).error).toMatch(/error_rate/);
    await admin('trading').setFaults({ latencyMs: 5, seed: 9 });
    expect((await get(`${T}/v1/admin/faults`, auth)).body).toEqual({
      ledger: 'trading',
      latency_ms: 5,
      latency_jitter_ms: 0,
      error_rate: 0,
      drop_response_rate: 0,
      refuse_rate: 0,
      seed: 9,
    });
    expect((await get(`${F}/v1/admin/faults`, auth)).body).toMatchObject({ ledger: 'funding', latency_ms: 0 });
    await admin('trading').setFaults({});
  });
});

describe('two ledgers, one req_id: independent', () => {
  it('a transfer uses one req_id on both sides: funding withdraw, trading deposit', async () => {
    const u = await funded('funding', 1_000n);
    const id = randomUUID();
    expect((await post(`${F}/v1/withdraw`, move(u, 400n, id))).body).toMatchObject({ status: 'success', state: 'frozen' });
    expect((await post(`${T}/v1/deposit`, move(u, 400n, id))).body).toMatchObject({ status: 'success', state: 'credited' });
    expect((await post(`${F}/v1/commit`, { req_id: id })).body).toMatchObject({ status: 'success', state: 'committed' });
    expect(await admin('funding').balance(u, 1)).toEqual({ available: 600n, frozen: 0n });
    expect(await admin('trading').balance(u, 1)).toEqual({ available: 400n, frozen: 0n });
    expect((await get(`${F}/v1/ops/${id}`)).body).toEqual({
      req_id: id,
      kind: 'withdraw',
      status: 'success',
      state: 'committed',
      user_id: u.toString(),
      asset_id: 1,
      amount: '400',
    });
    expect((await get(`${T}/v1/ops/${id}`)).body).toMatchObject({ kind: 'deposit', state: 'credited', status: 'success' });
  });

  it('reply codes: 200 success, 422 refusal, 409 req_id conflict, 404 unknown commit', async () => {
    const u = await funded('trading', 100n);
    const id = randomUUID();
    expect((await post(`${T}/v1/withdraw`, move(u, 60n, id))).status).toBe(200);
    expect(await post(`${T}/v1/withdraw`, move(u, 61n, id))).toMatchObject({ status: 409, body: { reason: 'req_id_conflict' } });
    expect(await post(`${T}/v1/withdraw`, move(u, 41n))).toMatchObject({ status: 422, body: { reason: 'insufficient_funds' } });
    expect(await post(`${T}/v1/commit`, { req_id: randomUUID() })).toMatchObject({ status: 404, body: { status: 'not_found' } });
    expect(await post(`${T}/v1/commit`, { req_id: id })).toMatchObject({ status: 200, body: { state: 'committed' } });
    expect(await admin('trading').balance(u, 1)).toEqual({ available: 40n, frozen: 0n });
  });
});

describe('crash windows: a withdraw claimed but never applied', () => {
  /** What a ledger that died right after claiming the req_id leaves behind (written as an LWT, like the ledger). */
  async function claimOnly(ledger: Account, u: bigint, amount: bigint): Promise<string> {
    const id = randomUUID();
    const rs = await client.execute(
      'INSERT INTO ops (ledger, req_id, kind, user_id, asset_id, amount, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS',
      [ledger, id, 'withdraw', u, 1, amount, null, new Date()],
      { prepare: true },
    );
    expect(rs.wasApplied()).toBe(true);
    return id;
  }

  it('the retried withdraw completes it, exactly once', async () => {
    const u = await funded('funding', 1_000n);
    const id = await claimOnly('funding', u, 300n);
    expect((await get(`${F}/v1/ops/${id}`)).body).toMatchObject({ status: 'pending', state: null });
    expect(await post(`${F}/v1/commit`, { req_id: id })).toMatchObject({ status: 503, body: { status: 'pending' } });
    expect((await post(`${F}/v1/withdraw`, move(u, 300n, id))).body).toMatchObject({ status: 'success', state: 'frozen' });
    expect((await post(`${F}/v1/withdraw`, move(u, 300n, id))).body).toMatchObject({ status: 'success' });
    expect(await admin('funding').balance(u, 1)).toEqual({ available: 700n, frozen: 300n });
  });

  it('a rollback voids it: the withdraw can never apply afterwards', async () => {
    const u = await funded('trading', 1_000n);
    const id = await claimOnly('trading', u, 300n);
    expect((await post(`${T}/v1/rollback`, { req_id: id })).body).toMatchObject({ status: 'success', state: 'voided' });
    expect(await post(`${T}/v1/withdraw`, move(u, 300n, id))).toMatchObject({ status: 422, body: { reason: 'rolled_back' } });
    expect(await post(`${T}/v1/commit`, { req_id: id })).toMatchObject({ status: 422, body: { reason: 'rolled_back' } });
    expect((await post(`${T}/v1/rollback`, { req_id: id })).status).toBe(200);
    expect(await admin('trading').balance(u, 1)).toEqual({ available: 1_000n, frozen: 0n });
  });

  it('a stored row this code does not know is an error (500), never mapped to a state', async () => {
    const id = randomUUID();
    await client.execute(
      'INSERT INTO ops (ledger, req_id, kind, user_id, asset_id, amount, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS',
      ['funding', id, 'teleport', 1n, 1, 1n, new Date()],
      { prepare: true },
    );
    expect((await get(`${F}/v1/ops/${id}`)).status).toBe(500);
    expect((await post(`${F}/v1/rollback`, { req_id: id })).status).toBe(500);
    expect((await get(`${F}/healthz`)).status).toBe(200);
  });
});

describe('fault injection', () => {
  beforeEach(async () => {
    await admin('funding').setFaults({});
    await admin('trading').setFaults({});
  });
  afterAll(async () => {
    await admin('funding').setFaults({});
    await admin('trading').setFaults({});
  });

  it('apply-then-drop: the caller sees a reset, the operation is applied, a replay answers it', async () => {
    const u = await funded('funding', 1_000n);
    const id = randomUUID();
    await admin('funding').setFaults({ dropResponseRate: 1 });
    await expect(post(`${F}/v1/withdraw`, move(u, 300n, id))).rejects.toThrow();
    expect(await admin('funding').balance(u, 1)).toEqual({ available: 700n, frozen: 300n });
    await admin('funding').setFaults({});
    expect((await post(`${F}/v1/withdraw`, move(u, 300n, id))).body).toMatchObject({ status: 'success' });
    expect(await admin('funding').balance(u, 1)).toEqual({ available: 700n, frozen: 300n });
  });

  it('error-before-apply: 503 and nothing applied; balances and admin are not faulted', async () => {
    const u = await funded('trading', 1_000n);
    await admin('trading').setFaults({ errorRate: 1 });
    const id = randomUUID();
    expect((await post(`${T}/v1/withdraw`, move(u, 300n, id))).status).toBe(503);
    expect((await post(`${T}/v1/rollback`, { req_id: id })).status).toBe(503);
    expect((await get(`${T}/v1/ops/${id}`)).status).toBe(503);
    await admin('trading').credit(u, 1, 1n);
    expect(await admin('trading').balance(u, 1)).toEqual({ available: 1_001n, frozen: 0n });
    await admin('trading').setFaults({});
    expect((await get(`${T}/v1/ops/${id}`)).status).toBe(404);
  });

  it('latency delays the operation endpoints only', async () => {
    await admin('funding').setFaults({ latencyMs: 300 });
    const t0 = Date.now();
    await post(`${F}/v1/commit`, { req_id: randomUUID() });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    // Under the longest latency there is, a balance read still answers well before it would have passed.
    const u = await funded('funding', 40n);
    await admin('funding').setFaults({ latencyMs: 60_000 });
    const res = await fetch(`${F}/v1/balances/${u}/1`, { headers: service, signal: AbortSignal.timeout(20_000) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ available: '40', frozen: '0' });
  });

  it('refusals are recorded (definite for ever) and deterministic under a seed', async () => {
    async function run(): Promise<{ pattern: string; ids: string[]; u: bigint }> {
      const u = await funded('trading', 1_000_000n);
      await admin('trading').setFaults({ refuseRate: 0.4, seed: 4242 });
      const ids: string[] = [];
      let pattern = '';
      for (let i = 0; i < 24; i++) {
        const id = randomUUID();
        ids.push(id);
        const r = await post(`${T}/v1/withdraw`, move(u, 10n, id));
        expect([200, 422]).toContain(r.status);
        if (r.status === 422) expect(r.body.reason).toBe('injected_refusal');
        pattern += r.status === 200 ? '.' : 'R';
      }
      await admin('trading').setFaults({});
      return { pattern, ids, u };
    }
    const first = await run();
    const second = await run();
    expect(second.pattern).toBe(first.pattern);
    expect(first.pattern).toMatch(/R/);
    expect(first.pattern).toMatch(/\./);
    const successes = [...first.pattern].filter((c) => c === '.').length;
    expect(await admin('trading').balance(first.u, 1)).toEqual({ available: 1_000_000n - 10n * BigInt(successes), frozen: 0n });
    // With faults off again, a replay of each gets its first answer back.
    for (const [i, id] of first.ids.entries()) {
      const r = await post(`${T}/v1/withdraw`, move(first.u, 10n, id));
      expect(r.status === 200 ? '.' : 'R').toBe(first.pattern[i]);
    }
  });
});

describe('cost of each operation (statements per call, measured)', () => {
  const delta = (a: StoreCounters, b: StoreCounters) => ({
    lwt: b.lwt - a.lwt,
    reads: b.reads - a.reads,
    serialReads: b.serialReads - a.serialReads,
  });
  async function cost(call: () => Promise<unknown>) {
    const before = { ...ledgers.store.counters };
    await call();
    return delta(before, { ...ledgers.store.counters });
  }

  it('counts LWTs and reads per operation on an uncontended account', async () => {
    const u = newUserId();
    const w = randomUUID();
    const costs = {
      creditFresh: await cost(() => admin('funding').credit(u, 1, 1_000n)),
      withdrawFresh: await cost(() => post(`${F}/v1/withdraw`, move(u, 100n, w))),
      withdrawReplay: await cost(() => post(`${F}/v1/withdraw`, move(u, 100n, w))),
      withdrawInsufficient: await cost(() => post(`${F}/v1/withdraw`, move(u, 10_000n))),
      withdrawUnknownAsset: await cost(() => post(`${F}/v1/withdraw`, move(u, 1n, randomUUID(), 999_999))),
      commit: await cost(() => post(`${F}/v1/commit`, { req_id: w })),
      commitReplay: await cost(() => post(`${F}/v1/commit`, { req_id: w })),
      rollbackNeverSeen: await cost(() => post(`${F}/v1/rollback`, { req_id: randomUUID() })),
      query: await cost(() => get(`${F}/v1/ops/${w}`)),
      balance: await cost(() => get(`${F}/v1/balances/${u}/1`)),
    };
    const w2 = randomUUID();
    await post(`${F}/v1/withdraw`, move(u, 100n, w2));
    const rollback = await cost(() => post(`${F}/v1/rollback`, { req_id: w2 }));
    // Another process (a second replica) finishing a withdraw this one took: it reads the claim first.
    const other = new LedgerStore(client, { serialConsistency: serialConsistency(cassandraSettings(config)), assets: parseAssetSet(DEFAULT_ASSETS) });
    const w3 = randomUUID();
    await post(`${F}/v1/withdraw`, move(u, 100n, w3));
    await other.commit('funding', w3);
    const otherQuery = { ...other.counters };
    await other.query('funding', w3);
    expect({ ...costs, rollback }).toEqual({
      creditFresh: { lwt: 2, reads: 1, serialReads: 0 },
      withdrawFresh: { lwt: 2, reads: 1, serialReads: 0 },
      withdrawReplay: { lwt: 1, reads: 1, serialReads: 0 },
      withdrawInsufficient: { lwt: 2, reads: 1, serialReads: 0 },
      withdrawUnknownAsset: { lwt: 1, reads: 0, serialReads: 0 },
      // The claim is remembered from the withdraw: only the op row (with the balance) is read.
      commit: { lwt: 1, reads: 1, serialReads: 0 },
      commitReplay: { lwt: 0, reads: 1, serialReads: 0 },
      rollbackNeverSeen: { lwt: 1, reads: 1, serialReads: 0 },
      // A query reads the durable claim, never the remembered one: reconciliation asks what the ledger holds.
      query: { lwt: 0, reads: 2, serialReads: 0 },
      balance: { lwt: 0, reads: 1, serialReads: 0 },
      rollback: { lwt: 1, reads: 1, serialReads: 0 },
    });
    expect(delta(otherQuery, other.counters)).toEqual({ lwt: 0, reads: 2, serialReads: 0 });
    expect(other.counters).toMatchObject({ lwt: 1, reads: 4 });
  });

  it('reports latency per operation (informational)', async () => {
    const n = 30;
    const u = await funded('funding', 1_000_000n);
    const ids = Array.from({ length: n }, () => randomUUID());
    const timings: Record<string, number> = {};
    const time = async (name: string, call: (id: string) => Promise<unknown>) => {
      const t0 = performance.now();
      for (const id of ids) await call(id);
      timings[name] = Math.round(((performance.now() - t0) / n) * 10) / 10;
    };
    await time('withdraw', (id) => post(`${F}/v1/withdraw`, move(u, 1n, id)));
    await time('withdraw replay', (id) => post(`${F}/v1/withdraw`, move(u, 1n, id)));
    await time('commit', (id) => post(`${F}/v1/commit`, { req_id: id }));
    await time('query', (id) => get(`${F}/v1/ops/${id}`));
    await time('balance', () => get(`${F}/v1/balances/${u}/1`));
    console.log(`[ledgers] mean ms per sequential call over HTTP (n=${n}):`, timings);
    expect(await admin('funding').balance(u, 1)).toEqual({ available: 1_000_000n - BigInt(n), frozen: 0n });
  });
});
