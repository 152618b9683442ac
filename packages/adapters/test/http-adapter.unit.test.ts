// The HTTP adapter against a tiny local server that misbehaves on purpose: only a well-formed refusal may
// become `failed`; every other surprise is `pending`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Movement } from '@it/domain';
import { createHttpAdapter, type LedgerAdapter } from '../src/index.ts';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

let handler: Handler = (_req, res) => res.end();
const seen: { method: string; url: string; body: string; headers: http.IncomingHttpHeaders }[] = [];
const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    seen.push({ method: req.method ?? '', url: req.url ?? '', body, headers: req.headers });
    handler(req, res, body);
  });
});
let baseUrl = '';
const adapters: LedgerAdapter[] = [];

function adapter(overrides: { timeoutMs?: number; retries?: number; baseUrl?: string; connections?: number; headers?: Record<string, string> } = {}) {
  const a = createHttpAdapter({ name: 'test', baseUrl, timeoutMs: 1_000, ...overrides });
  adapters.push(a);
  return a;
}

function json(res: http.ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const op: Movement = {
  reqId: '2f1c6c0e-6f5e-4b7c-9a43-3a4c2b1d0e9f',
  userId: 9_223_372_036_854_775_807n,
  assetId: 7,
  amount: 12_345_678_901_234_567n,
};

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  seen.length = 0;
  await Promise.all(adapters.splice(0).map((a) => a.close()));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('definite answers', () => {
  it('200 success → success; sends the contract body with bigints as decimal strings', async () => {
    handler = (_req, res) => json(res, 200, { status: 'success', req_id: op.reqId });
    expect(await adapter().withdraw(op)).toEqual({ kind: 'success' });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/v1/withdraw' });
    expect(JSON.parse(seen[0]!.body)).toEqual({
      req_id: op.reqId,
      user_id: '9223372036854775807',
      asset_id: 7,
      amount: '12345678901234567',
    });
  });

  it.each([409, 422])('%i with a failed body → failed(reason)', async (status) => {
    handler = (_req, res) => json(res, status, { status: 'failed', reason: 'insufficient_funds' });
    expect(await adapter().withdraw(op)).toEqual({ kind: 'failed', reason: 'insufficient_funds' });
  });

  it('routes each operation to its path', async () => {
    handler = (_req, res) => json(res, 200, { status: 'success' });
    const a = adapter();
    await a.deposit(op);
    await a.commit(op.reqId);
    await a.rollback(op.reqId);
    await a.query(op.reqId);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'POST /v1/deposit',
      'POST /v1/commit',
      'POST /v1/rollback',
      `GET /v1/ops/${op.reqId}`,
    ]);
    expect(JSON.parse(seen[1]!.body)).toEqual({ req_id: op.reqId });
    expect(JSON.parse(seen[2]!.body)).toEqual({ req_id: op.reqId });
    expect(seen[3]?.body).toBe('');
  });

  it('sends JSON headers (content-type only with a body) and the configured extra headers', async () => {
    handler = (_req, res) => json(res, 200, { status: 'success' });
    const a = adapter({ headers: { authorization: 'Bearer t' } });
    await a.commit(op.reqId);
    await a.query(op.reqId);
    expect(seen.map((s) => [s.headers.accept, s.headers['content-type'], s.headers.authorization])).toEqual([
      ['application/json', 'application/json', 'Bearer t'],
      ['application/json', undefined, 'Bearer t'],
    ]);
  });

  it('accepts a reply of exactly the size limit', async () => {
    const envelope = JSON.stringify({ status: 'success', pad: '' });
    const body = JSON.stringify({ status: 'success', pad: 'x'.repeat(64 * 1024 - envelope.length) });
    expect(body).toHaveLength(64 * 1024);
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    };
    expect(await adapter().withdraw(op)).toEqual({ kind: 'success' });
  });

  it('keeps a path prefix of the base URL', async () => {
    handler = (_req, res) => json(res, 200, { status: 'success' });
    await adapter({ baseUrl: `${baseUrl}/ledger/funding/` }).commit(op.reqId);
    await adapter({ baseUrl: `${baseUrl}/ledger//` }).commit(op.reqId);
    expect(seen.map((s) => s.url)).toEqual(['/ledger/funding/v1/commit', '/ledger/v1/commit']);
  });

  it('query maps success, failed and pending', async () => {
    const a = adapter();
    handler = (_req, res) => json(res, 200, { status: 'success', kind: 'withdraw', state: 'frozen' });
    expect(await a.query(op.reqId)).toEqual({ kind: 'success' });
    handler = (_req, res) => json(res, 200, { status: 'failed', reason: 'insufficient_funds' });
    expect(await a.query(op.reqId)).toEqual({ kind: 'failed', reason: 'insufficient_funds' });
    handler = (_req, res) => json(res, 200, { status: 'pending' });
    expect(await a.query(op.reqId)).toEqual({ kind: 'pending', detail: `test: ${op.reqId} is still in flight`, cause: 'in_flight' });
    handler = (_req, res) => json(res, 404, { status: 'not_found' });
    expect(await a.query(op.reqId)).toEqual({ kind: 'pending', detail: 'test: unexpected reply HTTP 404: {"status":"not_found"}', cause: 'bad_reply' });
  });

  it('query trusts only a 200 with a known body', async () => {
    const a = adapter({ retries: 0 });
    handler = (_req, res) => json(res, 503, { status: 'success' });
    expect(await a.query(op.reqId)).toEqual({ kind: 'pending', detail: 'test: unexpected reply HTTP 503: {"status":"success"}', cause: 'server_error' });
    handler = (_req, res) => json(res, 200, { status: 'done' });
    expect(await a.query(op.reqId)).toEqual({ kind: 'pending', detail: 'test: unexpected reply HTTP 200: {"status":"done"}', cause: 'bad_reply' });
  });

  it('lookup (reconciliation) reads the whole reply: the operation, its state and movement, exact', async () => {
    const a = adapter({ retries: 0 });
    handler = (_req, res) =>
      json(res, 200, { req_id: op.reqId, kind: 'withdraw', status: 'success', state: 'frozen', user_id: op.userId.toString(), asset_id: 7, amount: op.amount.toString() });
    expect(await a.lookup(op.reqId)).toEqual({
      kind: 'found',
      op: { opKind: 'withdraw', status: 'success', state: 'frozen', reason: null, userId: op.userId, assetId: 7, amount: op.amount },
    });
    expect(seen.at(-1)).toMatchObject({ method: 'GET', url: `/v1/ops/${op.reqId}` });
    handler = (_req, res) => json(res, 200, { kind: 'tombstone', status: 'success', state: 'tombstone', user_id: null, asset_id: null, amount: null });
    expect(await a.lookup(op.reqId)).toEqual({
      kind: 'found',
      op: { opKind: 'tombstone', status: 'success', state: 'tombstone', reason: null, userId: null, assetId: null, amount: null },
    });
    handler = (_req, res) => json(res, 404, { req_id: op.reqId, status: 'not_found' });
    expect(await a.lookup(op.reqId)).toEqual({ kind: 'not_found' });
  });

  it('lookup: anything but the contract\'s 200 or 404 is no answer (unknown), never "not found"', async () => {
    const a = adapter({ retries: 0 });
    const cases: [number, unknown, string][] = [
      [404, { error: 'no route' }, 'test: unexpected reply HTTP 404: {"error":"no route"}'],
      [503, { status: 'success', kind: 'withdraw' }, 'test: unexpected reply HTTP 503: {"status":"success","kind":"withdraw"}'],
      [200, { status: 'success' }, 'test: unexpected reply HTTP 200: {"status":"success"}'],
      [200, { status: 'success', kind: 'withdraw', amount: '1.5' }, 'test: unexpected reply HTTP 200: {"status":"success","kind":"withdraw","amount":"1.5"}'],
    ];
    for (const [status, body, detail] of cases) {
      handler = (_req, res) => json(res, status, body);
      expect(await a.lookup(op.reqId)).toEqual({ kind: 'unknown', detail });
    }
  });
});

describe('everything unprovable is pending', () => {
  it.each([
    ['400 (our own bug: the service never considered the operation)', 400, { status: 'invalid', error: 'amount: bad' }],
    ['404', 404, { status: 'not_found' }],
    ['408', 408, { status: 'failed', reason: 'timeout' }],
    ['429', 429, { status: 'failed', reason: 'slow down' }],
    ['500', 500, { status: 'failed', reason: 'boom' }],
    ['200 with a failed body', 200, { status: 'failed', reason: 'x' }],
    ['422 with a success body', 422, { status: 'success' }],
    ['422 without a reason', 422, { status: 'failed' }],
    ['422 with an empty reason', 422, { status: 'failed', reason: '' }],
    ['200 with an unknown status', 200, { status: 'ok' }],
    ['200 with an array', 200, [1, 2]],
  ])('%s', async (_name, status, body) => {
    handler = (_req, res) => json(res, status, body);
    const out = await adapter({ retries: 0 }).withdraw(op);
    expect(out).toEqual({
      kind: 'pending',
      detail: `test: unexpected reply HTTP ${status}: ${JSON.stringify(body)}`,
      cause: status >= 500 ? 'server_error' : 'bad_reply',
    });
  });

  it('quotes at most 200 characters of an unexpected reply', async () => {
    const text = 'e'.repeat(300);
    handler = (_req, res) => {
      res.writeHead(500);
      res.end(text);
    };
    expect(await adapter().withdraw(op)).toEqual({ kind: 'pending', detail: `test: unexpected reply HTTP 500: ${text.slice(0, 200)}`, cause: 'server_error' });
  });

  it('garbage body', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"succ');
    };
    expect((await adapter().withdraw(op)).kind).toBe('pending');
  });

  it('empty body', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.end();
    };
    expect((await adapter().commit(op.reqId)).kind).toBe('pending');
  });

  it('a reply larger than any contract reply', async () => {
    handler = (_req, res) => json(res, 200, { status: 'success', pad: 'x'.repeat(200_000) });
    expect(await adapter().withdraw(op)).toEqual({ kind: 'pending', detail: 'test: unexpected reply HTTP 200: <too large>', cause: 'bad_reply' });
  });

  it('a service that never answers: pending within the timeout', async () => {
    handler = () => undefined;
    const t0 = Date.now();
    const out = await adapter({ timeoutMs: 300 }).withdraw(op);
    const took = Date.now() - t0;
    expect(out).toEqual({ kind: 'pending', detail: 'test: no reply within 300 ms', cause: 'timeout' });
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1_500);
  });

  it('a reply whose body stalls half-way: pending within the timeout', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"status":');
    };
    const out = await adapter({ timeoutMs: 300 }).withdraw(op);
    expect(out).toEqual({ kind: 'pending', detail: 'test: no reply within 300 ms', cause: 'timeout' });
  });

  it('connection refused: pending', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const t0 = Date.now();
    const out = await adapter({ baseUrl: `http://127.0.0.1:${port}` }).withdraw(op);
    expect(out).toEqual({ kind: 'pending', detail: expect.stringMatching(/^test: ECONNREFUSED /), cause: 'connection_error' });
    // Retried once after a pause of 25 to 50 ms: the request was certainly not processed.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(24);
  });

  it('a connection reset by the service (RST) is retried once too', async () => {
    handler = (req) => req.socket.resetAndDestroy();
    const out = await adapter().withdraw(op);
    expect(out).toEqual({ kind: 'pending', detail: expect.stringMatching(/^test: ECONNRESET /), cause: 'connection_error' });
    expect(seen).toHaveLength(2);
  });

  it('a connection reset after the request was read: pending, never failed', async () => {
    handler = (req) => req.socket.destroy();
    const out = await adapter().withdraw(op);
    expect(out).toEqual({ kind: 'pending', detail: expect.any(String), cause: 'connection_error' });
    // One retry inside the call: safe because the operation is idempotent by req_id.
    expect(seen).toHaveLength(2);
  });
});

describe('bounded retry inside one call', () => {
  it('503 then 200 → success after one retry', async () => {
    let n = 0;
    handler = (_req, res) => (n++ === 0 ? json(res, 503, { status: 'error' }) : json(res, 200, { status: 'success' }));
    const t0 = Date.now();
    expect(await adapter().withdraw(op)).toEqual({ kind: 'success' });
    expect(seen).toHaveLength(2);
    // The pause before the retry is 25 to 50 ms.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(24);
  });

  it('503 twice → pending after exactly one retry', async () => {
    handler = (_req, res) => json(res, 503, { status: 'error' });
    expect(await adapter().withdraw(op)).toEqual({ kind: 'pending', detail: expect.any(String), cause: 'server_error' });
    expect(seen).toHaveLength(2);
  });

  it('retries: 0 means one attempt', async () => {
    handler = (_req, res) => json(res, 503, { status: 'error' });
    expect((await adapter({ retries: 0 }).withdraw(op)).kind).toBe('pending');
    expect(seen).toHaveLength(1);
  });

  it('never retries a 500, a 4xx or a definite answer', async () => {
    const a = adapter({ retries: 2 });
    for (const [status, body] of [
      [500, { status: 'error' }],
      [400, { status: 'invalid' }],
      [422, { status: 'failed', reason: 'insufficient_funds' }],
    ] as const) {
      seen.length = 0;
      handler = (_req, res) => json(res, status, body);
      await a.withdraw(op);
      expect(seen).toHaveLength(1);
    }
  });

  it('the timeout covers the retries too', async () => {
    let n = 0;
    handler = (_req, res) => {
      if (n++ === 0) json(res, 503, { status: 'error' });
      // the retry hangs
    };
    const t0 = Date.now();
    const out = await adapter({ timeoutMs: 400, retries: 3 }).withdraw(op);
    expect(out).toEqual({ kind: 'pending', detail: 'test: no reply within 400 ms', cause: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(1_500);
  });
});

describe('connections', () => {
  it('reuses keep-alive connections', async () => {
    const sockets = new Set<unknown>();
    handler = (req, res) => {
      sockets.add(req.socket);
      json(res, 200, { status: 'success' });
    };
    const a = adapter();
    for (let i = 0; i < 10; i++) await a.commit(op.reqId);
    // undici's pool may open a second connection while the first is finishing; never one per request.
    expect(sockets.size).toBeLessThanOrEqual(2);
  });

  it('holds at most `connections` sockets', async () => {
    const sockets = new Set<unknown>();
    handler = (req, res) => {
      sockets.add(req.socket);
      setTimeout(() => json(res, 200, { status: 'success' }), 20);
    };
    const a = adapter({ connections: 1 });
    await Promise.all([a.commit(op.reqId), a.commit(op.reqId), a.commit(op.reqId)]);
    expect(sockets.size).toBe(1);
  });

  it('a closed adapter makes no more calls', async () => {
    handler = (_req, res) => json(res, 200, { status: 'success' });
    const a = createHttpAdapter({ name: 'test', baseUrl, timeoutMs: 1_000 });
    await a.close();
    expect(await a.commit(op.reqId)).toEqual({ kind: 'pending', detail: expect.stringMatching(/^test: UND_ERR_DESTROYED /), cause: 'connection_error' });
    expect(seen).toEqual([]);
  });

  it('refuses a base URL that is not http(s), and accepts https', async () => {
    expect(() => createHttpAdapter({ name: 'x', baseUrl: 'ftp://example.com', timeoutMs: 100 })).toThrow(new Error('x: baseUrl must be http(s)'));
    await createHttpAdapter({ name: 'x', baseUrl: 'https://example.com', timeoutMs: 100 }).close();
  });

  it.each([0, -1, Number.NaN])('refuses timeoutMs %s', (timeoutMs) => {
    expect(() => createHttpAdapter({ name: 'x', baseUrl, timeoutMs })).toThrow(new Error('x: timeoutMs must be positive'));
  });
});
