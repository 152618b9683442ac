// The whole product as separate processes on test ports: reference ledgers, N workers and the API, on a
// queue prefix of its own so runs never see each other's jobs.
import { createHmac, randomUUID } from 'node:crypto';
import { createTransferClient, type TransferClient, type TransferRequest } from '@it/client';
import { createCassandraClient } from '@it/cassandra';
import { cassandraSettings, loadBaseConfig, redisTarget, type RedisTarget } from '@it/config';
import type { Account } from '@it/domain';
import { createRedisConnection, deleteQueueKeys, type RedisConnection } from '@it/queue';
import { openTransferStore } from '@it/store';
import { migrateProduct } from '../../scripts/migrate.ts';
import { ContractValidator } from './openapi-contract.ts';
import { startApp, type AppProcess } from './processes.ts';

export const JWT_SECRET = 'e2e-test-secret-0123456789abcdef0123456789';
export const ADMIN_TOKEN = 'e2e-ledger-admin-token-0123456789';
// The ledgers' LEDGER_SERVICE_TOKEN and the worker's FUNDING_TOKEN / TRADING_TOKEN: set explicitly on both
// sides, so a worker that sent no credential (or the development one) would fail the tests.
export const SERVICE_TOKEN = 'e2e-ledger-service-token-0123456789';
// The Redis the tests' processes use, as for Cassandra: the environment's, else the local stack's.
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6390';

export interface ProductOptions {
  basePort: number;
  workers?: number;
  workerEnv?: Record<string, string>;
  apiEnv?: Record<string, string>;
  ledgerEnv?: Record<string, string>;
  /** A Redis Cluster (REDIS_CLUSTER_NODES) for every process instead of the environment's Redis. */
  redisClusterNodes?: string;
}

const b64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
export function tokenFor(sub: string, secret = JWT_SECRET): string {
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub, iat: now, exp: now + 3600 })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

let userCounter = BigInt(Date.now()) * 100n;
export const newUserId = () => String(userCounter++);

/** Sum of the samples of `name` (exact metric name) whose labels include `labels`, in Prometheus text. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m?.[1] !== name) continue;
    const own = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => own.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

/**
 * Each product gets its own queue prefix and its own transfer keyspace: its sweeper must see only its own
 * transfers, not those other tests left active in a shared keyspace.
 */
export class Product {
  readonly prefix = `{e2e-${randomUUID().slice(0, 8)}}`;
  readonly keyspace = `e2e_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  readonly redisUrl = REDIS_URL;
  /** The environment's REDIS_CLUSTER_NODES unless the options name a cluster: then every process uses it. */
  readonly redisClusterNodes: string | undefined;
  readonly apiUrl: string;
  /** The API's ops listener: /metrics and Bull Board. */
  readonly opsUrl: string;
  readonly ledgerUrl: Record<Account, string>;
  private readonly contract = new ContractValidator();
  ledgers!: AppProcess;
  api!: AppProcess;
  workers: AppProcess[] = [];
  private readonly ports;

  constructor(private readonly opts: ProductOptions) {
    // E2E_PORT_OFFSET lets two checkouts (or two people) run the same end-to-end file on one machine.
    const p = opts.basePort + Number(process.env.E2E_PORT_OFFSET ?? 0);
    this.redisClusterNodes = opts.redisClusterNodes ?? process.env.REDIS_CLUSTER_NODES;
    this.ports = { api: p, funding: p + 1, trading: p + 2, apiMetrics: p + 3, workerMetrics: p + 10 };
    this.apiUrl = `http://127.0.0.1:${this.ports.api}`;
    this.opsUrl = `http://127.0.0.1:${this.ports.apiMetrics}`;
    this.ledgerUrl = { funding: `http://127.0.0.1:${this.ports.funding}`, trading: `http://127.0.0.1:${this.ports.trading}` };
  }

  get baseEnv(): Record<string, string> {
    return {
      QUEUE_PREFIX: this.prefix, REDIS_URL: this.redisUrl, CASSANDRA_KEYSPACE: this.keyspace,
      ...(this.redisClusterNodes ? { REDIS_CLUSTER_NODES: this.redisClusterNodes } : {}),
    };
  }

  /** The Redis this product's processes use: one server, or the cluster. */
  get redis(): RedisTarget {
    return redisTarget(loadBaseConfig({ NODE_ENV: 'test', REDIS_URL: this.redisUrl, REDIS_CLUSTER_NODES: this.redisClusterNodes }));
  }

  /** A connection to this product's Redis as a worker makes it (cluster or not); the caller disconnects it. */
  connectRedis(): RedisConnection {
    return createRedisConnection(this.redis, 'worker');
  }

  /** A store on this product's keyspace, for tests that look at rows directly. */
  openStore() {
    const config = loadBaseConfig({ ...process.env, NODE_ENV: 'test', CASSANDRA_KEYSPACE: this.keyspace });
    return openTransferStore(cassandraSettings(config, this.keyspace));
  }

  async start(): Promise<this> {
    await migrateProduct({ ...process.env, NODE_ENV: 'test', CASSANDRA_KEYSPACE: this.keyspace });
    this.ledgers = await startApp(
      'ledgers',
      {
        ...this.baseEnv, FUNDING_PORT: String(this.ports.funding), TRADING_PORT: String(this.ports.trading),
        LEDGER_ADMIN_TOKEN: ADMIN_TOKEN, LEDGER_SERVICE_TOKEN: SERVICE_TOKEN, ...this.opts.ledgerEnv,
      },
      `${this.ledgerUrl.trading}/livez`,
    );
    for (let i = 0; i < (this.opts.workers ?? 1); i++) await this.startWorker();
    this.api = await startApp(
      'api',
      {
        ...this.baseEnv, API_PORT: String(this.ports.api), METRICS_PORT: String(this.ports.apiMetrics),
        AUTH_MODE: 'jwt', JWT_SECRET, SYNC_WAIT_MS: '2000',
        // The ops API's reconciliation reads this product's ledgers, as the workers do.
        FUNDING_URL: this.ledgerUrl.funding, TRADING_URL: this.ledgerUrl.trading, FUNDING_TOKEN: SERVICE_TOKEN, TRADING_TOKEN: SERVICE_TOKEN,
        ...this.opts.apiEnv,
      },
      `${this.apiUrl}/readyz`,
    );
    return this;
  }

  workerEnv(index: number, extra: Record<string, string> = {}): Record<string, string> {
    return {
      ...this.baseEnv,
      FUNDING_URL: this.ledgerUrl.funding,
      TRADING_URL: this.ledgerUrl.trading,
      FUNDING_TOKEN: SERVICE_TOKEN,
      TRADING_TOKEN: SERVICE_TOKEN,
      METRICS_PORT: String(this.ports.workerMetrics + index),
      BACKOFF_BASE_MS: '200',
      BACKOFF_MAX_MS: '2000',
      ...this.opts.workerEnv,
      ...extra,
    };
  }

  async startWorker(extra: Record<string, string> = {}): Promise<AppProcess> {
    const index = this.workers.length;
    const w = await startApp('worker', this.workerEnv(index, extra), `http://127.0.0.1:${this.ports.workerMetrics + index}/readyz`, `worker-${index}`);
    this.workers.push(w);
    return w;
  }

  async stop(): Promise<void> {
    await Promise.all([this.api, ...this.workers, this.ledgers].filter(Boolean).map((p) => p.kill('SIGTERM')));
    const config = loadBaseConfig({ ...process.env, NODE_ENV: 'test' });
    const cassandra = createCassandraClient(cassandraSettings(config));
    try {
      await cassandra.execute(`DROP KEYSPACE IF EXISTS ${this.keyspace}`);
    } finally {
      await cassandra.shutdown();
    }
    await this.dropQueue();
  }

  /**
   * Deletes every Redis key of this product's queue prefix, and nothing else: what losing the queue means
   * to this product, without touching other tests on the same Redis. Returns how many keys were deleted.
   */
  async dropQueue(): Promise<number> {
    const redis = this.connectRedis();
    try {
      return await deleteQueueKeys(redis, this.prefix);
    } finally {
      redis.disconnect();
    }
  }

  /** A counter's value summed over all its label sets, on each worker's /metrics. */
  async workerCounter(name: string, labels: Record<string, string> = {}): Promise<number> {
    const texts = await Promise.all(
      this.workers.map(async (w) => (await fetch(`http://127.0.0.1:${w.metricsPort}/metrics`)).text()),
    );
    return texts.reduce((sum, text) => sum + metricValue(text, name, labels), 0);
  }

  /**
   * The typed client (@it/client) of this product's API, as the frontend uses it; every response it gets is
   * validated against the OpenAPI document, so the end-to-end tests exercise the contract too.
   */
  client(token?: string): TransferClient {
    return createTransferClient({ baseUrl: this.apiUrl, ...(token !== undefined ? { token } : {}) }, this.contract.middleware());
  }

  async transfer(body: Record<string, unknown>, opts: { token?: string; headers?: Record<string, string> } = {}) {
    // Bodies are the tests' own (some deliberately wrong): the client sends them as given.
    const res = await this.client(opts.token).POST('/api/v1/transfer', { body: body as TransferRequest, headers: opts.headers ?? {} });
    return { status: res.response.status, body: (res.data ?? res.error) as { req_id: string; status: string; message: string | null } };
  }

  async getTransfer(reqId: string, token: string) {
    const res = await this.client(token).GET('/api/v1/transfer/{req_id}', { params: { path: { req_id: reqId } } });
    return { status: res.response.status, body: (res.data ?? res.error) as Record<string, unknown> };
  }

  async credit(ledger: Account, userId: string, assetId: number, amount: bigint): Promise<void> {
    const res = await fetch(`${this.ledgerUrl[ledger]}/v1/admin/credit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ user_id: userId, asset_id: assetId, amount: amount.toString() }),
    });
    if (!res.ok) throw new Error(`credit failed: ${res.status} ${await res.text()}`);
  }

  async balance(ledger: Account, userId: string, assetId: number): Promise<{ available: bigint; frozen: bigint }> {
    const res = await fetch(`${this.ledgerUrl[ledger]}/v1/balances/${userId}/${assetId}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    if (!res.ok) throw new Error(`balance failed: ${res.status}`);
    const b = (await res.json()) as { available: string; frozen: string };
    return { available: BigInt(b.available), frozen: BigInt(b.frozen) };
  }

  async setFaults(ledger: Account, faults: Record<string, number>): Promise<void> {
    const res = await fetch(`${this.ledgerUrl[ledger]}/v1/admin/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify(faults),
    });
    if (!res.ok) throw new Error(`faults failed: ${res.status} ${await res.text()}`);
  }
}
