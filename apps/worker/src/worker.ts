// Composition root of a worker process: BullMQ worker running saga steps and sweeps, the sweeper's job
// scheduler, adapters, metrics and health endpoints.
import http from 'node:http';
import { DelayedError, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { createHttpAdapter } from '@it/adapters';
import type { WorkerConfig } from '@it/config';
import { createLogger, createMetrics, type Logger } from '@it/observability';
import {
  backoffDelay, createRedisConnection, createTransferQueue, STEP_JOB, SWEEP_JOB, SWEEPER_SCHEDULER_ID,
  TRANSFER_QUEUE, type TransferJobData,
} from '@it/queue';
import { createCassandraClient, serialConsistency, TransferStore } from '@it/store';
import { Coordinator, type Adapters } from './coordinator.ts';
import { sweep } from './sweeper.ts';

export interface RunningWorker {
  metricsPort: number;
  close(): Promise<void>;
}

/** Steps a job may run back to back before yielding its slot to other transfers. */
const MAX_STEPS_PER_RUN = 8;

export async function startWorker(
  config: WorkerConfig,
  overrides: { adapters?: Adapters; logger?: Logger } = {},
): Promise<RunningWorker> {
  const logger = overrides.logger ?? createLogger('worker', config.LOG_LEVEL);
  const metrics = createMetrics('worker');
  const cassandra = createCassandraClient(config, config.CASSANDRA_KEYSPACE);
  const store = new TransferStore(cassandra, { serialConsistency: serialConsistency(config) });
  const adapters: Adapters = overrides.adapters ?? {
    funding: createHttpAdapter({ name: 'funding', baseUrl: config.FUNDING_URL, timeoutMs: config.ADAPTER_TIMEOUT_MS }),
    trading: createHttpAdapter({ name: 'trading', baseUrl: config.TRADING_URL, timeoutMs: config.ADAPTER_TIMEOUT_MS }),
  };
  const backoff = { baseMs: config.BACKOFF_BASE_MS, maxMs: config.BACKOFF_MAX_MS };
  const coordinator = new Coordinator(store, adapters, { backoff, leaseMs: config.STEP_LEASE_MS, logger, metrics });

  const queueConnection = createRedisConnection(config.REDIS_URL, 'worker');
  const queue = createTransferQueue(queueConnection, config.QUEUE_PREFIX);
  let closing = false;

  async function runSteps(job: Job<TransferJobData>, token: string): Promise<string> {
    const reqId = job.data.reqId;
    for (let i = 0; ; i++) {
      let result;
      try {
        result = await coordinator.step(reqId);
      } catch (err) {
        // Cassandra unreachable or a write with unsettled outcome: nothing was decided; ask again later.
        const delay = backoffDelay(job.attemptsStarted, backoff);
        logger.warn({ req_id: reqId, err: err instanceof Error ? err.message : String(err), delay }, 'step failed; retrying later');
        await job.moveToDelayed(Date.now() + delay, token);
        throw new DelayedError();
      }
      switch (result.kind) {
        case 'progressed':
          if (closing || i + 1 >= MAX_STEPS_PER_RUN) {
            // Release the job so another worker (or this one, later) continues it.
            await job.moveToWait(token);
            throw new WaitingError();
          }
          continue;
        case 'pending':
          await job.moveToDelayed(result.retryAt.getTime(), token);
          throw new DelayedError();
        case 'lost':
          // Another run owns the row right now; look again shortly rather than race it.
          await job.moveToDelayed(Date.now() + 200, token);
          throw new DelayedError();
        case 'corrupt':
          throw new UnrecoverableError(result.error.message);
        case 'terminal':
          return result.record.state;
        case 'missing':
          logger.error({ req_id: reqId }, 'job for a transfer that does not exist');
          return 'missing';
      }
    }
  }

  const worker = new Worker<TransferJobData>(
    TRANSFER_QUEUE,
    async (job, token) => {
      if (job.name === SWEEP_JOB) {
        const report = await sweep(store, queue, { stuckAfterMs: config.STUCK_AFTER_MS, logger, metrics });
        if (report.enqueued || report.stuck.length || report.corrupt.length) {
          logger.info({ ...report, stuck: report.stuck.length, corrupt: report.corrupt.length }, 'sweep');
        }
        return report.enqueued;
      }
      if (job.name !== STEP_JOB || !token) throw new UnrecoverableError(`unknown job ${job.name}`);
      return runSteps(job, token);
    },
    {
      connection: createRedisConnection(config.REDIS_URL, 'worker'),
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      // A step never legitimately stalls twice: keep retrying stalled jobs instead of failing them,
      // the saga makes repeated runs harmless.
      maxStalledCount: 10,
      lockDuration: config.WORKER_LOCK_MS,
      stalledInterval: config.WORKER_LOCK_MS,
    },
  );
  worker.on('failed', (job, err) => {
    logger.error({ req_id: job?.data.reqId, job: job?.name, err: err.message }, 'job failed');
  });
  worker.on('error', (err) => logger.error({ err: err.message }, 'worker error'));

  // The scheduler lives in Redis; re-assert it periodically so a flushed Redis gets its safety net back.
  let schedulerTimer: NodeJS.Timeout | undefined;
  if (config.SWEEPER_ENABLED) {
    const ensureScheduler = async () => {
      try {
        const existing = await queue.getJobScheduler(SWEEPER_SCHEDULER_ID);
        if (existing?.pattern === config.SWEEPER_CRON) return;
        // Replicas starting together would race their upserts (BullMQ issues #2988, #3381): one wins a
        // short Redis lock and upserts, the others see the scheduler on their next check.
        const lock = await queueConnection.set(`${config.QUEUE_PREFIX}:${TRANSFER_QUEUE}:scheduler-lock`, process.pid, 'PX', 15_000, 'NX');
        if (lock !== 'OK') return;
        await queue.upsertJobScheduler(
          SWEEPER_SCHEDULER_ID,
          { pattern: config.SWEEPER_CRON },
          { name: SWEEP_JOB, data: { reqId: '' }, opts: { removeOnComplete: true, removeOnFail: 100 } },
        );
        logger.info({ cron: config.SWEEPER_CRON }, 'sweeper scheduled');
      } catch (err) {
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not ensure the sweeper schedule');
      }
    };
    await ensureScheduler();
    schedulerTimer = setInterval(() => void ensureScheduler(), 10_000);
  }

  const health = http.createServer((req, res) => {
    void (async () => {
      if (req.url === '/metrics') {
        res.setHeader('content-type', metrics.registry.contentType);
        res.end(await metrics.registry.metrics());
      } else if (req.url === '/livez') {
        res.end('ok');
      } else if (req.url === '/readyz') {
        const ready = worker.isRunning() && !closing;
        res.statusCode = ready ? 200 : 503;
        res.end(ready ? 'ready' : 'not ready');
      } else {
        res.statusCode = 404;
        res.end();
      }
    })().catch(() => {
      res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((resolve) => health.listen(config.METRICS_PORT, config.METRICS_HOST, resolve));
  const address = health.address();
  const metricsPort = typeof address === 'object' && address ? address.port : config.METRICS_PORT;
  logger.info({ concurrency: config.WORKER_CONCURRENCY, metricsPort }, 'worker started');

  return {
    metricsPort,
    async close() {
      closing = true;
      if (schedulerTimer) clearInterval(schedulerTimer);
      // Waits for jobs in hand: each finishes its current step, then releases the job.
      await worker.close();
      await queue.close();
      queueConnection.disconnect();
      await Promise.all(Object.values(adapters).map((a) => a.close()));
      await cassandra.shutdown();
      await new Promise<void>((resolve) => health.close(() => resolve()));
      logger.info('worker stopped');
    },
  };
}
