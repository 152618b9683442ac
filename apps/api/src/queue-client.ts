// The API's side of the queue: a producer that fails fast while Redis is down (the `init` row is durable and
// the sweeper enqueues it later) and one QueueEvents per process for the sync wait.
import { QueueEvents, type Queue } from 'bullmq';
import type { Logger } from '@it/observability';
import type { RedisTarget } from '@it/config';
import { createRedisConnection, createTransferQueue, TRANSFER_QUEUE, type RedisConnection, type TransferJobData } from '@it/queue';
import { errorMessage, throttledWarn, withDeadline } from '@it/runtime';
import { OutcomeWaiter } from './outcome-waiter.ts';

/** How long close() waits for BullMQ to close each connection. */
const CLOSE_DEADLINE_MS = 2_000;

export interface QueueClient {
  queue: Queue<TransferJobData>;
  /** The producer connection, fail-fast while Redis is down: also the abuse limits' connection. */
  redis: RedisConnection;
  waiter: OutcomeWaiter;
  /** Whether the producer connection is usable right now (BullMQ would otherwise wait for it). */
  ready: () => boolean;
  ping: () => Promise<unknown>;
  close(): Promise<void>;
}

/** Each source's errors throttled on their own: a Redis that is down reports one on every reconnect attempt. */
function warnEach(logger: Logger, message: string): (err: unknown) => void {
  const warn = throttledWarn(logger);
  return (err) => warn(err, message);
}

/** `redis`: where (@it/config redisTarget), or a server's URL. */
export function openQueueClient(redis: RedisTarget | string, prefix: string, logger: Logger): QueueClient {
  const producer = createRedisConnection(redis, 'producer');
  producer.on('error', warnEach(logger, 'redis producer error'));
  // QueueEvents holds a blocking XREAD, so it needs a connection of its own that retries forever.
  const eventsConnection = createRedisConnection(redis, 'worker');
  eventsConnection.on('error', warnEach(logger, 'redis events error'));

  const queue = createTransferQueue(producer, prefix);
  queue.on('error', warnEach(logger, 'queue error'));
  const queueEvents = new QueueEvents(TRANSFER_QUEUE, { connection: eventsConnection, prefix });
  queueEvents.on('error', warnEach(logger, 'queue events error'));
  const waiter = new OutcomeWaiter(queueEvents);

  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      logger.warn({ err: errorMessage(err) }, `close: ${what} failed`);
    }
  };
  return {
    queue,
    redis: producer,
    waiter,
    ready: () => producer.status === 'ready',
    ping: () => producer.ping(),
    async close() {
      waiter.close();
      // BullMQ's close waits for a connection that is still being established, forever while Redis is down:
      // cut such connections first (nothing is in flight on them), and bound the rest.
      if (producer.status !== 'ready') producer.disconnect();
      if (eventsConnection.status !== 'ready') eventsConnection.disconnect();
      await step('queue events', () => withDeadline(queueEvents.close(), CLOSE_DEADLINE_MS, 'queue events close'));
      await step('queue', () => withDeadline(queue.close(), CLOSE_DEADLINE_MS, 'queue close'));
      producer.disconnect();
      eventsConnection.disconnect();
    },
  };
}
