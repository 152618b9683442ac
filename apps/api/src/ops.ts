// Operations surfaces. The ops listener (METRICS_HOST:METRICS_PORT, never the public port) serves
// `/metrics` and Bull Board behind Basic auth, with frame protection, failed logins limited and every
// operator action logged. The public port keeps only cached liveness/readiness probes.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { type NextFunction, type Request, type Response } from 'express';
import client from 'prom-client';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { QUEUE_STATES, type Logger, type QueueState } from '@it/observability';
import type { TransferJobData } from '@it/queue';
import { errorMessage, secretChecker, serveMetrics, withDeadline } from '@it/runtime';

export const BULL_BOARD_PATH = '/admin/queues';
const PROBE_TIMEOUT_MS = 1_000;

export interface HealthDeps {
  pingCassandra: () => Promise<unknown>;
  pingRedis: () => Promise<unknown>;
  /** Whether the transfer schema this build needs is applied (the migration Job of this release has run). */
  schemaApplied: () => Promise<boolean>;
  closing: () => boolean;
}

type Readiness = { ready: boolean; cassandra: string; redis: string; schema: string };

/** Readiness pings Cassandra and Redis: its answer is reused this long, so probes cannot be used to hammer them. */
const READINESS_CACHE_MS = 1_000;

export function healthRouter(deps: HealthDeps): express.Router {
  const router = express.Router();
  let cached: { at: number; answer: Promise<Readiness> } | undefined;
  // Once applied, a migration stays applied: stop asking.
  let schemaSeen = false;
  const schema = async (): Promise<string> => {
    if (schemaSeen) return 'ok';
    const applied = await withDeadline(deps.schemaApplied(), PROBE_TIMEOUT_MS, 'schema').catch(() => undefined);
    schemaSeen = applied === true;
    return applied === undefined ? 'unknown' : applied ? 'ok' : 'migration pending';
  };
  const check = (ping: () => Promise<unknown>) =>
    withDeadline(Promise.resolve().then(ping), PROBE_TIMEOUT_MS, 'probe').then(
      () => 'ok' as const,
      () => 'down' as const,
    );
  const readiness = () => {
    if (!cached || Date.now() - cached.at >= READINESS_CACHE_MS) {
      const answer = Promise.all([check(deps.pingCassandra), check(deps.pingRedis), schema()]).then(([cassandra, redis, schemaState]) => ({
        ready: cassandra === 'ok' && redis === 'ok' && schemaState === 'ok',
        cassandra,
        redis,
        schema: schemaState,
      }));
      cached = { at: Date.now(), answer };
    }
    return cached.answer;
  };
  router.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    if (deps.closing()) {
      res.status(503).json({ status: 'unavailable', reason: 'shutting down' });
      return;
    }
    const { ready, ...parts } = await readiness();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', ...parts });
  });
  return router;
}

/** Failed logins one client address may make per minute before it is told to wait (per process). */
const FAILED_LOGINS_PER_MINUTE = 10;

/**
 * HTTP Basic auth with OPS_USER/OPS_PASSWORD, compared as digests in constant time. A client address that
 * fails too often is answered 429 with Retry-After, even with the right password, until its minute ends.
 */
export function basicAuth(user: string, password: string, realm: string) {
  const isUser = secretChecker(user);
  const isPassword = secretChecker(password);
  const failures = new RateLimiterMemory({ points: FAILED_LOGINS_PER_MINUTE, duration: 60 });
  return async (req: Request, res: Response, next: NextFunction) => {
    const address = req.socket.remoteAddress ?? 'unknown';
    const blocked = await failures.get(address);
    if (blocked && blocked.remainingPoints <= 0) {
      res.status(429).set('retry-after', String(Math.max(1, Math.ceil(blocked.msBeforeNext / 1000)))).json({ error: 'too many failed logins, retry later' });
      return;
    }
    const m = /^Basic +([A-Za-z0-9+/=]+)$/i.exec(req.get('authorization') ?? '');
    const decoded = m?.[1] ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    // Both comparisons always run, so the timing says nothing about which half was wrong.
    const userOk = isUser(colon >= 0 ? decoded.slice(0, colon) : '');
    const passwordOk = isPassword(colon >= 0 ? decoded.slice(colon + 1) : '');
    if (colon < 0 || !userOk || !passwordOk) {
      // A request without credentials is the browser asking for them, not a guess: only wrong ones count.
      if (m) await failures.penalty(address, 1);
      res.status(401).set('www-authenticate', `Basic realm="${realm}", charset="UTF-8"`).json({ error: 'operations credentials required' });
      return;
    }
    next();
  };
}

/**
 * Browsers replay Basic credentials on cross-site requests; a state-changing request from another origin
 * (a page luring an operator) is refused.
 */
function sameOriginWrites(req: Request, res: Response, next: NextFunction) {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
  const origin = req.get('origin');
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host !== req.get('host')) {
      res.status(403).json({ error: 'cross-origin request refused' });
      return;
    }
  }
  next();
}

/** Bull Board is never framed by another page (clickjacking of its write buttons). */
function noFraming(_req: Request, res: Response, next: NextFunction) {
  res.set('content-security-policy', "frame-ancestors 'none'");
  res.set('x-frame-options', 'DENY');
  next();
}

/** Every operator action (anything but a read) is logged with the full path and the operator. */
function auditActions(operator: string, logger: Logger) {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      logger.info({ operator, method: req.method, path: req.originalUrl }, 'operator action');
    }
    next();
  };
}

/**
 * What stands before every operations surface (Bull Board, the ops API): no framing, the operations
 * credentials with failed logins limited (one limiter for all of them), same-origin writes only.
 */
export function operationsGuard(user: string, password: string): express.RequestHandler[] {
  return [noFraming, basicAuth(user, password, 'operations'), sameOriginWrites];
}

/**
 * Bull Board on the transfer queue, for the ops listener. Write actions (retry, promote, clean) are allowed
 * to operators: jobs are only accelerators, a removed job is re-enqueued by the sweeper from Cassandra.
 */
export function bullBoardRouter(
  queue: Queue<TransferJobData>,
  user: string,
  password: string,
  logger: Logger,
  guard: express.RequestHandler[] = operationsGuard(user, password),
): express.Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({ queues: [new BullMQAdapter(queue, { readOnlyMode: false })], serverAdapter });
  const router = express.Router();
  router.use(
    BULL_BOARD_PATH,
    ...guard,
    auditActions(user, logger),
    serverAdapter.getRouter() as express.Router,
  );
  return router;
}

/** The ops listener: Prometheus' `/metrics`, Bull Board and the ops API; nothing of it is on the public port. */
export function createOpsApp(parts: { registry: client.Registry; bullBoard: express.Router; opsApi?: express.Router; logger: Logger }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/metrics', serveMetrics(parts.registry, parts.logger));
  app.use(parts.bullBoard);
  if (parts.opsApi) app.use(parts.opsApi);
  app.use((_req, res) => {
    res.status(404).json({ error: 'Not found' });
  });
  return app;
}

/**
 * The queue's job counts by state, read from Redis at scrape time (`internal_transfer_queue_jobs{state}`);
 * undefined while Redis does not answer, so the gauge is absent rather than a made-up zero.
 */
export function queueJobCounts(queue: Queue<TransferJobData>, redisReady: () => boolean, logger: Logger) {
  return async (): Promise<Partial<Record<QueueState, number>> | undefined> => {
    if (!redisReady()) return undefined;
    try {
      return await withDeadline(queue.getJobCounts(...QUEUE_STATES), PROBE_TIMEOUT_MS, 'queue depth');
    } catch (err) {
      logger.debug({ err: errorMessage(err) }, 'queue depth unavailable');
      return undefined;
    }
  };
}
