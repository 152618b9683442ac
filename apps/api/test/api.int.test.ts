// The public API over HTTP against the real Cassandra and Redis, with no worker running: validation, auth,
// the durable init row and its queued job, reads, listing, idempotency, metrics and Bull Board.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIdFor } from '@it/queue';
import { backdoor, call, newUserId, OPS, startTestApi, testConfig, tokenFor, transferBody, type TestApi } from './helpers.ts';

const config = testConfig({ BODY_LIMIT: '1kb' });
let api: TestApi;
let db: ReturnType<typeof backdoor>;
const user = newUserId();
let token = '';

beforeAll(async () => {
  api = await startTestApi(config);
  db = backdoor(config);
  token = await tokenFor(user);
});
afterAll(async () => {
  await api?.close();
  await db?.close();
});

const post = (body: unknown, opts: { token?: string; headers?: Record<string, string>; raw?: string } = {}) =>
  call(`${api.url}/api/v1/transfer`, { token, ...opts, ...(opts.raw === undefined ? { body } : {}) });

describe('POST /api/v1/transfer validation: 400, SPEC shape, message names the field', () => {
  const ok = () => transferBody(user);
  it.each([
    ['amount', 'zero', { amount: 0 }],
    ['amount', 'zero string', { amount: '0' }],
    ['amount', 'negative', { amount: -5 }],
    ['amount', 'negative string', { amount: '-5' }],
    ['amount', 'fractional', { amount: 1.5 }],
    ['amount', 'fractional string', { amount: '1.5' }],
    ['amount', 'non-numeric', { amount: 'ten' }],
    ['amount', 'leading zeros', { amount: '007' }],
    ['amount', 'exponent string', { amount: '1e3' }],
    ['amount', 'above 2^63-1', { amount: '9223372036854775808' }],
    ['amount', 'huge string', { amount: '9'.repeat(400) }],
    ['amount', 'JSON number beyond 2^63-1 (a JSON integer up to it is read exactly)', { amount: 2 ** 64 }],
    ['amount', 'boolean', { amount: true }],
    ['amount', 'object', { amount: { $gt: 0 } }],
    ['amount', 'missing', { amount: undefined }],
    ['to', 'from == to', { to: 'funding' }],
    ['from', 'unknown service', { from: 'savings' }],
    ['to', 'unknown service', { to: 'Trading' }],
    ['from', 'missing', { from: undefined }],
    ['user_id', 'missing', { user_id: undefined }],
    ['user_id', 'zero', { user_id: '0' }],
    ['user_id', 'above 2^63-1', { user_id: '9223372036854775808' }],
    ['user_id', 'an array', { user_id: [user] }],
    ['asset_id', 'missing', { asset_id: undefined }],
    ['asset_id', 'zero', { asset_id: 0 }],
    ['asset_id', '2^31', { asset_id: 2 ** 31 }],
    ['asset_id', 'a string', { asset_id: 'one' }],
    ['asset_id', 'fractional', { asset_id: 1.5 }],
  ])('%s: %s', async (field, _case, patch) => {
    const res = await post({ ...ok(), ...patch });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ req_id: '', status: 'failed' });
    expect(res.body.message).toContain(field);
  });

  it.each([
    ['malformed JSON', '{"from":"funding",', /not valid JSON/],
    ['a JSON array', '[1,2,3]', /JSON object/],
    ['a JSON string', '"hello"', /body/],
    ['null', 'null', /body/],
  ])('body %s → 400', async (_name, raw, message) => {
    const res = await post(undefined, { raw });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ req_id: '', status: 'failed' });
    expect(res.body.message).toMatch(message);
  });

  it('a body without Content-Type: application/json → 400', async () => {
    const res = await post(undefined, { raw: JSON.stringify(ok()), headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ req_id: '', status: 'failed', message: expect.stringMatching(/body/) });
  });

  it('an oversized body → 413 in the SPEC shape', async () => {
    const res = await post({ ...ok(), note: 'x'.repeat(2_000) });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ req_id: '', status: 'failed', message: 'body is larger than 1kb' });
  });

  it('names every bad field at once', async () => {
    const res = await post({ from: 'x', to: 'y', user_id: user, asset_id: 1, amount: '0' });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/from.*to.*amount/);
  });

  it('an invalid Idempotency-Key → 400 naming it', async () => {
    const res = await post(ok(), { headers: { 'idempotency-key': 'k'.repeat(256) } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ req_id: '', status: 'failed', message: expect.stringContaining('Idempotency-Key') });
  });

  it('nothing of the above reached the store', async () => {
    expect(await db.rowsOfUser(user)).toBe(0);
  });
});

describe('authentication (AUTH_MODE=jwt)', () => {
  it('no token → 401 in the SPEC shape on POST, {error} on GET', async () => {
    const p = await post(transferBody(user), { token: undefined });
    expect(p.status).toBe(401);
    expect(p.body).toMatchObject({ req_id: '', status: 'failed', message: expect.any(String) });
    expect(p.headers.get('www-authenticate')).toBe('Bearer');
    const g = await call(`${api.url}/api/v1/transfers`);
    expect(g.status).toBe(401);
    expect(g.body).toEqual({ error: expect.any(String) });
  });

  it.each([
    ['a bad signature', () => tokenFor(user, { secret: 'another-secret-0123456789abcdef0123456789' })],
    ['an expired token', () => tokenFor(user, { expiresIn: Math.floor(Date.now() / 1000) - 60 })],
    ['a non-integer subject', () => tokenFor('alice')],
    ['an unsigned token', () => {
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      return Promise.resolve(`${b64({ alg: 'none' })}.${b64({ sub: user, exp: Math.floor(Date.now() / 1000) + 60 })}.`);
    }],
    ['garbage', () => Promise.resolve('not.a.token')],
  ])('%s → 401', async (_name, make) => {
    const res = await post(transferBody(user), { token: await make() });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ req_id: '', status: 'failed' });
  });

  it('a body user_id other than the token subject → 403', async () => {
    const res = await post(transferBody(newUserId()));
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ req_id: '', status: 'failed', message: 'user_id does not match the authenticated user' });
  });
});

describe('create with no worker running', () => {
  it('answers 202 pending within the wait window; the init row and its job exist', async () => {
    const t0 = Date.now();
    const res = await post(transferBody(user, { amount: 2500 }));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ req_id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'pending', message: null });
    // It did wait (SYNC_WAIT_MS is 300 here) before answering pending.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    const reqId = res.body.req_id as string;
    const row = await db.store.get(reqId);
    expect(row).toMatchObject({ state: 'init', userId: BigInt(user), assetId: 1, amount: 2500n, source: 'funding', target: 'trading' });
    // The sweeper only steps in if no worker moved the transfer for a while (10 s of grace from its creation).
    expect(row!.nextAttemptAt!.getTime()).toBeGreaterThan(t0 + 9_000);
    // The job carries the row as created, so its first step need not read it back.
    const job = await db.queue.getJob(jobIdFor(reqId));
    expect(job?.data).toMatchObject({ reqId, created: expect.objectContaining({ userId: user, amount: '2500', source: 'funding', target: 'trading' }) });
    expect(await job?.getState()).toBe('waiting');
  });

  it('keeps amounts beyond 2^53 exact as decimal strings', async () => {
    const big = (2n ** 60n + 7n).toString();
    const res = await post(transferBody(user, { from: 'trading', to: 'funding', amount: big }));
    expect(res.status).toBe(202);
    const got = await call(`${api.url}/api/v1/transfer/${res.body.req_id as string}`, { token });
    expect(got.body).toMatchObject({ amount: big, source: 'trading', target: 'funding' });
  });

  it('counts the creation, the sync wait and the request on the metrics port only', async () => {
    const m = await fetch(`${api.metricsUrl}/metrics`);
    expect(m.status).toBe(200);
    const text = await m.text();
    expect(text).toMatch(/^internal_transfer_transfers_created_total\{source="funding",target="trading",app="api"\} [1-9]/m);
    expect(text).toMatch(/^internal_transfer_queue_jobs\{state="waiting",app="api"\} [1-9]/m);
    // No worker runs here: every wait ran out the window and answered 202.
    expect(text).toMatch(/^internal_transfer_sync_wait_total\{result="timeout",app="api"\} [1-9]/m);
    expect(text).toMatch(/^internal_transfer_sync_wait_total\{result="terminal",app="api"\} 0$/m);
    expect(text).toMatch(/^internal_transfer_http_request_duration_seconds_count\{app="api",method="POST",route="\/api\/v1\/transfer",status="202"\} [1-9]/m);
    expect(text).toMatch(/^internal_transfer_http_request_duration_seconds_count\{app="api",method="GET",route="\/api\/v1\/transfer\/:req_id",status="200"\} [1-9]/m);
    expect((await fetch(`${api.url}/metrics`)).status).toBe(404);
  });
});

describe('GET /api/v1/transfer/:req_id', () => {
  it('returns the documented shape', async () => {
    const created = await post(transferBody(user, { amount: '42', asset_id: 7 }));
    const reqId = created.body.req_id as string;
    const res = await call(`${api.url}/api/v1/transfer/${reqId}`, { token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      req_id: reqId,
      state: 'init',
      source: 'funding',
      target: 'trading',
      user_id: user,
      asset_id: 7,
      amount: '42',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updated_at: expect.stringMatching(/Z$/),
      error: null,
      retry_count: 0,
    });
    // Uppercase is the same UUID.
    expect((await call(`${api.url}/api/v1/transfer/${reqId.toUpperCase()}`, { token })).status).toBe(200);
  });

  it('malformed id → 400, unknown → 404, another user\'s → 404', async () => {
    expect(await call(`${api.url}/api/v1/transfer/not-a-uuid`, { token })).toMatchObject({ status: 400, body: { error: 'Invalid req_id format' } });
    expect(await call(`${api.url}/api/v1/transfer/${randomUUID()}`, { token })).toMatchObject({ status: 404, body: { error: 'Transfer not found' } });
    const other = newUserId();
    const theirs = await post(transferBody(other), { token: await tokenFor(other) });
    expect(theirs.status).toBe(202);
    expect(await call(`${api.url}/api/v1/transfer/${theirs.body.req_id as string}`, { token })).toMatchObject({
      status: 404, body: { error: 'Transfer not found' },
    });
  });
});

describe('GET /api/v1/transfers', () => {
  it('lists only the caller\'s transfers, newest first, page by page', async () => {
    const me = newUserId();
    const other = newUserId();
    const base = Date.now() - 60_000;
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) {
      const reqId = randomUUID();
      mine.push(reqId);
      const t = { userId: BigInt(me), assetId: 1, amount: BigInt(i + 1), source: 'funding', target: 'trading', nextAttemptAt: new Date(base) } as const;
      await db.store.create({ ...t, reqId, createdAt: new Date(base + i * 1_000) });
      await db.store.create({ ...t, reqId: randomUUID(), userId: BigInt(other), createdAt: new Date(base + i * 1_000) });
    }
    const myToken = await tokenFor(me);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 5; page++) {
      const res = await call(`${api.url}/api/v1/transfers?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: myToken });
      expect(res.status).toBe(200);
      const items = res.body.items as Array<Record<string, unknown>>;
      expect(items.length).toBeLessThanOrEqual(2);
      for (const item of items) {
        expect(item.user_id).toBe(me);
        seen.push(item.req_id as string);
      }
      cursor = res.body.next_cursor as string | null;
      if (!cursor) break;
    }
    expect(seen).toEqual([...mine].reverse());
    const all = await call(`${api.url}/api/v1/transfers`, { token: myToken });
    expect((all.body.items as unknown[]).length).toBe(5);
    expect((all.body.items as Array<Record<string, unknown>>)[0]).toMatchObject({ req_id: mine[4], amount: '5', state: 'init' });
  });

  it.each([
    ['limit=0', /limit/],
    ['limit=101', /limit/],
    ['limit=abc', /limit/],
    ['limit=1&limit=2', /limit/],
    ['cursor=***', /cursor/],
    ['cursor=AAAA', /cursor/],
  ])('%s → 400', async (query, message) => {
    const res = await call(`${api.url}/api/v1/transfers?${query}`, { token });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(message);
  });
});

describe('Idempotency-Key', () => {
  it('same key and body → the same transfer, one row; another body → 409', async () => {
    const me = newUserId();
    const myToken = await tokenFor(me);
    const headers = { 'idempotency-key': `order-${randomUUID()}` };
    const first = await post(transferBody(me, { amount: 300 }), { token: myToken, headers });
    // Same transfer spelt differently (string amount, other key order, an extra field).
    const again = await post({ amount: '300', asset_id: 1, user_id: Number(me), to: 'trading', from: 'funding', note: 'retry' }, { token: myToken, headers });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(await db.rowsOfUser(me)).toBe(1);
    const other = await post(transferBody(me, { amount: '301' }), { token: myToken, headers });
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ req_id: '', status: 'failed', message: expect.stringContaining('Idempotency-Key') });
    expect(await db.rowsOfUser(me)).toBe(1);
  });

  it('the same key from another user is another transfer', async () => {
    const key = `shared-${randomUUID()}`;
    const [a, b] = [newUserId(), newUserId()];
    const ra = await post(transferBody(a), { token: await tokenFor(a), headers: { 'idempotency-key': key } });
    const rb = await post(transferBody(b), { token: await tokenFor(b), headers: { 'idempotency-key': key } });
    expect(ra.body.req_id).not.toBe(rb.body.req_id);
  });

  it('a claimed key whose row was never written (the first request died) → written now, same id and time', async () => {
    const me = newUserId();
    const key = `crashed-${randomUUID()}`;
    const reqId = randomUUID();
    const createdAt = new Date(Date.now() - 5_000);
    const { requestHash } = await import('../src/validation.ts');
    const hash = requestHash({ source: 'funding', target: 'trading', userId: BigInt(me), assetId: 1, amount: 1000n });
    await db.store.claimIdempotencyKey({ userId: BigInt(me), key, reqId, requestHash: hash, createdAt, ttlSeconds: 600 });
    const res = await post(transferBody(me), { token: await tokenFor(me), headers: { 'idempotency-key': key } });
    expect(res.status).toBe(202);
    expect(res.body.req_id).toBe(reqId);
    const row = await db.store.get(reqId);
    expect(row).toMatchObject({ state: 'init', createdAt });
    expect(await db.queue.getJob(jobIdFor(reqId))).toBeDefined();
  });

  it('replays a finished transfer with its outcome, 200, without enqueueing or waiting', async () => {
    const me = newUserId();
    const key = `done-${randomUUID()}`;
    const headers = { 'idempotency-key': key };
    const myToken = await tokenFor(me);
    const first = await post(transferBody(me), { token: myToken, headers });
    const reqId = first.body.req_id as string;
    // Play the worker: finish it as a refusal would.
    const row = await db.store.get(reqId);
    await db.store.compareAndSet({ from: row!, to: 'failed', error: 'insufficient_funds', attempt: 1, nextAttemptAt: null });
    // The replay goes to an API with the longest window and a queue of its own (same Cassandra): had it
    // enqueued, the job would be there; had it waited, the answer would not come well before the window ends.
    const longWait = testConfig({ SYNC_WAIT_MS: '30000' });
    const other = await startTestApi(longWait);
    const otherDb = backdoor(longWait);
    try {
      const again = await call(`${other.url}/api/v1/transfer`, {
        token: myToken, headers, body: transferBody(me), signal: AbortSignal.timeout(10_000),
      });
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ req_id: reqId, status: 'failed', message: 'insufficient_funds' });
      expect(await otherDb.queue.getJob(jobIdFor(reqId))).toBeUndefined();
      expect(await db.rowsOfUser(me)).toBe(1);
    } finally {
      await other.close();
      await otherDb.close();
    }
  });
});

describe('operations surfaces', () => {
  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

  it('Bull Board is on the ops listener only: absent from the public port', async () => {
    const auth = { authorization: basic(OPS.user, OPS.password) };
    expect((await fetch(`${api.url}/admin/queues`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${api.url}/metrics`)).status).toBe(404);
    const ok = await fetch(`${api.metricsUrl}/admin/queues`, { headers: auth });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/<html/i);
  });

  it('Bull Board needs the operations credentials, and is never framed', async () => {
    const none = await fetch(`${api.metricsUrl}/admin/queues`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect((await fetch(`${api.metricsUrl}/admin/queues`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    const ok = await fetch(`${api.metricsUrl}/admin/queues`, { headers: { authorization: basic(OPS.user, OPS.password) } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
    expect(ok.headers.get('x-frame-options')).toBe('DENY');
    const queues = await fetch(`${api.metricsUrl}/admin/queues/api/queues`, { headers: { authorization: basic(OPS.user, OPS.password) } });
    expect(queues.status).toBe(200);
  });

  it('Bull Board refuses cross-origin writes', async () => {
    const res = await fetch(`${api.metricsUrl}/admin/queues/api/queues/transfers/pause`, {
      method: 'PUT',
      headers: { authorization: basic(OPS.user, OPS.password), origin: 'https://evil.example' },
    });
    expect(res.status).toBe(403);
  });

  it('/livez and /readyz answer 200 when both stores answer', async () => {
    expect((await call(`${api.url}/livez`)).status).toBe(200);
    expect(await call(`${api.url}/readyz`)).toMatchObject({ status: 200, body: { status: 'ready', cassandra: 'ok', redis: 'ok' } });
  });

  it('unknown routes → 404 JSON', async () => {
    expect(await call(`${api.url}/nope`)).toMatchObject({ status: 404, body: { error: 'Not found' } });
  });
});
