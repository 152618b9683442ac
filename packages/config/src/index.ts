// Environment configuration, validated once at start-up. Development defaults point at the project's own
// local stack; production refuses the settings that are only safe on a developer's machine.
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

const replication = z
  .string()
  .regex(/^(SimpleStrategy:\d+|NetworkTopologyStrategy(:[A-Za-z0-9_-]+=\d+)+)$/, {
    message: 'expected SimpleStrategy:<rf> or NetworkTopologyStrategy:<dc>=<rf>[:<dc>=<rf>…]',
  });

const baseSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
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
  // Hash-tagged so every BullMQ key of the queue lands on one Redis Cluster slot.
  QUEUE_PREFIX: z.string().default('{transfer}'),
});

export type BaseConfig = z.infer<typeof baseSchema>;

const apiSchema = baseSchema.extend({
  API_HOST: z.string().default('127.0.0.1'),
  API_PORT: port.default(8080),
  AUTH_MODE: z.enum(['jwt', 'header', 'none']).default('jwt'),
  JWT_SECRET: z.string().min(32).optional(),
  JWT_JWKS_URL: z.string().url().optional(),
  JWT_ISSUER: z.string().optional(),
  JWT_AUDIENCE: z.string().optional(),
  AUTH_USER_HEADER: z.string().default('x-user-id'),
  SYNC_WAIT_MS: z.coerce.number().int().min(0).max(30_000).default(2_000),
  BODY_LIMIT: z.string().default('16kb'),
  OPS_USER: z.string().default('ops'),
  OPS_PASSWORD: z.string().min(8).default(DEV_OPS_PASSWORD),
  METRICS_HOST: z.string().default('127.0.0.1'),
  METRICS_PORT: port.default(9464),
  IDEMPOTENCY_TTL_SECONDS: positiveInt.default(7 * 24 * 3600),
  // Abuse limits (429 with Retry-After): POSTs per user per minute, shared by every replica through Redis
  // (fails open while Redis is down); requests one process lets wait in the sync window at once; a user's
  // transfers still running.
  RATE_LIMIT_POSTS_PER_MINUTE: positiveInt.max(100_000).default(120),
  SYNC_WAIT_MAX_WAITING: positiveInt.max(100_000).default(1_000),
  MAX_OPEN_TRANSFERS_PER_USER: positiveInt.max(100_000).default(50),
});
export type ApiConfig = z.infer<typeof apiSchema>;

const workerSchema = baseSchema.extend({
  WORKER_CONCURRENCY: positiveInt.max(256).default(16),
  // BullMQ job lock; a worker that dies mid-step frees its job after this long (stalled-job check).
  WORKER_LOCK_MS: positiveInt.min(1_000).default(30_000),
  FUNDING_URL: z.string().url().default('http://127.0.0.1:8081'),
  TRADING_URL: z.string().url().default('http://127.0.0.1:8082'),
  // Sent to each service as `Authorization: Bearer <token>` (docs/adapter-contract.md).
  FUNDING_TOKEN: z.string().min(16).optional(),
  TRADING_TOKEN: z.string().min(16).optional(),
  ADAPTER_TIMEOUT_MS: positiveInt.default(3_000),
  BACKOFF_BASE_MS: positiveInt.default(500),
  BACKOFF_MAX_MS: positiveInt.default(60_000),
  // A worker that took a job but died leaves the transfer's next attempt this far in the future.
  STEP_LEASE_MS: positiveInt.default(30_000),
  SWEEPER_ENABLED: bool.default(true),
  SWEEPER_CRON: z.string().default('*/5 * * * * *'),
  STUCK_AFTER_MS: positiveInt.default(5 * 60_000),
  METRICS_HOST: z.string().default('127.0.0.1'),
  METRICS_PORT: port.default(9465),
});
export type WorkerConfig = z.infer<typeof workerSchema>;

const ledgerSchema = baseSchema.extend({
  LEDGER_HOST: z.string().default('127.0.0.1'),
  FUNDING_PORT: port.default(8081),
  TRADING_PORT: port.default(8082),
  LEDGER_ADMIN_TOKEN: z.string().min(16).default(DEV_LEDGER_ADMIN_TOKEN),
  // The credential every /v1/* caller (the orchestrator) presents as `Authorization: Bearer <token>`.
  LEDGER_SERVICE_TOKEN: z.string().min(16).default(DEV_LEDGER_SERVICE_TOKEN),
  FAULT_SEED: z.coerce.number().int().default(1),
  FAULT_LATENCY_MS: z.coerce.number().int().min(0).default(0),
  FAULT_ERROR_RATE: z.coerce.number().min(0).max(1).default(0),
  FAULT_DROP_RESPONSE_RATE: z.coerce.number().min(0).max(1).default(0),
  FAULT_REFUSE_RATE: z.coerce.number().min(0).max(1).default(0),
});
export type LedgerConfig = z.infer<typeof ledgerSchema>;

function parse<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.infer<T> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

function refuseUnsafeBase(c: BaseConfig, problems: string[]): void {
  if (c.NODE_ENV !== 'production') return;
  if (c.CASSANDRA_REPLICATION.startsWith('SimpleStrategy')) {
    problems.push('CASSANDRA_REPLICATION must use NetworkTopologyStrategy in production');
  }
  for (const m of c.CASSANDRA_REPLICATION.matchAll(/=(\d+)/g)) {
    if (Number(m[1]) < 3) problems.push('CASSANDRA_REPLICATION needs a replication factor of at least 3 in production');
  }
  if (c.CASSANDRA_CONSISTENCY.endsWith('ONE')) problems.push('CASSANDRA_CONSISTENCY must be a quorum in production');
}

function finish<T extends BaseConfig>(c: T, problems: string[]): T {
  refuseUnsafeBase(c, problems);
  if (problems.length) throw new ConfigError(`refusing to start:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return Object.freeze(c);
}

export function loadBaseConfig(env: NodeJS.ProcessEnv = process.env): BaseConfig {
  return finish(parse(baseSchema, env), []);
}

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const c = parse(apiSchema, env);
  const problems: string[] = [];
  const prod = c.NODE_ENV === 'production';
  if (c.AUTH_MODE === 'jwt' && !c.JWT_SECRET && !c.JWT_JWKS_URL) {
    if (prod) problems.push('AUTH_MODE=jwt needs JWT_SECRET or JWT_JWKS_URL');
    else c.JWT_SECRET = DEV_JWT_SECRET;
  }
  if (prod && c.AUTH_MODE === 'none') problems.push('AUTH_MODE=none is for local development only');
  if (prod && c.JWT_SECRET === DEV_JWT_SECRET) problems.push('JWT_SECRET is the development default');
  if (prod && c.OPS_PASSWORD === DEV_OPS_PASSWORD) problems.push('OPS_PASSWORD is the development default');
  return finish(c, problems);
}

export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const c = parse(workerSchema, env);
  const problems: string[] = [];
  c.FUNDING_TOKEN ??= DEV_LEDGER_SERVICE_TOKEN;
  c.TRADING_TOKEN ??= DEV_LEDGER_SERVICE_TOKEN;
  if (c.BACKOFF_MAX_MS < c.BACKOFF_BASE_MS) problems.push('BACKOFF_MAX_MS must be ≥ BACKOFF_BASE_MS');
  return finish(c, problems);
}

export function loadLedgerConfig(env: NodeJS.ProcessEnv = process.env): LedgerConfig {
  const c = parse(ledgerSchema, env);
  const problems: string[] = [];
  if (c.NODE_ENV === 'production' && c.LEDGER_ADMIN_TOKEN === DEV_LEDGER_ADMIN_TOKEN) {
    problems.push('LEDGER_ADMIN_TOKEN is the development default');
  }
  return finish(c, problems);
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
