// Environment configuration, validated once at start-up. Safe by default: development defaults (the project's
// own local stack, well-known secrets) apply only when NODE_ENV says `development` or `test` AND the process
// listens on loopback only; anywhere else every secret must be given, and production rules apply unless
// NODE_ENV says development or test (unset is production). A refusal names every missing or unsafe setting.
import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();

export const DEV_LEDGER_ADMIN_TOKEN = 'dev-ledger-admin-token';
export const DEV_JWT_SECRET = 'dev-only-jwt-secret-change-me-0123456789';
export const DEV_OPS_PASSWORD = 'dev-ops-password';
/** What the reference ledgers accept, and the worker sends them, on a developer's machine only. */
export const DEV_LEDGER_SERVICE_TOKEN = 'dev-ledger-service-token';
/** Where `npm start` runs the reference ledgers. */
const DEV_FUNDING_URL = 'http://127.0.0.1:8081';
const DEV_TRADING_URL = 'http://127.0.0.1:8082';

const replication = z
  .string()
  .regex(/^(SimpleStrategy:\d+|NetworkTopologyStrategy(:[A-Za-z0-9_-]+=\d+)+)$/, {
    message: 'expected SimpleStrategy:<rf> or NetworkTopologyStrategy:<dc>=<rf>[:<dc>=<rf>…]',
  });

export interface RedisNode {
  host: string;
  port: number;
}

/** Where a process's Redis is: one server by URL, or a Redis Cluster by its seed nodes. */
export type RedisTarget =
  | { mode: 'single'; url: string }
  | { mode: 'cluster'; nodes: RedisNode[]; username: string | undefined; password: string | undefined; tls: boolean };

type ClusterTarget = Extract<RedisTarget, { mode: 'cluster' }>;

function parseClusterNodes(value: string, ctx: z.RefinementCtx): ClusterTarget | undefined {
  const entries = value.split(',').map((e) => e.trim()).filter(Boolean);
  const parsed = entries.map((e) => {
    try {
      const u = new URL(/^[a-z]+:\/\//.test(e) ? e : `redis://${e}`);
      const port = Number(u.port);
      if ((u.protocol !== 'redis:' && u.protocol !== 'rediss:') || !u.hostname || !Number.isInteger(port) || port < 1 || (u.pathname !== '' && u.pathname !== '/')) {
        return undefined;
      }
      return {
        node: { host: u.hostname.replace(/^\[|\]$/g, ''), port },
        auth: [u.protocol, decodeURIComponent(u.username), decodeURIComponent(u.password)].join('\n'),
        u,
      };
    } catch {
      return undefined;
    }
  });
  const bad = entries.filter((_, i) => parsed[i] === undefined);
  if (!entries.length) {
    ctx.addIssue('no node given');
    return undefined;
  }
  if (bad.length) {
    ctx.addIssue(`not host:port or redis[s]://[user:password@]host:port: ${bad.join(', ')}`);
    return undefined;
  }
  const ok = parsed as NonNullable<(typeof parsed)[number]>[];
  if (new Set(ok.map((p) => p.auth)).size > 1) {
    ctx.addIssue('every node must have the same scheme and credentials');
    return undefined;
  }
  const first = ok[0]!.u;
  return {
    mode: 'cluster',
    nodes: ok.map((p) => p.node),
    username: first.username ? decodeURIComponent(first.username) : undefined,
    password: first.password ? decodeURIComponent(first.password) : undefined,
    tls: first.protocol === 'rediss:',
  };
}

const baseSchema = z.object({
  // Unset means production: only an explicit development or test unlocks development defaults.
  NODE_ENV: z.enum(['development', 'test', 'production']).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  CASSANDRA_CONTACT_POINTS: z.string().default('127.0.0.1:9042'),
  CASSANDRA_LOCAL_DC: z.string().default('datacenter1'),
  CASSANDRA_KEYSPACE: z.string().regex(/^[a-z][a-z0-9_]{0,47}$/).default('internal_transfer'),
  CASSANDRA_LEDGER_KEYSPACE: z.string().regex(/^[a-z][a-z0-9_]{0,47}$/).default('reference_ledger'),
  CASSANDRA_REPLICATION: replication.default('SimpleStrategy:1'),
  CASSANDRA_USERNAME: z.string().optional(),
  CASSANDRA_PASSWORD: z.string().optional(),
  CASSANDRA_TLS: bool.default(false),
  CASSANDRA_CONSISTENCY: z.enum(['LOCAL_QUORUM', 'QUORUM', 'LOCAL_ONE', 'ONE']).default('LOCAL_QUORUM'),
  CASSANDRA_SERIAL_CONSISTENCY: z.enum(['SERIAL', 'LOCAL_SERIAL']).default('LOCAL_SERIAL'),
  CASSANDRA_REQUEST_TIMEOUT_MS: positiveInt.default(12_000),
  // The active index's layout (packages/store/src/index-layout.ts): bucket length and shards per bucket
  // bound the tombstones one sweep reads to (creation rate × bucket / shards) per partition a live transfer pins.
  ACTIVE_INDEX_BUCKET_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(10_000),
  ACTIVE_INDEX_SHARDS: z.coerce.number().int().min(1).max(256).default(8),

  REDIS_URL: z.string().url().default('redis://127.0.0.1:6390'),
  // A Redis Cluster instead of REDIS_URL: its seed nodes, `host:port` or `redis[s]://[user:password@]host:port`,
  // comma-separated (credentials and TLS alike on every entry). Every process's Redis use goes to the cluster.
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .transform((value, ctx) => (value === undefined || value.trim() === '' ? undefined : parseClusterNodes(value, ctx))),
  // Hash-tagged so every BullMQ key of the queue lands on one Redis Cluster slot.
  QUEUE_PREFIX: z.string().default('{transfer}'),
});

export type BaseConfig = z.infer<typeof baseSchema>;

/** A schema's output once loaded: its secrets are filled in (given, or a development default) or refused. */
type WithSecrets<T, K extends keyof T> = Omit<T, K> & { [P in K]: string };

/** An exact web origin as browsers send it in `Origin` (a wildcard is not one, though URL would parse it). */
function isOrigin(value: string): boolean {
  if (value.includes('*')) return false;
  try {
    const u = new URL(value);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.origin === value;
  } catch {
    return false;
  }
}

const apiSchema = baseSchema.extend({
  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: port.default(8080),
  AUTH_MODE: z.enum(['jwt', 'header', 'none']).default('jwt'),
  JWT_SECRET: z.string().min(32).optional(),
  JWT_JWKS_URL: z.string().url().optional(),
  JWT_ISSUER: z.string().optional(),
  JWT_AUDIENCE: z.string().optional(),
  // The oldest a token may be (from its `iat`), whatever its `exp` says; and the `typ` headers accepted.
  JWT_MAX_AGE_SECONDS: positiveInt.max(30 * 24 * 3600).default(24 * 3600),
  JWT_TYPES: z.string().default('JWT,at+jwt'),
  AUTH_USER_HEADER: z.string().default('x-user-id'),
  // AUTH_MODE=header: the gateway proves a request came through it with this secret in this header (the
  // user header alone could be set by anyone who reaches the pod).
  AUTH_GATEWAY_SECRET: z.string().min(32).optional(),
  AUTH_GATEWAY_SECRET_HEADER: z.string().default('x-gateway-secret'),
  SYNC_WAIT_MS: z.coerce.number().int().min(0).max(30_000).default(2_000),
  BODY_LIMIT: z.string().default('16kb'),
  OPS_USER: z.string().default('ops'),
  OPS_PASSWORD: z.string().min(8).optional(),
  METRICS_HOST: z.string().default('127.0.0.1'),
  METRICS_PORT: port.default(9464),
  IDEMPOTENCY_TTL_SECONDS: positiveInt.default(7 * 24 * 3600),
  // Abuse limits (429 with Retry-After): POSTs per user per minute, shared by every replica through Redis
  // (fails open while Redis is down); requests one process lets wait in the sync window at once; a user's
  // transfers still running.
  RATE_LIMIT_POSTS_PER_MINUTE: positiveInt.max(100_000).default(120),
  SYNC_WAIT_MAX_WAITING: positiveInt.max(100_000).default(1_000),
  MAX_OPEN_TRANSFERS_PER_USER: positiveInt.max(100_000).default(50),
  // The ops API (docs/operations.md): active longer than STUCK_AFTER_MS, or its next attempt passed by more than
  // OVERDUE_AFTER_MS, is stuck. Reconciliation from the ops API reads the ledgers as the worker does: both URLs
  // (defaults on a developer's machine only) and their tokens; without them the endpoint answers 503.
  STUCK_AFTER_MS: positiveInt.default(5 * 60_000),
  OVERDUE_AFTER_MS: positiveInt.default(30_000),
  FUNDING_URL: z.string().url().optional(),
  TRADING_URL: z.string().url().optional(),
  FUNDING_TOKEN: z.string().min(16).optional(),
  TRADING_TOKEN: z.string().min(16).optional(),
  ADAPTER_TIMEOUT_MS: positiveInt.default(3_000),
  // Browser origins allowed to call the public API (CORS), comma-separated `scheme://host[:port]`; none: off.
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      const origins = value.split(',').map((o) => o.trim()).filter(Boolean);
      for (const o of origins) if (!isOrigin(o)) ctx.addIssue(`${o} is not an origin (scheme://host[:port], no path, no trailing slash, no wildcard)`);
      return origins;
    }),
  // Live event streams (GET /api/v1/transfer/{req_id}/events): heartbeat interval (each also re-reads the
  // transfer from Cassandra), open streams per process, open streams per user across every replica.
  SSE_HEARTBEAT_MS: z.coerce.number().int().min(100).max(60_000).default(15_000),
  SSE_MAX_STREAMS: positiveInt.max(100_000).default(1_000),
  SSE_MAX_STREAMS_PER_USER: positiveInt.max(1_000).default(5),
});
/** Where the API's reconciliation (ops API) reaches the ledgers, and with which credentials. */
export interface LedgerAccess {
  fundingUrl: string;
  tradingUrl: string;
  fundingToken: string;
  tradingToken: string;
}
export type ApiConfig = WithSecrets<Omit<z.infer<typeof apiSchema>, 'FUNDING_TOKEN' | 'TRADING_TOKEN'>, 'OPS_PASSWORD'> & {
  /** Set when FUNDING_URL and TRADING_URL are (by default on a developer's machine): reconciliation from the ops API. */
  RECONCILE_LEDGERS: LedgerAccess | undefined;
};

const workerSchema = baseSchema.extend({
  // Jobs in hand at once: a step mostly waits on Cassandra and the ledgers, so one process can run many.
  WORKER_CONCURRENCY: positiveInt.max(256).default(64),
  // BullMQ job lock, renewed every quarter of it; the stalled-job check runs as often. A worker that dies
  // mid-step frees its jobs within about 1.25 × this (issue 16: everything SIGKILLed, all terminal within 10 s);
  // a live worker loses a lock (a harmless duplicate run) only if its event loop stalls for ¾ of it.
  WORKER_LOCK_MS: positiveInt.min(1_000).default(4_000),
  FUNDING_URL: z.string().url().default(DEV_FUNDING_URL),
  TRADING_URL: z.string().url().default(DEV_TRADING_URL),
  // Sent to each service as `Authorization: Bearer <token>` (docs/adapter-contract.md).
  FUNDING_TOKEN: z.string().min(16).optional(),
  TRADING_TOKEN: z.string().min(16).optional(),
  ADAPTER_TIMEOUT_MS: positiveInt.default(3_000),
  BACKOFF_BASE_MS: positiveInt.default(500),
  BACKOFF_MAX_MS: positiveInt.default(60_000),
  // A worker that took a job but died leaves the transfer's next attempt this far in the future: when the job
  // is lost with it (Redis flushed), the sweeper takes the transfer up again after this.
  STEP_LEASE_MS: positiveInt.default(10_000),
  SWEEPER_ENABLED: bool.default(true),
  SWEEPER_CRON: z.string().default('*/5 * * * * *'),
  STUCK_AFTER_MS: positiveInt.default(5 * 60_000),
  METRICS_HOST: z.string().default('127.0.0.1'),
  METRICS_PORT: port.default(9465),
});
export type WorkerConfig = WithSecrets<z.infer<typeof workerSchema>, 'FUNDING_TOKEN' | 'TRADING_TOKEN'>;

const ledgerSchema = baseSchema.extend({
  LEDGER_HOST: z.string().default('127.0.0.1'),
  FUNDING_PORT: port.default(8081),
  TRADING_PORT: port.default(8082),
  LEDGER_ADMIN_TOKEN: z.string().min(16).optional(),
  // The credential every /v1/* caller (the orchestrator) presents as `Authorization: Bearer <token>`.
  LEDGER_SERVICE_TOKEN: z.string().min(16).optional(),
  // PEM files: the ledgers serve https (the worker calls only https services in production). Both or neither.
  LEDGER_TLS_CERT_FILE: z.string().min(1).optional(),
  LEDGER_TLS_KEY_FILE: z.string().min(1).optional(),
  FAULT_SEED: z.coerce.number().int().default(1),
  FAULT_LATENCY_MS: z.coerce.number().int().min(0).default(0),
  FAULT_ERROR_RATE: z.coerce.number().min(0).max(1).default(0),
  FAULT_DROP_RESPONSE_RATE: z.coerce.number().min(0).max(1).default(0),
  FAULT_REFUSE_RATE: z.coerce.number().min(0).max(1).default(0),
});
export type LedgerConfig = WithSecrets<z.infer<typeof ledgerSchema>, 'LEDGER_ADMIN_TOKEN' | 'LEDGER_SERVICE_TOKEN'>;

/** `NODE_ENV` explicitly development or test: the only settings that unlock development behaviour. */
export function isDevelopment(nodeEnv: BaseConfig['NODE_ENV']): boolean {
  return nodeEnv === 'development' || nodeEnv === 'test';
}

/** Parses the environment with `schema`; a failure is a ConfigError naming every bad setting. */
export function parseEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

/** Where a process runs: whether development defaults may fill in secrets, and whether production rules apply. */
interface Mode {
  devDefaults: boolean;
  production: boolean;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function modeOf(nodeEnv: BaseConfig['NODE_ENV'], binds: string[]): Mode {
  const dev = isDevelopment(nodeEnv);
  return { devDefaults: dev && binds.every(isLoopback), production: !dev };
}

const WHY_NO_DEFAULTS = 'development defaults apply only with NODE_ENV=development or test on a loopback address';

/**
 * A secret: the given value, or the development default where the mode allows one. A missing secret, or the
 * well-known development value where defaults do not apply, is a problem that names the setting.
 */
function secret(name: string, value: string | undefined, devValue: string, mode: Mode, problems: string[]): string {
  if (mode.devDefaults) return value ?? devValue;
  if (value === undefined) problems.push(`${name} is required (${WHY_NO_DEFAULTS})`);
  else if (value === devValue) problems.push(`${name} is the development default (${WHY_NO_DEFAULTS})`);
  return value ?? '';
}

function refuseUnsafeBase(c: BaseConfig, mode: Mode, problems: string[]): void {
  if (!mode.production) return;
  if (c.CASSANDRA_REPLICATION.startsWith('SimpleStrategy')) {
    problems.push('CASSANDRA_REPLICATION must use NetworkTopologyStrategy in production');
  }
  for (const m of c.CASSANDRA_REPLICATION.matchAll(/=(\d+)/g)) {
    if (Number(m[1]) < 3) problems.push('CASSANDRA_REPLICATION needs a replication factor of at least 3 in production');
  }
  if (c.CASSANDRA_CONSISTENCY.endsWith('ONE')) problems.push('CASSANDRA_CONSISTENCY must be a quorum in production');
}

/**
 * BullMQ's multi-key scripts need every key of the queue in one slot: a hash tag in the prefix. Redis hashes
 * only what lies between a key's first `{` and the next `}`, when that is not empty.
 */
export function hasHashTag(prefix: string): boolean {
  const open = prefix.indexOf('{');
  return open >= 0 && prefix.indexOf('}', open + 1) > open + 1;
}

function finish<T extends BaseConfig>(c: T, mode: Mode, problems: string[]): T {
  refuseUnsafeBase(c, mode, problems);
  if (c.REDIS_CLUSTER_NODES && !hasHashTag(c.QUEUE_PREFIX)) {
    problems.push(`QUEUE_PREFIX must contain a hash tag such as {transfer} on a Redis Cluster (is ${c.QUEUE_PREFIX})`);
  }
  if (problems.length) throw new ConfigError(`refusing to start:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return Object.freeze(c);
}

function httpsInProduction(name: string, url: string | undefined, mode: Mode, problems: string[]): void {
  if (mode.production && url !== undefined && !url.startsWith('https://')) problems.push(`${name} must be https in production`);
}

export function loadBaseConfig(env: NodeJS.ProcessEnv = process.env): BaseConfig {
  const c = parseEnv(baseSchema, env);
  return finish(c, modeOf(c.NODE_ENV, []), []);
}

/** The ledgers for the API's reconciliation: both URLs (local ones by default in development) and their tokens, or none. */
function ledgerAccess(
  c: { FUNDING_URL?: string | undefined; TRADING_URL?: string | undefined },
  fundingToken: string | undefined,
  tradingToken: string | undefined,
  mode: Mode,
  problems: string[],
): LedgerAccess | undefined {
  const fundingUrl = c.FUNDING_URL ?? (mode.devDefaults ? DEV_FUNDING_URL : undefined);
  const tradingUrl = c.TRADING_URL ?? (mode.devDefaults ? DEV_TRADING_URL : undefined);
  if (fundingUrl === undefined || tradingUrl === undefined) {
    if (fundingUrl !== tradingUrl) problems.push('FUNDING_URL and TRADING_URL go together (reconciliation from the ops API reads both)');
    return undefined;
  }
  httpsInProduction('FUNDING_URL', fundingUrl, mode, problems);
  httpsInProduction('TRADING_URL', tradingUrl, mode, problems);
  return {
    fundingUrl,
    tradingUrl,
    fundingToken: secret('FUNDING_TOKEN', fundingToken, DEV_LEDGER_SERVICE_TOKEN, mode, problems),
    tradingToken: secret('TRADING_TOKEN', tradingToken, DEV_LEDGER_SERVICE_TOKEN, mode, problems),
  };
}

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const c = parseEnv(apiSchema, env);
  const mode = modeOf(c.NODE_ENV, [c.API_HOST, c.METRICS_HOST]);
  const problems: string[] = [];
  if (c.AUTH_MODE === 'none' && !mode.devDefaults) problems.push(`AUTH_MODE=none is for local development only (${WHY_NO_DEFAULTS})`);
  if (c.AUTH_MODE === 'header' && !c.AUTH_GATEWAY_SECRET) {
    problems.push('AUTH_MODE=header needs AUTH_GATEWAY_SECRET (at least 32 characters), the proof a request came through the gateway');
  }
  if (c.AUTH_MODE === 'jwt') {
    if (c.JWT_JWKS_URL === undefined || c.JWT_SECRET !== undefined) {
      c.JWT_SECRET = secret('JWT_SECRET or JWT_JWKS_URL', c.JWT_SECRET, DEV_JWT_SECRET, mode, problems);
    }
    httpsInProduction('JWT_JWKS_URL', c.JWT_JWKS_URL, mode, problems);
    if (mode.production && !c.JWT_ISSUER) problems.push('JWT_ISSUER is required in production');
    if (mode.production && !c.JWT_AUDIENCE) problems.push('JWT_AUDIENCE is required in production');
  }
  if (mode.production) {
    for (const o of c.CORS_ORIGINS) if (!o.startsWith('https://')) problems.push(`CORS_ORIGINS must be https in production (${o})`);
  }
  const { FUNDING_TOKEN, TRADING_TOKEN, ...rest } = c;
  const loaded: ApiConfig = {
    ...rest,
    OPS_PASSWORD: secret('OPS_PASSWORD', c.OPS_PASSWORD, DEV_OPS_PASSWORD, mode, problems),
    RECONCILE_LEDGERS: ledgerAccess(c, FUNDING_TOKEN, TRADING_TOKEN, mode, problems),
  };
  return finish(loaded, mode, problems);
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const c = parseEnv(workerSchema, env);
  const mode = modeOf(c.NODE_ENV, [c.METRICS_HOST]);
  const problems: string[] = [];
  const loaded: WorkerConfig = {
    ...c,
    FUNDING_TOKEN: secret('FUNDING_TOKEN', c.FUNDING_TOKEN, DEV_LEDGER_SERVICE_TOKEN, mode, problems),
    TRADING_TOKEN: secret('TRADING_TOKEN', c.TRADING_TOKEN, DEV_LEDGER_SERVICE_TOKEN, mode, problems),
  };
  httpsInProduction('FUNDING_URL', c.FUNDING_URL, mode, problems);
  httpsInProduction('TRADING_URL', c.TRADING_URL, mode, problems);
  if (c.BACKOFF_MAX_MS < c.BACKOFF_BASE_MS) problems.push('BACKOFF_MAX_MS must be ≥ BACKOFF_BASE_MS');
  return finish(loaded, mode, problems);
}

export function loadLedgerConfig(env: NodeJS.ProcessEnv = process.env): LedgerConfig {
  const c = parseEnv(ledgerSchema, env);
  const mode = modeOf(c.NODE_ENV, [c.LEDGER_HOST]);
  const problems: string[] = [];
  const loaded: LedgerConfig = {
    ...c,
    LEDGER_ADMIN_TOKEN: secret('LEDGER_ADMIN_TOKEN', c.LEDGER_ADMIN_TOKEN, DEV_LEDGER_ADMIN_TOKEN, mode, problems),
    LEDGER_SERVICE_TOKEN: secret('LEDGER_SERVICE_TOKEN', c.LEDGER_SERVICE_TOKEN, DEV_LEDGER_SERVICE_TOKEN, mode, problems),
  };
  if ((c.LEDGER_TLS_CERT_FILE === undefined) !== (c.LEDGER_TLS_KEY_FILE === undefined)) {
    problems.push('LEDGER_TLS_CERT_FILE and LEDGER_TLS_KEY_FILE go together');
  }
  return finish(loaded, mode, problems);
}

/** The Redis every process of this configuration uses: the cluster when REDIS_CLUSTER_NODES is set, else REDIS_URL. */
export function redisTarget(c: BaseConfig): RedisTarget {
  return c.REDIS_CLUSTER_NODES ?? { mode: 'single', url: c.REDIS_URL };
}

/** The transfer store's active-index layout, from the validated configuration. */
export function indexLayout(c: BaseConfig) {
  return { bucketMs: c.ACTIVE_INDEX_BUCKET_MS, shards: c.ACTIVE_INDEX_SHARDS };
}

/**
 * The Cassandra connection a process opens, from its validated configuration (the shape @it/cassandra's
 * createCassandraClient takes). `keyspace` is the one its statements use; omitted by the migrator.
 */
export function cassandraSettings(c: BaseConfig, keyspace?: string) {
  return {
    contactPoints: c.CASSANDRA_CONTACT_POINTS.split(',').map((s) => s.trim()).filter(Boolean),
    localDataCenter: c.CASSANDRA_LOCAL_DC,
    ...(keyspace ? { keyspace } : {}),
    ...(c.CASSANDRA_USERNAME !== undefined
      ? { credentials: { username: c.CASSANDRA_USERNAME, password: c.CASSANDRA_PASSWORD ?? '' } }
      : {}),
    tls: c.CASSANDRA_TLS,
    consistency: c.CASSANDRA_CONSISTENCY,
    serialConsistency: c.CASSANDRA_SERIAL_CONSISTENCY,
    requestTimeoutMs: c.CASSANDRA_REQUEST_TIMEOUT_MS,
  };
}
