// BullMQ wiring shared by the API (producer), the workers and the sweeper: names, job ids, connections,
// and the retry backoff policy. Redis is an accelerator here; Cassandra stays the source of truth.
import { Queue, type JobsOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';

export const TRANSFER_QUEUE = 'transfers';
export const STEP_JOB = 'step';
export const SWEEP_JOB = 'sweep';
export const SWEEPER_SCHEDULER_ID = 'transfer-sweeper';

export interface TransferJobData {
  reqId: string;
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

export type RedisRole = 'producer' | 'worker';

/**
 * Producers (the API) fail fast when Redis is down: the transfer is already durable in Cassandra and the
 * sweeper will enqueue it. Workers block and reconnect forever, as BullMQ requires.
 */
export function createRedisConnection(url: string, role: RedisRole, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    ...(role === 'worker'
      ? { maxRetriesPerRequest: null }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000 }),
    ...extra,
  });
}

export function createTransferQueue(connection: Redis, prefix: string): Queue<TransferJobData> {
  return new Queue<TransferJobData>(TRANSFER_QUEUE, { connection, prefix });
}

/** What enqueueing needs of a queue: BullMQ's Queue, or an in-memory one in the simulator (tests/sim). */
export interface JobAdder {
  add(name: string, data: TransferJobData, opts: JobsOptions): Promise<unknown>;
}

export async function enqueueTransfer(queue: JobAdder, reqId: string): Promise<void> {
  await queue.add(STEP_JOB, { reqId }, { ...STEP_JOB_OPTIONS, jobId: jobIdFor(reqId) });
}

/**
 * Deletes every key of a queue prefix (jobs, events, schedulers, metadata) and nothing else; returns how many.
 * What losing the queue means to one deployment, without touching anything else on the same Redis.
 */
export async function deleteQueueKeys(redis: Redis, prefix: string): Promise<number> {
  // Glob-escape the prefix: only the keys that really start with it match.
  const match = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    if (keys.length) deleted += await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
  return deleted;
}

export * from './backoff.ts';
export * from './transitions.ts';
