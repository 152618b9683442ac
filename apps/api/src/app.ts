// Composition root of the API process: Cassandra store, queue client, auth, the HTTP app, the metrics
// listener, and a graceful close. Started by main.ts, and in-process by the tests on port 0.
import http from 'node:http';
import { cassandraSettings, indexLayout, redisTarget, type ApiConfig } from '@it/config';
import { createApiMetrics, createLogger, type Logger } from '@it/observability';
import { httpLedgerReaders } from '@it/reconciliation';
import { closeServer, errorMessage, listen, withDeadline } from '@it/runtime';
import { openTransferStore, transferSchemaApplied } from '@it/store';
import { createAuthenticator } from './auth.ts';
import { createTransferUseCase } from './create-transfer.ts';
import { apiDocsRouter } from './api-docs.ts';
import { createHttpApp } from './http-app.ts';
import { createLimits } from './limits.ts';
import { bullBoardRouter, createOpsApp, healthRouter, operationsGuard, queueJobCounts } from './ops.ts';
import { opsApiRouter } from './ops-api.ts';
import { openQueueClient } from './queue-client.ts';
import { createStreamLimits } from './stream-limits.ts';
import { transferEventsRouter } from './transfer-events.ts';
import { transfersRouter } from './transfers.ts';
import { openTransitionHub } from './transition-hub.ts';

export interface ApiOverrides {
  logger?: Logger;
  /** Public listener port; default config.API_PORT (tests pass 0). */
  port?: number;
  /** Metrics listener port; default config.METRICS_PORT (tests pass 0). */
  metricsPort?: number;
  /** How long close() lets requests in flight finish before cutting their connections. */
  shutdownGraceMs?: number;
}

export interface RunningApi {
  port: number;
  metricsPort: number;
  close(): Promise<void>;
}

export async function startApi(config: ApiConfig, overrides: ApiOverrides = {}): Promise<RunningApi> {
  const logger = overrides.logger ?? createLogger('api', config.LOG_LEVEL);

  // Cassandra connects lazily: a start-up while it is unreachable must not crash the API (readiness says
  // so, and writes answer 503); every request retries the connection.
  const { client: cassandra, store } = openTransferStore(cassandraSettings(config, config.CASSANDRA_KEYSPACE), {
    indexLayout: indexLayout(config),
  });
  cassandra.connect().catch((err: unknown) => {
    logger.warn({ err: errorMessage(err) }, 'cassandra not reachable yet');
  });
  const queueClient = openQueueClient(redisTarget(config), config.QUEUE_PREFIX, logger);
  const metrics = createApiMetrics({
    queueJobs: queueJobCounts(queueClient.queue, queueClient.ready, logger),
    lastReconciliation: () => withDeadline(store.lastReconciliation(), 1_000, 'last reconciliation'),
  });
  // Reconciliation from the ops API reads the ledgers with the worker's credentials, when configured.
  const ledgers = config.RECONCILE_LEDGERS ? httpLedgerReaders({ ...config.RECONCILE_LEDGERS, timeoutMs: config.ADAPTER_TIMEOUT_MS }) : undefined;

  const limits = createLimits({
    redis: queueClient.redis,
    prefix: config.QUEUE_PREFIX,
    store,
    logger,
    settings: { postsPerMinute: config.RATE_LIMIT_POSTS_PER_MINUTE, maxOpenPerUser: config.MAX_OPEN_TRANSFERS_PER_USER },
  });

  let closing = false;
  const createTransfer = createTransferUseCase({
    store,
    queue: queueClient.queue,
    redisReady: queueClient.ready,
    waiter: queueClient.waiter,
    metrics,
    logger,
    syncWaitMs: config.SYNC_WAIT_MS,
    syncWaitMaxWaiting: config.SYNC_WAIT_MAX_WAITING,
    idempotencyTtlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
    openTransfers: limits,
  });
  const auth = createAuthenticator(config, logger);
  // Live event streams: transitions arrive from the workers through Redis (transition-hub.ts).
  const hub = openTransitionHub(redisTarget(config), config.QUEUE_PREFIX, logger);
  const events = transferEventsRouter({
    store,
    auth,
    hub,
    limits: createStreamLimits({
      redis: queueClient.redis,
      prefix: config.QUEUE_PREFIX,
      logger,
      maxPerProcess: config.SSE_MAX_STREAMS,
      maxPerUser: config.SSE_MAX_STREAMS_PER_USER,
      heartbeatMs: config.SSE_HEARTBEAT_MS,
    }),
    heartbeatMs: config.SSE_HEARTBEAT_MS,
    logger,
  });
  const app = createHttpApp({
    health: healthRouter({
      pingCassandra: () => cassandra.execute('SELECT now() FROM system.local', [], { isIdempotent: true, readTimeout: 1_000 }),
      schemaApplied: () => transferSchemaApplied(cassandra),
      pingRedis: queueClient.ping,
      closing: () => closing,
    }),
    transfers: transfersRouter({ store, createTransfer, auth, limits, bodyLimit: config.BODY_LIMIT }),
    events: events.router,
    docs: apiDocsRouter(),
    corsOrigins: config.CORS_ORIGINS,
    bodyLimit: config.BODY_LIMIT,
    logger,
    httpRequests: metrics.httpRequests,
  });

  const server = http.createServer(app);
  // One guard (one failed-login limiter) for Bull Board and the ops API.
  const guard = operationsGuard(config.OPS_USER, config.OPS_PASSWORD);
  const metricsHttp = http.createServer(
    createOpsApp({
      registry: metrics.registry,
      bullBoard: bullBoardRouter(queueClient.queue, config.OPS_USER, config.OPS_PASSWORD, logger, guard),
      opsApi: opsApiRouter(
        {
          store, queue: queueClient.queue, logger, operator: config.OPS_USER, ledgers,
          stuckAfterMs: config.STUCK_AFTER_MS, overdueAfterMs: config.OVERDUE_AFTER_MS,
        },
        guard,
      ),
      logger,
    }),
  );
  let port: number;
  let metricsPort: number;
  try {
    port = await listen(server, overrides.port ?? config.API_PORT, config.API_HOST);
    metricsPort = await listen(metricsHttp, overrides.metricsPort ?? config.METRICS_PORT, config.METRICS_HOST);
  } catch (err) {
    await releaseAll();
    throw err;
  }
  logger.info({ port, metricsPort, auth: config.AUTH_MODE, syncWaitMs: config.SYNC_WAIT_MS }, 'api listening');

  async function releaseAll(): Promise<void> {
    await closeServer(server, 0);
    await closeServer(metricsHttp, 0);
    hub.close();
    await Promise.all(Object.values(ledgers ?? {}).map((l) => l.close()));
    await queueClient.close();
    await cassandra.shutdown().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'close: cassandra failed'));
  }

  let closed: Promise<void> | undefined;
  return {
    port,
    metricsPort,
    close() {
      closed ??= (async () => {
        closing = true;
        logger.info('api stopping: finishing requests in flight');
        // Event streams never finish on their own: end them (clients reconnect, to another replica).
        events.close();
        // In-flight POSTs wait up to SYNC_WAIT_MS and then read Cassandra: let them finish first.
        await closeServer(server, overrides.shutdownGraceMs ?? config.SYNC_WAIT_MS + 5_000);
        await releaseAll();
        logger.info('api stopped');
      })();
      return closed;
    },
  };
}
