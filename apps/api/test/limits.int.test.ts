// The abuse limits of POST /transfer against the real Redis and Cassandra, with no worker (transfers stay
// open): the per-user rate, the per-process sync-wait cap, the per-user open-transfers cap, and that the
// Redis-backed limits fail open when Redis is unreachable. Each API has a queue prefix of its own, under which
// its limit keys live and are deleted by close().
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIdFor } from '@it/queue';
import { backdoor, call, eventually, newUserId, REDIS_URL, startTestApi, TcpProxy, testConfig, tokenFor, transferBody, type Reply, type TestApi } from './helpers.ts';

/** The limits fail open until the API's Redis connection is up: start counting only once it is. */
async function startReadyApi(overrides: Record<string, string>): Promise<TestApi> {
  const api = await startTestApi(testConfig(overrides));
  await eventually('the API ready', async () => (await call(`${api.url}/readyz`)).status === 200);
  return api;
}

async function post(api: TestApi, user: string, opts: { key?: string; signal?: AbortSignal } = {}): Promise<Reply> {
  return call(`${api.url}/api/v1/transfer`, {
    token: await tokenFor(user),
    body: transferBody(user),
    headers: opts.key === undefined ? {} : { 'idempotency-key': opts.key },
    signal: opts.signal,
  });
}

function expectPending(res: Reply): void {
  expect(res.status).toBe(202);
  expect(res.body).toEqual({ req_id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'pending', message: null });
}

function expectRefused(res: Reply, message: RegExp): void {
  expect(res.status).toBe(429);
  expect(res.body).toEqual({ req_id: '', status: 'failed', message: expect.stringMatching(message) });
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
}

describe('rate limit per user', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startReadyApi({ RATE_LIMIT_POSTS_PER_MINUTE: '3', SYNC_WAIT_MS: '0' });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('a user flooding POSTs gets 429 with Retry-After; another user is still served', async () => {
    const flooder = newUserId();
    const replies: Reply[] = [];
    for (let i = 0; i < 5; i++) replies.push(await post(api, flooder));
    replies.slice(0, 3).forEach(expectPending);
    for (const res of replies.slice(3)) expectRefused(res, /^rate limit: at most 3 transfers per minute$/);

    expectPending(await post(api, newUserId()));
  });

  it('idempotent replays count like any POST', async () => {
    const user = newUserId();
    const first = await post(api, user, { key: 'replayed' });
    expectPending(first);
    for (let i = 0; i < 2; i++) expect((await post(api, user, { key: 'replayed' })).body.req_id).toBe(first.body.req_id);
    expectRefused(await post(api, user, { key: 'replayed' }), /^rate limit/);
  });
});

describe('sync-wait cap per process', () => {
  let api: TestApi;
  let db: ReturnType<typeof backdoor>;
  beforeAll(async () => {
    // The longest window: a request that waited would not be answered within the test's abort bound.
    api = await startReadyApi({ SYNC_WAIT_MAX_WAITING: '1', SYNC_WAIT_MS: '30000' });
    db = backdoor(api.config);
  });
  afterAll(async () => {
    await api?.close();
    await db?.close();
  });

  it('with the window full, a new POST is created and answered 202 pending without waiting', async () => {
    const waiting = new AbortController();
    const first = post(api, newUserId(), { signal: waiting.signal }).catch(() => undefined);
    // Its job is added after it started waiting: from then on the window is full.
    await eventually('the first POST to wait', async () => (await db.queue.count()) >= 1);

    const res = await post(api, newUserId(), { signal: AbortSignal.timeout(10_000) });
    expectPending(res);
    // Created and enqueued like any other, only not waited for.
    expect(await db.store.get(res.body.req_id as string)).toMatchObject({ state: 'init' });
    expect(await db.queue.getJob(jobIdFor(res.body.req_id as string))).toBeDefined();

    waiting.abort();
    await first;
  });
});

describe('open transfers cap per user', () => {
  let api: TestApi;
  let db: ReturnType<typeof backdoor>;
  beforeAll(async () => {
    api = await startReadyApi({ MAX_OPEN_TRANSFERS_PER_USER: '2', SYNC_WAIT_MS: '0' });
    db = backdoor(api.config);
  });
  afterAll(async () => {
    await api?.close();
    await db?.close();
  });

  it('a user with the maximum still running gets 429; another user passes; finished ones stop counting', async () => {
    const user = newUserId();
    const open = [await post(api, user), await post(api, user)];
    open.forEach(expectPending);
    expectRefused(await post(api, user), /^too many transfers in progress: at most 2$/);
    expectPending(await post(api, newUserId()));

    // Finished behind the API's back (as a worker would, after the POSTs' windows): the next POST finds the
    // oldest entry finished in Cassandra and drops it.
    for (const res of open) {
      const row = await db.store.get(res.body.req_id as string);
      if (!row) throw new Error('row missing');
      await db.store.compareAndSet({ from: row, to: 'failed', error: 'source refused: test', attempt: 0, nextAttemptAt: null });
    }
    expectPending(await post(api, user));
  });
});

describe('fail open', () => {
  let api: TestApi;
  const proxy = new TcpProxy(Number(new URL(REDIS_URL).port || 6379), new URL(REDIS_URL).hostname);
  beforeAll(async () => {
    await proxy.start();
    api = await startReadyApi({
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`, RATE_LIMIT_POSTS_PER_MINUTE: '1', MAX_OPEN_TRANSFERS_PER_USER: '1', SYNC_WAIT_MS: '0',
    });
  });
  afterAll(async () => {
    await api?.close();
    await proxy.stop();
  });

  it('with Redis unreachable a POST over both limits is still accepted (202, durable)', async () => {
    // The limits are live through the proxy...
    const other = newUserId();
    expectPending(await post(api, other));
    expectRefused(await post(api, other), /^rate limit/);
    // ...and this user's next POST would be over both of them.
    const user = newUserId();
    expectPending(await post(api, user));
    await proxy.stop();
    const res = await post(api, user);
    expectPending(res);
    const db = backdoor(api.config);
    try {
      expect(await db.store.get(res.body.req_id as string)).toMatchObject({ state: 'init' });
    } finally {
      await db.close();
    }
  });
});
