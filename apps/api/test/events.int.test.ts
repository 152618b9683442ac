// The live status stream (GET /api/v1/transfer/{req_id}/events) against the real Cassandra and Redis with the
// real worker: state changes reach a stream on another replica than the POST through Redis; a change Redis
// never carried arrives at the next heartbeat from Cassandra; Last-Event-ID; the bounds per process and per
// user (across replicas); shutdown ends streams. And CORS: preflight, allowed and refused origins, off by default.
import { randomUUID } from 'node:crypto';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningWorker } from '@it/worker';
import { backdoor, newUserId, startTestApi, testConfig, tokenFor, transferBody, type TestApi } from './helpers.ts';
import { ScriptedLedgers, startScriptedWorker } from './scripted-worker.ts';

const FRONTEND = 'http://frontend.test:5173';
const shared = { SSE_HEARTBEAT_MS: '200', SSE_MAX_STREAMS_PER_USER: '1', SYNC_WAIT_MS: '200' };
// Two replicas of one deployment (same queue prefix); B holds one stream at most, and has no CORS.
const configA = testConfig({ ...shared, CORS_ORIGINS: FRONTEND });
const configB = testConfig({ ...shared, QUEUE_PREFIX: configA.QUEUE_PREFIX, SSE_MAX_STREAMS: '1' });
const ledgers = new ScriptedLedgers();
let a: TestApi;
let b: TestApi;
let worker: RunningWorker;
let db: ReturnType<typeof backdoor>;

beforeAll(async () => {
  [a, b] = await Promise.all([startTestApi(configA), startTestApi(configB)]);
  worker = await startScriptedWorker(configA, ledgers);
  db = backdoor(configA);
});
afterAll(async () => {
  ledgers.releaseAll();
  await worker?.close();
  await Promise.all([a?.close(), b?.close()]);
  await db?.close();
});

interface Stream {
  status: number;
  headers: Headers;
  events: EventSourceMessage[];
  heartbeats: number;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  /** Resolves once `n` events have arrived. */
  received(n: number): Promise<void>;
  close(): void;
}

/** A raw SSE reader: every event, every comment, and when the server hung up. */
async function open(base: string, token: string, reqId: string, headers: Record<string, string> = {}): Promise<Stream> {
  const abort = new AbortController();
  const res = await fetch(`${base}/api/v1/transfer/${reqId}/events`, { headers: { authorization: `Bearer ${token}`, ...headers }, signal: abort.signal });
  const events: EventSourceMessage[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const stream: Stream = {
    status: res.status,
    headers: res.headers,
    events,
    heartbeats: 0,
    ended: Promise.resolve(),
    received: (n) => new Promise((resolve) => (events.length >= n ? resolve() : waiters.push({ n, resolve }))),
    close: () => abort.abort(),
  };
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel();
    return stream;
  }
  const parser = createParser({
    onEvent: (e) => {
      events.push(e);
      for (const w of waiters.filter((w) => events.length >= w.n)) w.resolve();
    },
    onComment: () => stream.heartbeats++,
  });
  const body = res.body.pipeThrough(new TextDecoderStream());
  stream.ended = (async () => {
    try {
      for await (const chunk of body) parser.feed(chunk);
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
  })();
  return stream;
}

const states = (s: Stream) => s.events.map((e) => (JSON.parse(e.data) as { state: string }).state);

async function user() {
  const id = newUserId();
  return { id, token: await tokenFor(id) };
}

/** A transfer row nobody runs (no job): the test moves it with compare-and-sets of its own. */
async function idleTransfer(userId: string) {
  const reqId = randomUUID();
  const { record } = await db.store.create({
    reqId, source: 'funding', target: 'trading', userId: BigInt(userId), assetId: 1, amount: 10n, nextAttemptAt: new Date(Date.now() + 3_600_000),
  });
  return record;
}

describe('events through Redis, whichever replica', () => {
  it('a POST on replica A, a stream on replica B: the current state at once, each change after it, closed at the final one', async () => {
    const u = await user();
    const release = ledgers.hold(4242n);
    const post = await fetch(`${a.url}/api/v1/transfer`, {
      method: 'POST', headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(transferBody(u.id, { amount: '4242' })),
    });
    expect(post.status).toBe(202);
    const { req_id: reqId } = (await post.json()) as { req_id: string };
    await expect.poll(() => ledgers.waiting.has(reqId)).toBe(true);

    const stream = await open(b.url, u.token, reqId);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers.get('cache-control')).toBe('no-store');
    await stream.received(1);
    expect(states(stream)).toEqual(['source_pending']);
    // Idle while the withdraw is held: heartbeats keep the connection open.
    await expect.poll(() => stream.heartbeats, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
    release();
    await stream.ended;
    // source_done is never a resting state: the withdraw's outcome and the deposit's intent are one write.
    expect(states(stream)).toEqual(['source_pending', 'target_pending', 'finalizing', 'committed']);
    expect(stream.events.every((e) => e.event === 'state')).toBe(true);
    const ids = stream.events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(JSON.parse(stream.events.at(-1)!.data)).toMatchObject({ req_id: reqId, user_id: u.id, amount: '4242', state: 'committed' });
  });

  it('a change that never reached Redis arrives at the next heartbeat, read from Cassandra', async () => {
    const u = await user();
    const row = await idleTransfer(u.id);
    const stream = await open(a.url, u.token, row.reqId);
    await stream.received(1);
    expect(states(stream)).toEqual(['init']);
    // Written behind the workers' back: nothing is published.
    const cas = await db.store.compareAndSet({ from: row, to: 'failed', error: 'refused by the test', attempt: 0, nextAttemptAt: null });
    expect(cas.applied).toBe(true);
    await stream.ended;
    expect(states(stream)).toEqual(['init', 'failed']);
    expect(JSON.parse(stream.events[1]!.data)).toMatchObject({ state: 'failed', error: 'refused by the test' });
  });

  it('Last-Event-ID: a reconnecting client is not sent the state it already saw', async () => {
    const u = await user();
    const row = await idleTransfer(u.id);
    const cas = await db.store.compareAndSet({ from: row, to: 'failed', error: 'x', attempt: 0, nextAttemptAt: null });
    if (!cas.applied) throw new Error('setup failed');
    const fresh = await open(a.url, u.token, row.reqId);
    await fresh.ended;
    expect(fresh.events.map((e) => e.id)).toEqual([String(cas.record.version)]);
    const again = await open(a.url, u.token, row.reqId, { 'last-event-id': String(cas.record.version) });
    await again.ended;
    expect(again.status).toBe(200);
    expect(again.events).toEqual([]);
  });

  it('another user\'s transfer is not found; a token is required', async () => {
    const owner = await user();
    const other = await user();
    const row = await idleTransfer(owner.id);
    expect((await open(a.url, other.token, row.reqId)).status).toBe(404);
    const anonymous = await fetch(`${a.url}/api/v1/transfer/${row.reqId}/events`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ error: 'authentication required: Authorization: Bearer <token>' });
  });
});

describe('bounds', () => {
  it('per user across replicas (429), released when a stream ends; per process (503)', async () => {
    const u = await user();
    const first = await idleTransfer(u.id);
    const second = await idleTransfer(u.id);
    const onA = await open(a.url, u.token, first.reqId);
    await onA.received(1);
    // B has room in the process, but the user's one place is taken on A.
    const refused = await fetch(`${b.url}/api/v1/transfer/${second.reqId}/events`, { headers: { authorization: `Bearer ${u.token}` } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.json()).toEqual({ error: 'too many open event streams for this user' });
    onA.close();
    await expect.poll(async () => {
      const s = await open(b.url, u.token, second.reqId);
      s.close();
      return s.status;
    }).toBe(200);

    // B holds one stream at most (SSE_MAX_STREAMS=1): whoever asks next is sent elsewhere.
    const someone = await user();
    const held = await open(b.url, u.token, second.reqId);
    await held.received(1);
    const full = await fetch(`${b.url}/api/v1/transfer/${(await idleTransfer(someone.id)).reqId}/events`, { headers: { authorization: `Bearer ${someone.token}` } });
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('5');
    expect(await full.json()).toEqual({ error: 'too many open event streams on this server, retry later' });
    held.close();
  });
});

describe('CORS', () => {
  const preflight = (base: string, origin: string) =>
    fetch(`${base}/api/v1/transfer`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,idempotency-key,prefer' },
    });

  it('a configured origin: preflight allows POST with Authorization, Idempotency-Key and Prefer; answers are readable', async () => {
    const res = await preflight(a.url, FRONTEND);
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(FRONTEND);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET,POST');
    expect(res.headers.get('access-control-allow-headers')?.toLowerCase().split(',')).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'idempotency-key', 'prefer', 'last-event-id']),
    );
    expect(res.headers.get('access-control-max-age')).toBe('600');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    const u = await user();
    const get = await fetch(`${a.url}/api/v1/transfer/${randomUUID()}`, { headers: { origin: FRONTEND, authorization: `Bearer ${u.token}` } });
    expect(get.status).toBe(404);
    expect(get.headers.get('access-control-allow-origin')).toBe(FRONTEND);
    expect(get.headers.get('access-control-expose-headers')).toBe('Retry-After,Preference-Applied');
    expect(get.headers.get('vary')).toMatch(/Origin/);
  });

  it('any other origin gets no CORS header, and with CORS_ORIGINS unset nobody does', async () => {
    for (const [base, origin] of [[a.url, 'https://evil.example'], [a.url, `${FRONTEND}.evil.example`], [b.url, FRONTEND]] as const) {
      const res = await preflight(base, origin);
      expect(res.headers.get('access-control-allow-origin'), `${base} ${origin}`).toBeNull();
      const get = await fetch(`${base}/api/v1/openapi.json`, { headers: { origin } });
      expect(get.headers.get('access-control-allow-origin'), `${base} ${origin}`).toBeNull();
    }
  });
});

describe('shutdown', () => {
  it('ends open streams at once instead of holding the close for its grace period', async () => {
    const u = await user();
    const row = await idleTransfer(u.id);
    const stream = await open(b.url, u.token, row.reqId);
    await stream.received(1);
    const t0 = Date.now();
    await b.close();
    await stream.ended;
    // startTestApi's grace is 2 s: a stream left open would have held close() that long.
    expect(Date.now() - t0).toBeLessThan(1_500);
  });
});
