// Bounds on open event streams: each holds a connection, a Redis subscription and a timer. Per process, a
// counter (SSE_MAX_STREAMS, answered 503: another replica may have room). Per user, across every replica, a
// Redis sorted set of the user's open streams scored by when each lapses (SSE_MAX_STREAMS_PER_USER, answered
// 429): a replica that dies leaves entries that lapse by themselves, since live streams push their score
// forward at every heartbeat. Like the POST limits, the per-user one FAILS OPEN while Redis is down or slow.
import { randomUUID } from 'node:crypto';
import type { Logger } from '@it/observability';
import type { RedisConnection } from '@it/queue';
import { throttledWarn, withDeadline } from '@it/runtime';

const LIMIT_TIMEOUT_MS = 250;
/** A user at the cap may try again this soon; streams end when their transfer does, usually within seconds. */
export const STREAM_RETRY_AFTER_S = 5;
/** Heartbeats an entry survives without being refreshed. */
const LAPSE_HEARTBEATS = 3;

export interface StreamLease {
  /** Keeps the user's entry alive: called at every heartbeat. */
  refresh(): void;
  release(): void;
}

export interface StreamLimits {
  /** Takes a place in this process; false when it is full. */
  enterProcess(): boolean;
  leaveProcess(): void;
  /** A lease on one of the user's places, or undefined when they are all taken. */
  admitUser(userId: bigint): Promise<StreamLease | undefined>;
  readonly open: number;
}

export function createStreamLimits(deps: {
  redis: RedisConnection;
  prefix: string;
  logger: Logger;
  maxPerProcess: number;
  maxPerUser: number;
  heartbeatMs: number;
}): StreamLimits {
  const { redis } = deps;
  const throttled = throttledWarn(deps.logger);
  const warn = (err: unknown) => throttled(err, 'open streams per user: limit not applied (fails open)');
  const lapseMs = LAPSE_HEARTBEATS * deps.heartbeatMs;
  let open = 0;

  const bounded = <T>(p: Promise<T>) => withDeadline(p, LIMIT_TIMEOUT_MS, 'open streams');

  return {
    enterProcess() {
      if (open >= deps.maxPerProcess) return false;
      open++;
      return true;
    },
    leaveProcess() {
      open--;
    },
    get open() {
      return open;
    },
    async admitUser(userId) {
      const key = `${deps.prefix}:limits:streams:${userId}`;
      const id = randomUUID();
      const noop: StreamLease = { refresh: () => undefined, release: () => undefined };
      try {
        // Add first, then count: two replicas admitting at once cannot both see room that only one has.
        const now = Date.now();
        const replies = await bounded(
          redis.multi().zremrangebyscore(key, '-inf', String(now)).zadd(key, now + lapseMs, id).zcard(key).pexpire(key, lapseMs).exec(),
        );
        if (Number(replies?.[2]?.[1] ?? 0) > deps.maxPerUser) {
          await bounded(redis.zrem(key, id)).catch(warn);
          return undefined;
        }
      } catch (err) {
        warn(err);
        return noop;
      }
      return {
        refresh() {
          const at = Date.now() + lapseMs;
          bounded(redis.multi().zadd(key, 'XX', at, id).pexpire(key, lapseMs).exec()).catch(warn);
        },
        release() {
          bounded(redis.zrem(key, id)).catch(warn);
        },
      };
    },
  };
}
