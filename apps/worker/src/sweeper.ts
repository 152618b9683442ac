// The safety net: pages the active transfers from Cassandra and re-enqueues those whose next attempt is
// overdue, so a flushed Redis, a lost job or a killed worker never strands a transfer. It also counts and
// reports stuck and corrupt transfers; it never resolves anything by guessing.
import type { JobState } from 'bullmq';
import type { Logger, SweepSnapshot, WorkerMetrics } from '@it/observability';
import { enqueueTransfer, jobIdFor, type JobAdder } from '@it/queue';
import type { ScanStats, TransferStore } from '@it/store';

/** What a sweep reads: the Cassandra store in production, an in-memory one in the simulator (tests/sim). */
export type SweeperStore = Pick<TransferStore, 'scanActive'>;

/** What a sweep asks of the queue: BullMQ's Queue in production, an in-memory one in the simulator. */
export interface SweeperQueue extends JobAdder {
  getJobState(jobId: string): Promise<JobState | 'unknown'>;
  getJob(jobId: string): Promise<{ retry(state: 'failed'): Promise<void> } | undefined>;
}

export interface SweepReport extends ScanStats {
  overdue: number;
  enqueued: number;
  stuck: string[];
  /** Age of the oldest active (readable) transfer, 0 when there is none. */
  oldestActiveAgeMs: number;
}

export interface SweeperOptions {
  stuckAfterMs: number;
  logger: Logger;
  metrics?: WorkerMetrics;
  clock?: () => Date;
}

export async function sweep(store: SweeperStore, queue: SweeperQueue, opts: SweeperOptions): Promise<SweepReport> {
  const now = (opts.clock ?? (() => new Date()))();
  let overdue = 0;
  let enqueued = 0;
  const stuck: string[] = [];
  let oldestCreatedAt = now.getTime();
  try {
    const stats = await store.scanActive(async (record) => {
      oldestCreatedAt = Math.min(oldestCreatedAt, record.createdAt.getTime());
      if (now.getTime() - record.createdAt.getTime() > opts.stuckAfterMs) {
        stuck.push(record.reqId);
        opts.logger.warn(
          { req_id: record.reqId, state: record.state, attempt: record.attempt, error: record.error, created_at: record.createdAt },
          'transfer stuck',
        );
      }
      if (!record.nextAttemptAt || record.nextAttemptAt > now) return;
      overdue++;
      const jobId = jobIdFor(record.reqId);
      const state = await queue.getJobState(jobId);
      if (state === 'failed') {
        // A job that failed (stalled too often, or the process died badly) would block re-adding its id.
        const job = await queue.getJob(jobId);
        await job?.retry('failed');
      } else if (state === 'unknown') {
        await enqueueTransfer(queue, record.reqId);
      } else {
        return; // a live job already carries it
      }
      enqueued++;
      opts.logger.info({ req_id: record.reqId, state: record.state, job_state: state }, 'sweeper re-enqueued an overdue transfer');
    });
    for (const reqId of stats.corrupt) {
      opts.logger.error({ req_id: reqId }, 'transfer row unreadable: left untouched for operators');
    }
    for (const epoch of stats.failedEpochs) {
      opts.logger.error({ epoch }, 'active-index partition unreadable: skipped this sweep');
    }
    opts.metrics?.sweeperFailedPartitions.inc(stats.failedEpochs.length);
    opts.metrics?.sweeperRuns.inc({ result: 'ok' });
    opts.metrics?.sweeperRecovered.inc(enqueued);
    return { ...stats, overdue, enqueued, stuck, oldestActiveAgeMs: Math.max(0, now.getTime() - oldestCreatedAt) };
  } catch (err) {
    opts.metrics?.sweeperRuns.inc({ result: 'error' });
    throw err;
  }
}

/** What a finished sweep tells the metrics (every worker reports the latest one, see sweep-report.ts). */
export function snapshotOf(report: SweepReport, finishedAt: Date): SweepSnapshot {
  return {
    finishedAt,
    active: report.active,
    stuck: report.stuck.length,
    overdue: report.overdue,
    corrupt: report.corrupt.length,
    oldestActiveAgeSeconds: report.oldestActiveAgeMs / 1000,
  };
}
