// Composition root of a worker process: a BullMQ worker running saga steps and sweeps, the sweeper's job
// scheduler, the adapters, and the metrics/probe listener.
import { UnrecoverableError, Worker } from 'bullmq';
import { createHttpAdapter } from '@it/adapters';
import { cassandraSettings, indexLayout, redisTarget, type WorkerConfig } from '@it/config';
import { createLogger, createWorkerMetrics, type Logger } from '@it/observability';
import { createRedisConnection, createTransferQueue, STEP_JOB, SWEEP_JOB, TRANSFER_QUEUE, type TransferJobData } from '@it/queue';
import { closeServer, createProbeServer, errorMessage, listen, sleep, throttledWarn } from '@it/runtime';
import { openTransferStore, REQUIRED_TRANSFER_MIGRATION, transferSchemaApplied } from '@it/store';
import { Coordinator, type Adapters } from './coordinator.ts';
import { createStepProcessor } from './step-processor.ts';
import { readSweepSnapshot, saveSweepSnapshot } from './sweep-report.ts';
import { snapshotOf, sweep } from './sweeper.ts';
import { keepSweeperScheduled } from './sweeper-schedule.ts';
import { createTransitionPublisher, publishingStore } from './transition-publisher.ts';

export interface RunningWorker {
  metricsPort: number;
  close(): Promise<void>;
}

export async function startWorker(
  config: WorkerConfig,
  overrides: { adapters?: Adapters; logger?: Logger } = {},
): Promise<RunningWorker> {
  const logger = overrides.logger ?? createLogger('worker', config.LOG_LEVEL);
  const { client: cassandra, store } = openTransferStore(cassandraSettings(config, config.CASSANDRA_KEYSPACE), {
    indexLayout: indexLayout(config),
  });
  const adapters: Adapters = overrides.adapters ?? {
    funding: createHttpAdapter({
      name: 'funding',
      baseUrl: config.FUNDING_URL,
      timeoutMs: config.ADAPTER_TIMEOUT_MS,
      headers: { authorization: `Bearer ${config.FUNDING_TOKEN}` },
    }),
    trading: createHttpAdapter({
      name: 'trading',
      baseUrl: config.TRADING_URL,
      timeoutMs: config.ADAPTER_TIMEOUT_MS,
      headers: { authorization: `Bearer ${config.TRADING_TOKEN}` },
    }),
  };
  const queueConnection = createRedisConnection(redisTarget(config), 'worker');
  const queue = createTransferQueue(queueConnection, config.QUEUE_PREFIX);
  const metrics = createWorkerMetrics({
    // Not while Redis is down: the worker connection queues commands until it is back.
    sweepSnapshot: async () => (queueConnection.status === 'ready' ? readSweepSnapshot(queueConnection, config.QUEUE_PREFIX) : undefined),
  });
  const backoff = { baseMs: config.BACKOFF_BASE_MS, maxMs: config.BACKOFF_MAX_MS };
  // Each applied transition is announced on Redis for the API's live event streams (transition-publisher.ts).
  const announced = publishingStore(store, createTransitionPublisher(queueConnection, config.QUEUE_PREFIX, logger));
  const coordinator = new Coordinator(announced, adapters, { backoff, leaseMs: config.STEP_LEASE_MS, logger, metrics });
  let closing = false;
  const runSteps = createStepProcessor({ coordinator, backoff, logger, metrics, closing: () => closing });

  const worker = new Worker<TransferJobData>(
    TRANSFER_QUEUE,
    async (job, token) => {
      // Time spent queued, on a job's first run only: later runs were parked on purpose (backoff, lost race).
      if (job.attemptsStarted === 1 && job.processedOn !== undefined) {
        const dueAt = job.timestamp + (job.delay ?? 0);
        metrics.queueWait.observe({ job: job.name }, Math.max(0, job.processedOn - dueAt) / 1000);
      }
      if (job.name === SWEEP_JOB) {
        const report = await sweep(store, queue, { stuckAfterMs: config.STUCK_AFTER_MS, logger, metrics });
        await saveSweepSnapshot(queueConnection, config.QUEUE_PREFIX, snapshotOf(report, new Date())).catch((err: unknown) => {
          logger.warn({ err: errorMessage(err) }, 'could not publish the sweep report');
        });
        if (report.enqueued || report.stuck.length || report.corrupt.length) {
          logger.info({ ...report, stuck: report.stuck.length, corrupt: report.corrupt.length }, 'sweep');
        }
        return report.enqueued;
      }
      if (job.name !== STEP_JOB || !token) throw new UnrecoverableError(`unknown job ${job.name}`);
      return runSteps(job, token);
    },
    {
      connection: createRedisConnection(redisTarget(config), 'worker'),
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      // A step never legitimately stalls twice: keep retrying stalled jobs instead of failing them,
      // the saga makes repeated runs harmless.
      maxStalledCount: 10,
      // A killed worker's jobs run again within about 1.25 × the lock: it lapses at most a lock after the last
      // renewal, and the next check (every quarter lock) moves it back to wait. Renewing every quarter lets a
      // live worker's event loop stall for ¾ of the lock before a duplicate run (harmless, but wasted).
      lockDuration: config.WORKER_LOCK_MS,
      lockRenewTime: config.WORKER_LOCK_MS / 4,
      stalledInterval: config.WORKER_LOCK_MS / 4,
      // Started once the transfer schema this build needs is applied (see below).
      autorun: false,
    },
  );
  worker.on('failed', (job, err) => {
    metrics.jobsFailed.inc({ job: job?.name ?? 'unknown' });
    logger.error({ req_id: job?.data.reqId, job: job?.name, err: err.message }, 'job failed');
  });
  worker.on('stalled', (jobId) => {
    metrics.jobsStalled.inc();
    logger.warn({ job_id: jobId }, 'job stalled: its worker lost the lock; it runs again');
  });
  worker.on('error', (err) => logger.error({ err: err.message }, 'worker error'));

  const stopScheduling = config.SWEEPER_ENABLED
    ? await keepSweeperScheduled({ queue, connection: queueConnection, prefix: config.QUEUE_PREFIX, cron: config.SWEEPER_CRON, logger })
    : () => undefined;

  const probes = createProbeServer({ registry: metrics.registry, logger, ready: () => worker.isRunning() && !closing });
  const metricsPort = await listen(probes, config.METRICS_PORT, config.METRICS_HOST);
  logger.info({ concurrency: config.WORKER_CONCURRENCY, metricsPort }, 'worker started');

  // A release's pods may start before its migration Job has finished: take no job (and stay not ready) until
  // the schema is there, rather than fail steps against tables or columns that do not exist yet.
  const waiting = throttledWarn(logger, 60_000);
  const takeJobs = (async () => {
    while (!closing) {
      const applied = await transferSchemaApplied(cassandra).catch((err: unknown) => {
        waiting(err, 'cannot read the schema version yet');
        return false;
      });
      if (applied) {
        worker.run().catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'worker stopped taking jobs'));
        return;
      }
      waiting(`migration ${REQUIRED_TRANSFER_MIGRATION} not applied`, 'waiting for the schema migration (the migration Job, or `npm run migrate`) before taking jobs');
      await sleep(1_000);
    }
  })();

  return {
    metricsPort,
    async close() {
      closing = true;
      await takeJobs;
      stopScheduling();
      // Waits for jobs in hand: each finishes its current step, then releases the job.
      await worker.close();
      await queue.close();
      queueConnection.disconnect();
      await Promise.all(Object.values(adapters).map((a) => a.close()));
      await cassandra.shutdown();
      await closeServer(probes, 0);
      logger.info('worker stopped');
    },
  };
}
