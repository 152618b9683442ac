// BullMQ wiring shared by the API (producer), the workers and the sweeper: names, job ids, connections,
// and the retry backoff policy. Redis is an accelerator here; Cassandra stays the source of truth.
import { Queue, type JobsOptions } from 'bullmq';
import type { RedisConnection } from './redis.ts';

export const TRANSFER_QUEUE = 'transfers';
export const STEP_JOB = 'step';
export const SWEEP_JOB = 'sweep';
export const SWEEPER_SCHEDULER_ID = 'transfer-sweeper';

export interface TransferJobData {
  reqId: string;
  /**
   * The transfer's row as the API created it (JSON-safe, from @it/store's createdSnapshot): the job's first
   * run starts from it instead of reading the row. Absent on jobs the sweeper or an operator enqueues.
   */
  created?: Record<string, string | number>;
}

/** One live job per transfer: BullMQ ignores an add while a job with this id exists. */
export function jobIdFor(reqId: string): string {
  return `transfer-${reqId}`;
}

export const STEP_JOB_OPTIONS: JobsOptions = {
  // Completed jobs are removed at once so the same transfer can be enqueued again later; failed ones
  // (a corrupt row) stay for operators to see in Bull Board.
  removeOnComplete: true,
  removeOnFail: false,
  attempts: 1,
};

export function createTransferQueue(connection: RedisConnection, prefix: string): Queue<TransferJobData> {
  return new Queue<TransferJobData>(TRANSFER_QUEUE, { connection, prefix });
}

/** What enqueueing needs of a queue: BullMQ's Queue, or an in-memory one in the simulator (tests/sim). */
export interface JobAdder {
  add(name: string, data: TransferJobData, opts: JobsOptions): Promise<unknown>;
}

export async function enqueueTransfer(queue: JobAdder, reqId: string, created?: TransferJobData['created']): Promise<void> {
  await queue.add(STEP_JOB, created ? { reqId, created } : { reqId }, { ...STEP_JOB_OPTIONS, jobId: jobIdFor(reqId) });
}

export * from './backoff.ts';
export * from './redis.ts';
export * from './transitions.ts';
