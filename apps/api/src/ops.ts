// Operations surfaces: health probes, Bull Board behind its own credentials, and the queue-depth gauge
// (the Prometheus endpoint is @it/runtime's probe server, on a separate listener the public port never exposes).
import { timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { type NextFunction, type Request, type Response } from 'express';
import client from 'prom-client';
import type { Logger, Metrics } from '@it/observability';
import type { TransferJobData } from '@it/queue';
import { errorMessage, sha256, withDeadline } from '@it/runtime';

export const BULL_BOARD_PATH = '/admin/queues';
const PROBE_TIMEOUT_MS = 1_000;

export interface HealthDeps {
  pingCassandra: () => Promise<unknown>;
  pingRedis: () => Promise<unknown>;
  closing: () => boolean;
}

export function healthRouter(deps: HealthDeps): express.Router {
  const router = express.Router();
  router.get('/livez', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    if (deps.closing()) {
      res.status(503).json({ status: 'unavailable', reason: 'shutting down' });
      return;
    }
    const check = (ping: () => Promise<unknown>) =>
      withDeadline(Promise.resolve().then(ping), PROBE_TIMEOUT_MS, 'probe').then(
        () => 'ok' as const,
        () => 'down' as const,
      );
    const [cassandra, redis] = await Promise.all([check(deps.pingCassandra), check(deps.pingRedis)]);
    const ready = cassandra === 'ok' && redis === 'ok';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', cassandra, redis });
  });
  return router;
}

/** HTTP Basic auth with OPS_USER/OPS_PASSWORD, compared as digests in constant time. */
export function basicAuth(user: string, password: string, realm: string) {
  const userDigest = sha256(user);
  const passwordDigest = sha256(password);
  return (req: Request, res: Response, next: NextFunction) => {
    const m = /^Basic +([A-Za-z0-9+/=]+)$/i.exec(req.get('authorization') ?? '');
    const decoded = m?.[1] ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    // Both comparisons always run, so the timing says nothing about which half was wrong.
    const userOk = timingSafeEqual(sha256(colon >= 0 ? decoded.slice(0, colon) : ''), userDigest);
    const passwordOk = timingSafeEqual(sha256(colon >= 0 ? decoded.slice(colon + 1) : ''), passwordDigest);
    if (colon < 0 || !userOk || !passwordOk) {
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

/**
 * Bull Board on the transfer queue. Write actions (retry, promote, clean) are allowed to operators: jobs are
 * only accelerators, a removed job is re-enqueued by the sweeper from Cassandra.
 */
export function bullBoardRouter(queue: Queue<TransferJobData>, user: string, password: string): express.Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({ queues: [new BullMQAdapter(queue, { readOnlyMode: false })], serverAdapter });
  const router = express.Router();
  router.use(BULL_BOARD_PATH, basicAuth(user, password, 'operations'), sameOriginWrites, serverAdapter.getRouter() as express.Router);
  return router;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;

/** `transfer_queue_jobs{state}`, read from Redis at scrape time; absent while Redis does not answer. */
export function registerQueueGauge(metrics: Metrics, queue: Queue<TransferJobData>, redisReady: () => boolean, logger: Logger) {
  return new client.Gauge({
    name: 'transfer_queue_jobs',
    help: 'Jobs in the transfer queue, by state (read at scrape time)',
    labelNames: ['state'] as const,
    registers: [metrics.registry],
    async collect() {
      this.reset();
      if (!redisReady()) return;
      try {
        const counts = await withDeadline(queue.getJobCounts(...QUEUE_STATES), PROBE_TIMEOUT_MS, 'queue depth');
        for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
      } catch (err) {
        logger.debug({ err: errorMessage(err) }, 'queue depth unavailable');
      }
    },
  });
}
