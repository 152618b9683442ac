// Starts the API in this process against the real Cassandra and Redis, on free ports and a queue prefix of
// its own, and speaks to it over HTTP.
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Queue } from 'bullmq';
import { SignJWT } from 'jose';
import { cassandraSettings, loadApiConfig, type ApiConfig } from '@it/config';
import { createLogger } from '@it/observability';
import { createRedisConnection, deleteQueueKeys, TRANSFER_QUEUE, type TransferJobData } from '@it/queue';
import { openTransferStore } from '@it/store';
import { startApi, type RunningApi } from '../src/index.ts';

export const JWT_SECRET = 'api-test-secret-0123456789abcdef0123456789';
export const OPS = { user: 'ops-test', password: 'ops-test-password' };
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6390';

export function testConfig(overrides: Record<string, string | undefined> = {}): ApiConfig {
  return loadApiConfig({
    ...process.env,
    NODE_ENV: 'test',
    AUTH_MODE: 'jwt',
    JWT_SECRET,
    SYNC_WAIT_MS: '300',
    OPS_USER: OPS.user,
    OPS_PASSWORD: OPS.password,
    QUEUE_PREFIX: `{test-api-${randomUUID().slice(0, 8)}}`,
    ...overrides,
  });
}

export interface TestApi extends RunningApi {
  url: string;
  metricsUrl: string;
  config: ApiConfig;
}

/** Removes every Redis key of a test's queue prefix (jobs, events stream, queue meta). */
export async function deletePrefix(prefix: string): Promise<void> {
  const redis = createRedisConnection(REDIS_URL, 'worker');
  try {
    await deleteQueueKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

export async function startTestApi(config: ApiConfig = testConfig(), opts: { shutdownGraceMs?: number } = {}): Promise<TestApi> {
  const api = await startApi(config, {
    port: 0,
    metricsPort: 0,
    logger: createLogger('api-test', process.env.API_TEST_LOG_LEVEL ?? 'silent'),
    shutdownGraceMs: opts.shutdownGraceMs ?? 2_000,
  });
  return {
    ...api,
    url: `http://127.0.0.1:${api.port}`,
    metricsUrl: `http://127.0.0.1:${api.metricsPort}`,
    config,
    async close() {
      await api.close();
      await deletePrefix(config.QUEUE_PREFIX);
    },
  };
}

/** A store and a queue on the test's own prefix, to look behind the API's back; close() also empties the queue. */
export function backdoor(config: ApiConfig) {
  const { client, store } = openTransferStore(cassandraSettings(config, config.CASSANDRA_KEYSPACE));
  const connection = createRedisConnection(REDIS_URL, 'worker');
  const queue = new Queue<TransferJobData>(TRANSFER_QUEUE, { connection, prefix: config.QUEUE_PREFIX });
  return {
    client,
    store,
    queue,
    async rowsOfUser(userId: string): Promise<number> {
      const rs = await client.execute('SELECT req_id FROM transfers_by_user WHERE user_id = ?', [BigInt(userId)], { prepare: true });
      return rs.rowLength;
    },
    async close() {
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
      connection.disconnect();
      await client.shutdown();
      await deletePrefix(config.QUEUE_PREFIX);
    },
  };
}

/** Polls `fn` until it holds: for conditions that have no event to wait on. */
export async function eventually(what: string, fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let nextUser = BigInt(Date.now()) * 1000n + BigInt(process.pid % 1000);
export function newUserId(): string {
  return (nextUser++).toString();
}

export function tokenFor(sub: string, opts: { secret?: string; expiresIn?: string | number } = {}): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '1h')
    .sign(new TextEncoder().encode(opts.secret ?? JWT_SECRET));
}

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

export async function call(
  url: string,
  opts: { method?: string; token?: string; body?: unknown; raw?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined || opts.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = opts.raw ?? JSON.stringify(opts.body);
  }
  const res = await fetch(url, { method: opts.method ?? (body !== undefined ? 'POST' : 'GET'), headers, body, signal: opts.signal });
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export function transferBody(userId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { from: 'funding', to: 'trading', user_id: userId, asset_id: 1, amount: '1000', ...overrides };
}

/** A TCP forwarder that can be cut and restored on the same port, to take a dependency away and back. */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly targetPort: number, private readonly targetHost = '127.0.0.1') {}

  async start(): Promise<number> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Refuses new connections and cuts the open ones. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
