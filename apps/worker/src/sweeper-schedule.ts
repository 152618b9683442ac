// Keeps the sweeper's BullMQ job scheduler in Redis. The scheduler lives in Redis, so it is re-asserted
// periodically: a flushed Redis gets its safety net back within one period.
import type { Queue } from 'bullmq';
import type { Logger } from '@it/observability';
import { SWEEP_JOB, SWEEPER_SCHEDULER_ID, TRANSFER_QUEUE, type RedisConnection, type TransferJobData } from '@it/queue';
import { errorMessage } from '@it/runtime';

const REASSERT_EVERY_MS = 10_000;
const UPSERT_LOCK_MS = 15_000;

export interface SweeperScheduleOptions {
  queue: Queue<TransferJobData>;
  /** A connection for the upsert lock (the queue's own). */
  connection: RedisConnection;
  prefix: string;
  cron: string;
  logger: Logger;
}

/** Ensures the schedule now and every REASSERT_EVERY_MS; the returned function stops re-asserting. */
export async function keepSweeperScheduled(opts: SweeperScheduleOptions): Promise<() => void> {
  const { queue, connection, cron, logger } = opts;
  const ensure = async () => {
    try {
      const existing = await queue.getJobScheduler(SWEEPER_SCHEDULER_ID);
      if (existing?.pattern === cron) return;
      // Replicas starting together would race their upserts (BullMQ issues #2988, #3381): one wins a
      // short Redis lock and upserts, the others see the scheduler on their next check.
      const lock = await connection.set(`${opts.prefix}:${TRANSFER_QUEUE}:scheduler-lock`, process.pid, 'PX', UPSERT_LOCK_MS, 'NX');
      if (lock !== 'OK') return;
      await queue.upsertJobScheduler(
        SWEEPER_SCHEDULER_ID,
        { pattern: cron },
        { name: SWEEP_JOB, data: { reqId: '' }, opts: { removeOnComplete: true, removeOnFail: 100 } },
      );
      logger.info({ cron }, 'sweeper scheduled');
    } catch (err) {
      logger.warn({ err: errorMessage(err) }, 'could not ensure the sweeper schedule');
    }
  };
  await ensure();
  const timer = setInterval(() => void ensure(), REASSERT_EVERY_MS);
  return () => clearInterval(timer);
}
