// Runs a transfer's saga steps inside one BullMQ job: a step that made progress is followed at once by the
// next; an unknown outcome parks the job in `delayed` until the backoff time stored in the row; a lost race
// or an unreachable Cassandra looks again shortly. The attempt count lives in Cassandra, not in the job.
import { DelayedError, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import { StoreUnavailableError, UnknownOutcomeError } from '@it/cassandra';
import type { Logger, StepError, WorkerMetrics } from '@it/observability';
import { backoffDelay, type BackoffPolicy, type TransferJobData } from '@it/queue';
import { errorMessage } from '@it/runtime';
import { recordFromSnapshot, type TransferRecord } from '@it/store';
import type { Coordinator } from './coordinator.ts';

/** Steps a job may run back to back before yielding its slot to other transfers. */
const MAX_STEPS_PER_RUN = 8;
/** After a lost compare-and-set: another run owns the row right now; look again this much later. */
const LOST_RACE_DELAY_MS = 200;

export interface StepProcessorDeps {
  coordinator: Coordinator;
  backoff: BackoffPolicy;
  logger: Logger;
  metrics?: WorkerMetrics;
  /** True once the worker is shutting down: a job in hand is released after its current step. */
  closing: () => boolean;
  /** Epoch milliseconds and jitter; the simulator (tests/sim) runs on its own. Default: the real clock, Math.random. */
  clock?: () => number;
  random?: () => number;
}

/** The members of a BullMQ job a run uses: the simulator's jobs have these too. */
export type StepJob = Pick<Job<TransferJobData>, 'data' | 'attemptsStarted' | 'moveToDelayed' | 'moveToWait'>;

function stepError(err: unknown): StepError {
  // The subclass first: an unsettled write is also a kind of unavailability.
  if (err instanceof UnknownOutcomeError) return 'unknown_outcome';
  if (err instanceof StoreUnavailableError) return 'store_unavailable';
  return 'unexpected';
}

/** The processor of `step` jobs; resolves with the terminal state (or `missing`) when the transfer is done. */
export function createStepProcessor(deps: StepProcessorDeps) {
  const { coordinator, backoff, logger } = deps;
  const clock = deps.clock ?? Date.now;
  return async function runSteps(job: StepJob, token: string): Promise<string> {
    const reqId = job.data.reqId;
    // The row as this run's last applied compare-and-set left it: the next step starts from it, not from a read.
    // The first run of a job the API enqueued starts from the row as the API created it.
    let known: TransferRecord | undefined = job.attemptsStarted <= 1 ? recordFromSnapshot(reqId, job.data.created) : undefined;
    for (let i = 0; ; i++) {
      let result;
      try {
        result = await coordinator.step(reqId, known);
      } catch (err) {
        // Cassandra unreachable or a write with unsettled outcome: nothing was decided; ask again later.
        const delay = backoffDelay(job.attemptsStarted, backoff, deps.random);
        deps.metrics?.stepErrors.inc({ error: stepError(err) });
        logger.warn({ req_id: reqId, err: errorMessage(err), delay }, 'step failed; retrying later');
        await job.moveToDelayed(clock() + delay, token);
        throw new DelayedError();
      }
      switch (result.kind) {
        case 'progressed':
          if (deps.closing() || i + 1 >= MAX_STEPS_PER_RUN) {
            // Release the job so another worker (or this one, later) continues it.
            await job.moveToWait(token);
            throw new WaitingError();
          }
          known = result.record;
          continue;
        case 'deferred':
          await job.moveToDelayed(result.retryAt.getTime(), token);
          throw new DelayedError();
        case 'lost':
          await job.moveToDelayed(clock() + LOST_RACE_DELAY_MS, token);
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
  };
}
