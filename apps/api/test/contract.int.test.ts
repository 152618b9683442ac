// The OpenAPI document against the real API: real requests (through the typed client @it/client where it can
// express them, raw fetch for what no typed client would send) covering every status the document lists for
// every operation, each response validated against the document (status, content type, required headers,
// body schema; the events stream's data too). The last test proves nothing documented went unexercised.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransferClient, watchTransfer, type Transfer } from '@it/client';
import type { RunningWorker } from '@it/worker';
import { ContractValidator } from '../../../tests/support/openapi-contract.ts';
import { openApiDocument } from '../src/openapi.ts';
import { requestHash } from '../src/validation.ts';
import { backdoor, newUserId, startTestApi, testConfig, tokenFor, transferBody, type TestApi } from './helpers.ts';
import { REFUSED_AMOUNT, ScriptedLedgers, startScriptedWorker } from './scripted-worker.ts';

const validator = new ContractValidator();
const ledgers = new ScriptedLedgers();
// A sync wait long enough for a cold first transfer to finish inside it (the 202 case holds its withdraw).
const config = testConfig({
  SYNC_WAIT_MS: '3000', MAX_OPEN_TRANSFERS_PER_USER: '1', SSE_MAX_STREAMS_PER_USER: '1', SSE_HEARTBEAT_MS: '200', BODY_LIMIT: '1kb',
});
// The same API with Cassandra unreachable: the 503s.
const downConfig = testConfig({ CASSANDRA_CONTACT_POINTS: '127.0.0.1:1' });
let api: TestApi;
let down: TestApi;
let worker: RunningWorker;
let db: ReturnType<typeof backdoor>;

beforeAll(async () => {
  [api, down] = await Promise.all([startTestApi(config), startTestApi(downConfig)]);
  worker = await startScriptedWorker(config, ledgers);
  db = backdoor(config);
});
afterAll(async () => {
  ledgers.releaseAll();
  await worker?.close();
  await Promise.all([api?.close(), down?.close()]);
  await db?.close();
});

const client = (base: string, token?: string) => createTransferClient({ baseUrl: base, ...(token ? { token } : {}) }, validator.middleware());

/** For requests no typed client would send: validated all the same. */
async function raw(base: string, method: string, path: string, init: RequestInit = {}) {
  const res = await fetch(`${base}${path}`, { method, ...init });
  const text = await res.text();
  validator.validate(method, path, res.status, res.headers, text);
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown>, headers: res.headers };
}

/** watchTransfer with every response and every event's data validated against the document. */
async function* watching(base: string, token: string, reqId: string): AsyncGenerator<Transfer, void> {
  const validating: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    validator.validate('GET', url, res.status, res.headers, res.ok ? '' : await res.clone().text());
    return res;
  };
  for await (const transfer of watchTransfer({ baseUrl: base, token, fetch: validating }, reqId)) {
    validator.validateEventData(JSON.stringify(transfer));
    yield transfer;
  }
}

async function collect(stream: AsyncGenerator<Transfer, void>): Promise<Transfer[]> {
  const seen: Transfer[] = [];
  for await (const transfer of stream) seen.push(transfer);
  return seen;
}

async function user() {
  const id = newUserId();
  return { id, token: await tokenFor(id) };
}

const body = (userId: string, amount: string | number = '1000') => ({ from: 'funding' as const, to: 'trading' as const, user_id: userId, asset_id: 1, amount });

describe('POST /api/v1/transfer', () => {
  it('200 with each final status', async () => {
    const u = await user();
    const api1 = client(api.url, u.token);
    const committed = await api1.POST('/api/v1/transfer', { body: body(u.id, 2500) });
    expect(committed.response.status).toBe(200);
    expect(committed.data).toMatchObject({ status: 'committed', message: null });
    const refused = await api1.POST('/api/v1/transfer', { body: body(u.id, REFUSED_AMOUNT.toString()) });
    expect(refused.response.status).toBe(200);
    expect(refused.data).toMatchObject({ status: 'failed', message: 'insufficient funds' });
  });

  it('Prefer: respond-async answers 202 pending at once, though the transfer commits within the window', async () => {
    const u = await user();
    const api1 = client(api.url, u.token);
    const res = await api1.POST('/api/v1/transfer', { body: body(u.id, '3100'), params: { header: { Prefer: 'respond-async' } } });
    expect(res.response.status).toBe(202);
    expect(res.response.headers.get('preference-applied')).toBe('respond-async');
    const seen = await collect(watching(api.url, u.token, res.data!.req_id));
    expect(seen.at(-1)).toMatchObject({ state: 'committed', amount: '3100' });
  });

  it('202 while running; then 429 at the open-transfers cap; the events stream follows it to committed', async () => {
    const u = await user();
    const release = ledgers.hold(7001n);
    const api1 = client(api.url, u.token);
    const pending = await api1.POST('/api/v1/transfer', { body: body(u.id, '7001'), params: { header: { 'Idempotency-Key': 'contract-202' } } });
    expect(pending.response.status).toBe(202);
    expect(pending.data).toMatchObject({ status: 'pending', message: null });
    const reqId = pending.data!.req_id;

    const capped = await api1.POST('/api/v1/transfer', { body: body(u.id, '7002') });
    expect(capped.response.status).toBe(429);
    expect(capped.error).toEqual({ req_id: '', status: 'failed', message: 'too many transfers in progress: at most 1' });
    expect(capped.response.headers.get('retry-after')).toBe('5');

    const stream = watching(api.url, u.token, reqId);
    // The current state at once: the worker holds the withdraw, so the source leg is in flight.
    const first = (await stream.next()).value;
    expect(first).toMatchObject({ req_id: reqId, state: 'source_pending', amount: '7001', user_id: u.id });
    // One stream per user (SSE_MAX_STREAMS_PER_USER=1): a second one is refused while the first is open.
    await expect(collect(watching(api.url, u.token, reqId))).rejects.toMatchObject({ status: 429 });
    release();
    const rest = await collect(stream);
    expect(rest.at(-1)).toMatchObject({ req_id: reqId, state: 'committed', error: null });
    // Every state the row rests in, in the saga's order, each once (the withdraw's outcome and the deposit's
    // intent are one write: source_done is only in the history).
    expect(rest.map((t) => t.state)).toEqual(['target_pending', 'finalizing', 'committed']);

    const got = await api1.GET('/api/v1/transfer/{req_id}', { params: { path: { req_id: reqId } } });
    expect(got.data).toMatchObject({ state: 'committed' });
    const page = await api1.GET('/api/v1/transfers', { params: { query: { limit: 10 } } });
    expect(page.response.status).toBe(200);
    expect(page.data!.items.map((t) => t.req_id)).toContain(reqId);
  });

  it('400, 401, 403, 409', async () => {
    const u = await user();
    const api1 = client(api.url, u.token);
    const invalid = await api1.POST('/api/v1/transfer', { body: { ...body(u.id), amount: 0 } });
    expect(invalid.response.status).toBe(400);
    expect(invalid.error?.message).toBe('amount must be a positive integer');
    const anonymous = await client(api.url).POST('/api/v1/transfer', { body: body(u.id) });
    expect(anonymous.response.status).toBe(401);
    const other = await api1.POST('/api/v1/transfer', { body: body(newUserId()) });
    expect(other.response.status).toBe(403);
    const key = { params: { header: { 'Idempotency-Key': 'contract-409' } } };
    expect((await api1.POST('/api/v1/transfer', { body: body(u.id, '5'), ...key })).response.status).toBe(200);
    const conflict = await api1.POST('/api/v1/transfer', { body: body(u.id, '6'), ...key });
    expect(conflict.response.status).toBe(409);
  });

  it('413 and 415: bodies the server cannot read', async () => {
    const u = await user();
    const headers = { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' };
    const large = await raw(api.url, 'POST', '/api/v1/transfer', { headers, body: JSON.stringify({ ...transferBody(u.id), note: 'x'.repeat(2048) }) });
    expect(large).toMatchObject({ status: 413, body: { message: 'body is larger than 1kb' } });
    const encoded = await raw(api.url, 'POST', '/api/v1/transfer', { headers: { ...headers, 'content-encoding': 'x-unknown' }, body: '{}' });
    expect(encoded.status).toBe(415);
  });
});

describe('reads and the events stream', () => {
  it('400 for a malformed req_id or query, 401 without a token, 404 for an unknown transfer', async () => {
    const u = await user();
    const api1 = client(api.url, u.token);
    const anonymous = client(api.url);
    const unknown = randomUUID();
    expect((await api1.GET('/api/v1/transfer/{req_id}', { params: { path: { req_id: 'not-a-uuid' } } })).response.status).toBe(400);
    expect((await api1.GET('/api/v1/transfer/{req_id}/events', { params: { path: { req_id: 'not-a-uuid' } }, parseAs: 'stream' })).response.status).toBe(400);
    expect((await api1.GET('/api/v1/transfers', { params: { query: { limit: 0 } } })).response.status).toBe(400);
    expect((await anonymous.GET('/api/v1/transfer/{req_id}', { params: { path: { req_id: unknown } } })).response.status).toBe(401);
    expect((await anonymous.GET('/api/v1/transfer/{req_id}/events', { params: { path: { req_id: unknown } }, parseAs: 'stream' })).response.status).toBe(401);
    expect((await anonymous.GET('/api/v1/transfers')).response.status).toBe(401);
    expect((await api1.GET('/api/v1/transfer/{req_id}', { params: { path: { req_id: unknown } } })).response.status).toBe(404);
    expect((await api1.GET('/api/v1/transfer/{req_id}/events', { params: { path: { req_id: unknown } }, parseAs: 'stream' })).response.status).toBe(404);
  });

  it('500 on a row this version cannot read, on every operation; details stay in the log', async () => {
    const u = await user();
    const reqId = randomUUID();
    const transfer = { source: 'funding', target: 'trading', userId: BigInt(u.id), assetId: 1, amount: 1000n } as const;
    await db.store.create({ reqId, ...transfer, nextAttemptAt: new Date(Date.now() + 3_600_000) });
    await db.store.claimIdempotencyKey({ userId: BigInt(u.id), key: 'corrupt', reqId, requestHash: requestHash(transfer), createdAt: new Date(), ttlSeconds: 600 });
    await db.client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['bogus', reqId, 'init'], { prepare: true });
    try {
      const api1 = client(api.url, u.token);
      const replay = await api1.POST('/api/v1/transfer', { body: body(u.id), params: { header: { 'Idempotency-Key': 'corrupt' } } });
      expect(replay.response.status).toBe(500);
      expect(replay.error).toEqual({ req_id: '', status: 'failed', message: 'internal error' });
      expect((await api1.GET('/api/v1/transfer/{req_id}', { params: { path: { req_id: reqId } } })).error).toEqual({ error: 'internal error' });
      expect((await api1.GET('/api/v1/transfer/{req_id}/events', { params: { path: { req_id: reqId } }, parseAs: 'stream' })).response.status).toBe(500);
      expect((await api1.GET('/api/v1/transfers')).response.status).toBe(500);
    } finally {
      await db.client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['failed', reqId, 'bogus'], { prepare: true });
    }
  });

  it('503 while Cassandra is unreachable, on every operation', async () => {
    const u = await user();
    const unreachable = client(down.url, u.token);
    expect((await unreachable.POST('/api/v1/transfer', { body: body(u.id) })).response.status).toBe(503);
    const id = { params: { path: { req_id: randomUUID() } } };
    expect((await unreachable.GET('/api/v1/transfer/{req_id}', id)).error).toEqual({ error: 'storage unavailable, retry later' });
    expect((await unreachable.GET('/api/v1/transfer/{req_id}/events', { ...id, parseAs: 'stream' })).response.status).toBe(503);
    expect((await unreachable.GET('/api/v1/transfers')).response.status).toBe(503);
  });
});

describe('the document itself', () => {
  it('is served at /api/v1/openapi.json as generated, and rendered at /api/docs from local assets', async () => {
    const res = await fetch(`${api.url}/api/v1/openapi.json`);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
    const page = await fetch(`${api.url}/api/docs`);
    expect(page.url).toBe(`${api.url}/api/docs/`);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    for (const asset of ['swagger-ui-bundle.js', 'swagger-ui.css', 'init.js']) {
      expect(html).toContain(`"${asset}"`);
      const r = await fetch(new URL(asset, page.url));
      expect(r.status, asset).toBe(200);
      expect((await r.arrayBuffer()).byteLength, asset).toBeGreaterThan(20);
    }
  });

  it('every status the document lists was exercised and validated', () => {
    expect(validator.uncovered()).toEqual([]);
  });
});
