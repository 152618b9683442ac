// The API when a dependency is down, in its other auth modes, and while shutting down.
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisConnection, jobIdFor, TRANSFER_QUEUE, type TransferJobData } from '@it/queue';
import { onLogRecords } from '../../../tests/support/processes.ts';
import { SWEEPER_GRACE_MS } from '../src/create-transfer.ts';
import {
  backdoor, call, deletePrefix, eventually, newUserId, REDIS_URL, TcpProxy, startTestApi, testConfig, tokenFor, transferBody, type TestApi,
} from './helpers.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('Redis down', () => {
  // The longest window the API allows: an answer well within it did not wait for a queue that is not there.
  const config = testConfig({ REDIS_URL: 'redis://127.0.0.1:1', SYNC_WAIT_MS: '30000' });
  let api: TestApi;
  let db: ReturnType<typeof backdoor>;
  beforeAll(async () => {
    api = await startTestApi(config);
    db = backdoor(testConfig());
  });
  afterAll(async () => {
    await api?.close();
    await db?.close();
  });

  it('POST still answers 202 pending at once and the init row is durable', async () => {
    const user = newUserId();
    const res = await call(`${api.url}/api/v1/transfer`, {
      token: await tokenFor(user), body: transferBody(user), signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'pending', message: null });
    const row = await db.store.get(res.body.req_id as string);
    expect(row).toMatchObject({ state: 'init', userId: BigInt(user), amount: 1000n });
    // Left to the sweeper, which picks it up once no worker has moved it for a while (the row was written well
    // under a second ago).
    expect(row!.nextAttemptAt!.getTime()).toBeGreaterThan(Date.now() + SWEEPER_GRACE_MS - 2_000);
  });

  it('reads still work; /readyz says Redis is down; /metrics still answers', async () => {
    const user = newUserId();
    const token = await tokenFor(user);
    const created = await call(`${api.url}/api/v1/transfer`, { token, body: transferBody(user) });
    expect((await call(`${api.url}/api/v1/transfer/${created.body.req_id as string}`, { token })).status).toBe(200);
    expect(await call(`${api.url}/readyz`)).toMatchObject({ status: 503, body: { cassandra: 'ok', redis: 'down' } });
    const m = await fetch(`${api.metricsUrl}/metrics`);
    expect(m.status).toBe(200);
    expect(await m.text()).toContain('internal_transfer_transfers_created_total');
  });
});

describe('Cassandra down', () => {
  const config = testConfig({ CASSANDRA_CONTACT_POINTS: '127.0.0.1:1' });
  let api: TestApi;
  beforeAll(async () => {
    // Must start although Cassandra cannot be reached.
    api = await startTestApi(config);
  });
  afterAll(() => api?.close());

  it.each([
    ['without', {}],
    ['with', { 'idempotency-key': 'cassandra-down' }],
  ])('POST %s Idempotency-Key → 503 in the SPEC shape, no driver text', async (_name, headers) => {
    const user = newUserId();
    const res = await call(`${api.url}/api/v1/transfer`, { token: await tokenFor(user), body: transferBody(user), headers });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ req_id: '', status: 'failed', message: 'storage unavailable, retry later' });
  });

  it('GET → 503 {error}; /readyz names Cassandra; /livez is fine', async () => {
    const user = newUserId();
    const res = await call(`${api.url}/api/v1/transfers`, { token: await tokenFor(user) });
    expect(res).toMatchObject({ status: 503, body: { error: 'storage unavailable, retry later' } });
    expect(await call(`${api.url}/readyz`)).toMatchObject({ status: 503, body: { cassandra: 'down', redis: 'ok' } });
    expect((await call(`${api.url}/livez`)).status).toBe(200);
  });

  it('validation still answers 400 before touching the store', async () => {
    const user = newUserId();
    const res = await call(`${api.url}/api/v1/transfer`, { token: await tokenFor(user), body: transferBody(user, { amount: 0 }) });
    expect(res.status).toBe(400);
  });
});

describe('recovery', () => {
  it('enqueues again once Redis is back', async () => {
    const proxy = new TcpProxy(Number(new URL(REDIS_URL).port));
    const port = await proxy.start();
    const config = testConfig({ REDIS_URL: `redis://127.0.0.1:${port}` });
    const api = await startTestApi(config);
    const db = backdoor(config);
    try {
      const user = newUserId();
      const token = await tokenFor(user);
      await eventually('ready', async () => (await call(`${api.url}/readyz`)).status === 200);
      await proxy.stop();
      // Readiness is cached for a second: see it go down first, so the next "ready" is a fresh answer.
      await eventually('not ready', async () => (await call(`${api.url}/readyz`)).status === 503);
      const during = await call(`${api.url}/api/v1/transfer`, { token, body: transferBody(user) });
      expect(during.status).toBe(202);
      expect(await db.queue.getJob(jobIdFor(during.body.req_id as string))).toBeUndefined();
      await proxy.start();
      await eventually('redis reconnect', async () => (await call(`${api.url}/readyz`)).status === 200);
      const after = await call(`${api.url}/api/v1/transfer`, { token, body: transferBody(user) });
      expect(after.status).toBe(202);
      expect(await db.queue.getJob(jobIdFor(after.body.req_id as string))).toBeDefined();
    } finally {
      await api.close();
      await db.close();
      await proxy.stop();
    }
  });

  it('starts while Cassandra is unreachable and serves once it is back', async () => {
    const proxy = new TcpProxy(9042);
    const port = await proxy.start();
    await proxy.stop();
    const api = await startTestApi(testConfig({ CASSANDRA_CONTACT_POINTS: `127.0.0.1:${port}` }));
    try {
      const user = newUserId();
      const token = await tokenFor(user);
      expect((await call(`${api.url}/api/v1/transfer`, { token, body: transferBody(user) })).status).toBe(503);
      await proxy.start();
      await eventually('cassandra', async () => (await call(`${api.url}/readyz`)).status === 200);
      expect((await call(`${api.url}/api/v1/transfer`, { token, body: transferBody(user) })).status).toBe(202);
    } finally {
      await api.close();
      await proxy.stop();
    }
  });
});

const GATEWAY_SECRET = 'gateway-shared-secret-0123456789abcdef';

describe('AUTH_MODE=header (behind a trusted gateway)', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(testConfig({ AUTH_MODE: 'header', AUTH_USER_HEADER: 'X-Gateway-User', AUTH_GATEWAY_SECRET: GATEWAY_SECRET }));
  });
  afterAll(() => api?.close());
  const GATEWAY = { 'x-gateway-secret': GATEWAY_SECRET };

  it('without the gateway\'s proof nobody is anyone: 401 whatever the user header says', async () => {
    const user = newUserId();
    const forged = await call(`${api.url}/api/v1/transfer`, { headers: { 'x-gateway-user': user }, body: transferBody(user) });
    expect(forged).toMatchObject({ status: 401, body: { status: 'failed', message: 'authentication required: the request did not come through the gateway' } });
    const wrong = { 'x-gateway-user': user, 'x-gateway-secret': `${GATEWAY_SECRET.slice(0, -1)}x` };
    expect((await call(`${api.url}/api/v1/transfer`, { headers: wrong, body: transferBody(user) })).status).toBe(401);
    expect((await call(`${api.url}/api/v1/transfers`, { headers: { 'x-gateway-user': user } })).status).toBe(401);
  });

  it('takes the user from the header; refuses a missing one and another body user_id', async () => {
    const user = newUserId();
    const headers = { ...GATEWAY, 'x-gateway-user': user };
    const created = await call(`${api.url}/api/v1/transfer`, { headers, body: transferBody(user) });
    expect(created.status).toBe(202);
    expect((await call(`${api.url}/api/v1/transfer/${created.body.req_id as string}`, { headers })).status).toBe(200);
    expect((await call(`${api.url}/api/v1/transfer/${created.body.req_id as string}`, { headers: { ...GATEWAY, 'x-gateway-user': newUserId() } })).status).toBe(404);
    expect((await call(`${api.url}/api/v1/transfer`, { headers: GATEWAY, body: transferBody(user) })).status).toBe(401);
    expect((await call(`${api.url}/api/v1/transfer`, { headers: { ...GATEWAY, 'x-gateway-user': 'alice' }, body: transferBody(user) })).status).toBe(401);
    expect((await call(`${api.url}/api/v1/transfer`, { headers, body: transferBody(newUserId()) })).status).toBe(403);
    // A bearer token means nothing in this mode.
    expect((await call(`${api.url}/api/v1/transfers`, { headers: GATEWAY, token: await tokenFor(user) })).status).toBe(401);
  });
});

describe('AUTH_MODE=none (development)', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi(testConfig({ AUTH_MODE: 'none' }));
  });
  afterAll(() => api?.close());

  it('takes the user from the body on POST and from ?user_id on GET', async () => {
    const user = newUserId();
    const created = await call(`${api.url}/api/v1/transfer`, { body: transferBody(user) });
    expect(created.status).toBe(202);
    const reqId = created.body.req_id as string;
    expect((await call(`${api.url}/api/v1/transfer/${reqId}?user_id=${user}`)).status).toBe(200);
    expect((await call(`${api.url}/api/v1/transfer/${reqId}?user_id=${newUserId()}`)).status).toBe(404);
    // No user at all reads the transfer too: the seed's own end-to-end script does (issue 10, item 8).
    expect((await call(`${api.url}/api/v1/transfer/${reqId}`)).status).toBe(200);
    const list = await call(`${api.url}/api/v1/transfers?user_id=${user}`);
    expect((list.body.items as Array<{ req_id: string }>).map((i) => i.req_id)).toEqual([reqId]);
  });

  it('GET /api/v1/transfer/{req_id} without any user answers the transfer; the listing still needs user_id', async () => {
    const user = newUserId();
    const created = await call(`${api.url}/api/v1/transfer`, { body: transferBody(user, { amount: '321' }) });
    expect(created.status).toBe(202);
    const read = await call(`${api.url}/api/v1/transfer/${String(created.body.req_id)}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ req_id: created.body.req_id, user_id: user, amount: '321', state: 'init' });
    expect((await call(`${api.url}/api/v1/transfers`)).status).toBe(401);
  });
});

describe('AUTH_MODE=jwt with a remote JWKS', () => {
  let api: TestApi;
  let jwksServer: http.Server;
  let privateKey: CryptoKey;
  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwksServer = http.createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const port = (jwksServer.address() as AddressInfo).port;
    api = await startTestApi(
      testConfig({ JWT_SECRET: undefined, JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks.json`, JWT_ISSUER: 'https://issuer.test', JWT_AUDIENCE: 'transfers' }),
    );
  });
  afterAll(async () => {
    await api?.close();
    await new Promise((r) => jwksServer?.close(r));
  });

  const sign = (sub: string, claims: { iss?: string; aud?: string } = {}) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject(sub)
      .setIssuer(claims.iss ?? 'https://issuer.test')
      .setAudience(claims.aud ?? 'transfers')
      // Issued-at is required: the maximum token age counts from it.
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);

  it('accepts a token signed by a JWKS key with the right issuer and audience; refuses others', async () => {
    const user = newUserId();
    expect((await call(`${api.url}/api/v1/transfers`, { token: await sign(user) })).status).toBe(200);
    expect((await call(`${api.url}/api/v1/transfers`, { token: await sign(user, { aud: 'other' }) })).status).toBe(401);
    expect((await call(`${api.url}/api/v1/transfers`, { token: await sign(user, { iss: 'https://evil.test' }) })).status).toBe(401);
    // No shared secret is configured: an HS256 token is refused whatever it is signed with.
    expect((await call(`${api.url}/api/v1/transfers`, { token: await tokenFor(user) })).status).toBe(401);
  });
});

describe('graceful shutdown', () => {
  it('close() lets a request in flight finish', async () => {
    // No window or grace runs out here: the request stays in its wait until this test finishes its job.
    const config = testConfig({ SYNC_WAIT_MS: '30000' });
    const api = await startTestApi(config, { shutdownGraceMs: 60_000 });
    const db = backdoor(config);
    const connection = createRedisConnection(REDIS_URL, 'worker');
    let worker: Worker<TransferJobData> | undefined;
    try {
      const user = newUserId();
      const inFlight = call(`${api.url}/api/v1/transfer`, { token: await tokenFor(user), body: transferBody(user) });
      // Its job is queued: the request is past the enqueue, waiting for the outcome.
      await eventually('the job', async () => (await db.queue.getJobCounts('waiting')).waiting === 1);
      const closed = api.close();
      worker = new Worker<TransferJobData>(
        TRANSFER_QUEUE,
        async (job) => {
          const row = await db.store.get(job.data.reqId);
          await db.store.compareAndSet({ from: row!, to: 'committed', error: null, attempt: 0, nextAttemptAt: null });
        },
        { connection, prefix: config.QUEUE_PREFIX },
      );
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ req_id: expect.any(String), status: 'committed', message: null });
      await closed;
      await expect(fetch(`${api.url}/livez`)).rejects.toThrow();
    } finally {
      await worker?.close();
      connection.disconnect();
      await api.close();
      await db.close();
    }
  });

  it('main.ts exits 0 on SIGTERM', async () => {
    const env = testEnv();
    const child = spawn(path.join(root, 'node_modules/.bin/tsx'), ['apps/api/src/main.ts'], {
      cwd: root,
      env: { ...process.env, ...env, API_PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    // The port it got is in its 'api listening' log line.
    const port = new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      onLogRecords(child.stdout, (rec) => {
        if (rec.msg === 'api listening' && typeof rec.port === 'number') resolve(rec.port);
      });
      child.once('exit', (code) => reject(new Error(`api exited ${code} during start:\n${output}`)));
    });
    try {
      const url = `http://127.0.0.1:${await port}`;
      await eventually('ready', async () => (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)), 30_000);
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      child.kill('SIGTERM');
      expect(await exited, output).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await deletePrefix(env.QUEUE_PREFIX!);
    }
  });
});

function testEnv(): Record<string, string> {
  const c = testConfig();
  return {
    NODE_ENV: 'test', AUTH_MODE: 'jwt', JWT_SECRET: c.JWT_SECRET ?? '', QUEUE_PREFIX: c.QUEUE_PREFIX,
    OPS_PASSWORD: c.OPS_PASSWORD, SYNC_WAIT_MS: '300',
  };
}
