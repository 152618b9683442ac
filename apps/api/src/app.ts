// Composition root of the API process: Cassandra store, BullMQ producer and events, auth, routes, ops
// surfaces, and a graceful close. Started by main.ts, and in-process by the tests on port 0.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { QueueEvents } from 'bullmq';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { ApiConfig } from '@it/config';
import { createLogger, createMetrics, type Logger } from '@it/observability';
import { createRedisConnection, createTransferQueue, TRANSFER_QUEUE } from '@it/queue';
import {
  CorruptRowError, createCassandraClient, InvalidTransferError, serialConsistency, StoreUnavailableError, TransferStore,
} from '@it/store';
import { createAuthenticator } from './auth.ts';
import { bullBoardRouter, healthRouter, metricsServer, registerQueueGauge, withDeadline } from './ops.ts';
import { OutcomeWaiter } from './outcome-waiter.ts';
import { transfersRouter } from './transfers.ts';
import { sendGetError, sendPostError } from './wire.ts';

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

const STORAGE_UNAVAILABLE = 'storage unavailable, retry later';

/** One log line per failure burst: a Redis that is down reports an error on every reconnect attempt. */
function throttledWarn(logger: Logger, what: string, everyMs = 30_000) {
  let last = 0;
  return (err: unknown) => {
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    logger.warn({ err: err instanceof Error ? err.message : String(err) }, `${what} error`);
  };
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting, lets requests in flight finish for up to graceMs, then cuts what is left. */
function closeServer(server: http.Server, graceMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    // Keep-alive connections that finish their request become idle: close them as they do.
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export async function startApi(config: ApiConfig, overrides: ApiOverrides = {}): Promise<RunningApi> {
  const logger = overrides.logger ?? createLogger('api', config.LOG_LEVEL);
  const metrics = createMetrics('api');

  // Cassandra connects lazily: a start-up while it is unreachable must not crash the API (readiness says
  // so, and writes answer 503); every request retries the connection.
  const cassandra = createCassandraClient(config, config.CASSANDRA_KEYSPACE);
  cassandra.connect().catch((err: unknown) => {
    logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'cassandra not reachable yet');
  });
  const store = new TransferStore(cassandra, { serialConsistency: serialConsistency(config) });

  // Producer: fails fast when Redis is down (the init row is durable, the sweeper enqueues it later).
  const producer = createRedisConnection(config.REDIS_URL, 'producer');
  producer.on('error', throttledWarn(logger, 'redis producer'));
  // QueueEvents holds a blocking XREAD, so it needs a connection of its own that retries forever.
  const eventsConnection = createRedisConnection(config.REDIS_URL, 'worker');
  eventsConnection.on('error', throttledWarn(logger, 'redis events'));
  const redisReady = () => producer.status === 'ready';

  const queue = createTransferQueue(producer, config.QUEUE_PREFIX);
  queue.on('error', throttledWarn(logger, 'queue'));
  const queueEvents = new QueueEvents(TRANSFER_QUEUE, { connection: eventsConnection, prefix: config.QUEUE_PREFIX });
  queueEvents.on('error', throttledWarn(logger, 'queue events'));
  const waiter = new OutcomeWaiter(queueEvents);
  registerQueueGauge(metrics, queue, redisReady, logger);

  let closing = false;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((req, res, next) => {
    const t0 = process.hrtime.bigint();
    res.set('cache-control', 'no-store');
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const line = { method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms), req_id: res.locals.reqId as unknown };
      if (res.statusCode >= 500) logger.warn(line, 'request');
      else logger.debug(line, 'request');
    });
    next();
  });
  app.use(
    healthRouter({
      pingCassandra: () => cassandra.execute('SELECT now() FROM system.local', [], { isIdempotent: true, readTimeout: 1_000 }),
      pingRedis: () => producer.ping(),
      closing: () => closing,
    }),
  );
  app.use(bullBoardRouter(queue, config.OPS_USER, config.OPS_PASSWORD));
  app.use(
    transfersRouter({
      config, store, queue, redisReady, waiter, auth: createAuthenticator(config, logger), metrics, logger,
    }),
  );
  app.use((req, res) => {
    if (req.method === 'POST') sendPostError(res, 404, `no route ${req.method} ${req.path}`);
    else sendGetError(res, 404, 'Not found');
  });
  // Express 5 routes rejected promises here. Nothing a client sends may crash the process or leak internals:
  // the details go to the log, with the transfer's req_id when there is one.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const send = (status: number, message: string) =>
      req.method === 'POST' ? sendPostError(res, status, message) : sendGetError(res, status, message);
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    const bodyError = err as { type?: unknown; status?: unknown };
    if (typeof bodyError.type === 'string' && typeof bodyError.status === 'number' && bodyError.status < 500) {
      if (bodyError.type === 'entity.too.large') return send(413, `body is larger than ${config.BODY_LIMIT}`);
      if (bodyError.type === 'entity.parse.failed') return send(400, 'body is not valid JSON');
      return send(bodyError.status === 415 ? 415 : 400, `body could not be read (${bodyError.type})`);
    }
    const log = logger.child({ req_id: res.locals.reqId as unknown, method: req.method, path: req.path });
    if (err instanceof InvalidTransferError) return send(400, err.message);
    if (err instanceof StoreUnavailableError) {
      log.error({ err }, 'storage unavailable');
      res.set('retry-after', '1');
      return send(503, STORAGE_UNAVAILABLE);
    }
    log.error({ err }, err instanceof CorruptRowError ? 'corrupt transfer row' : 'request failed');
    send(500, 'internal error');
  });

  const server = http.createServer(app);
  const metricsHttp = metricsServer(metrics, logger);
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
    const step = async (what: string, fn: () => Promise<unknown> | void) => {
      try {
        await fn();
      } catch (err) {
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, `close: ${what} failed`);
      }
    };
    await step('public server', () => closeServer(server, 0));
    await step('metrics server', () => closeServer(metricsHttp, 0));
    waiter.close();
    // BullMQ's close waits for a connection that is still being established, forever while Redis is down:
    // cut such connections first (nothing is in flight on them), and bound the rest.
    if (producer.status !== 'ready') producer.disconnect();
    if (eventsConnection.status !== 'ready') eventsConnection.disconnect();
    await step('queue events', () => withDeadline(queueEvents.close(), 2_000));
    await step('queue', () => withDeadline(queue.close(), 2_000));
    producer.disconnect();
    eventsConnection.disconnect();
    await step('cassandra', () => cassandra.shutdown());
  }

  let closed: Promise<void> | undefined;
  return {
    port,
    metricsPort,
    close() {
      closed ??= (async () => {
        closing = true;
        logger.info('api stopping: finishing requests in flight');
        // In-flight POSTs wait up to SYNC_WAIT_MS and then read Cassandra: let them finish first.
        await closeServer(server, overrides.shutdownGraceMs ?? config.SYNC_WAIT_MS + 5_000);
        await releaseAll();
        logger.info('api stopped');
      })();
      return closed;
    },
  };
}
