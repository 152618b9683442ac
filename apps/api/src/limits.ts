// Abuse limits of POST /transfer, checked after authentication and validation and before any Cassandra
// write: a per-user rate shared by every replica, and a per-user cap on transfers still running. Both live in
// Redis under the queue prefix (one deployment's keys, deleted with its queue) and FAIL OPEN: while Redis is
// down or slow the transfer is accepted as without limits, since refusing money movements because an
// accelerator is missing would be worse than letting an abuser through for a while.
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { isTerminal } from '@it/fsm';
import type { Logger } from '@it/observability';
import type { RedisConnection } from '@it/queue';
import { throttledWarn, withDeadline } from '@it/runtime';
import type { TransferStore } from '@it/store';

/** A limit check that Redis has not answered by then is skipped: the POST must not wait on Redis. */
const LIMIT_TIMEOUT_MS = 250;
/**
 * How long an open-transfer entry the API never saw finish counts at most. Correctness does not rest on it
 * (see admitOpen): it only bounds the garbage of users who stop coming back.
 */
const OPEN_ENTRY_TTL_S = 24 * 3600;
/** Transfers normally finish within seconds; a user at the cap may try again this soon. */
const OPEN_CAP_RETRY_AFTER_S = 5;

export interface LimitSettings {
  postsPerMinute: number;
  maxOpenPerUser: number;
}

export interface Refusal {
  retryAfterSeconds: number;
  message: string;
}

export interface Limits {
  /** Counts this POST against the user's rate and checks their open transfers; a refusal is answered 429. */
  admitPost(userId: bigint): Promise<Refusal | undefined>;
  /** The user's transfer `reqId` exists and is not finished. Never rejects. */
  opened(userId: bigint, reqId: string, createdAt: Date): Promise<void>;
  /** The API read `reqId` in a terminal state: it no longer counts. Never rejects. */
  settled(userId: bigint, reqId: string): Promise<void>;
}

/**
 * The open-transfers cap is a sorted set per user (req_id scored by creation time): O(1)-ish per POST, shared
 * by replicas. The API adds a transfer it created still pending and removes it when it reads it terminal
 * (POST read-back, GET). Transfers that finish unseen are not removed by anyone, so at the cap the oldest
 * entry is checked in Cassandra (one read) and dropped if finished: stale entries heal one per POST instead
 * of locking a user out. Concurrent POSTs of one user on several replicas may overshoot the cap by the
 * requests they have in flight, and a crash between the row and the add under-counts: fine for an abuse
 * limit, which is not money.
 */
export function createLimits(deps: { redis: RedisConnection; prefix: string; store: TransferStore; logger: Logger; settings: LimitSettings }): Limits {
  const { redis, store, settings } = deps;
  const throttled = throttledWarn(deps.logger);
  const warn = (err: unknown, what: string) => throttled(err, `${what}: limit not applied (fails open)`);
  const openKey = (userId: bigint) => `${deps.prefix}:limits:open:${userId}`;
  const rate = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: `${deps.prefix}:limits:posts`,
    points: settings.postsPerMinute,
    duration: 60,
    // A closed connection fails at once rather than after the deadline.
    rejectIfRedisNotReady: true,
    // Once over, the user is refused from memory until the window ends: a flood costs Redis nothing more.
    inMemoryBlockOnConsumed: settings.postsPerMinute + 1,
  });

  async function admitRate(userId: bigint): Promise<Refusal | undefined> {
    try {
      await withDeadline(rate.consume(userId.toString()), LIMIT_TIMEOUT_MS, 'rate limit');
      return undefined;
    } catch (err) {
      // The library rejects with its result when over the limit, with an Error when Redis failed.
      if (!(err instanceof RateLimiterRes)) {
        warn(err, 'rate limit');
        return undefined;
      }
      return {
        retryAfterSeconds: Math.max(1, Math.ceil(err.msBeforeNext / 1000)),
        message: `rate limit: at most ${settings.postsPerMinute} transfers per minute`,
      };
    }
  }

  /** Whether the transfer is known to be finished (or gone); a failed read cannot tell. */
  async function finished(reqId: string): Promise<boolean | undefined> {
    try {
      const record = await store.get(reqId);
      return !record || isTerminal(record.state);
    } catch (err) {
      warn(err, 'open transfers check read');
      return undefined;
    }
  }

  async function admitOpen(userId: bigint): Promise<Refusal | undefined> {
    const key = openKey(userId);
    let count: number;
    let oldest: string | undefined;
    try {
      const replies = await withDeadline(
        redis.multi()
          .zremrangebyscore(key, '-inf', String(Date.now() - OPEN_ENTRY_TTL_S * 1000))
          .zcard(key)
          .zrange(key, '0', '0')
          .exec(),
        LIMIT_TIMEOUT_MS,
        'open transfers',
      );
      count = Number(replies?.[1]?.[1] ?? 0);
      oldest = (replies?.[2]?.[1] as string[] | undefined)?.[0];
    } catch (err) {
      warn(err, 'open transfers');
      return undefined;
    }
    if (count < settings.maxOpenPerUser || oldest === undefined) return undefined;
    const done = await finished(oldest);
    if (done === undefined) return undefined;
    if (done) {
      await settle(userId, oldest);
      if (count - 1 < settings.maxOpenPerUser) return undefined;
    }
    return {
      retryAfterSeconds: OPEN_CAP_RETRY_AFTER_S,
      message: `too many transfers in progress: at most ${settings.maxOpenPerUser}`,
    };
  }

  async function settle(userId: bigint, reqId: string): Promise<void> {
    try {
      await withDeadline(redis.zrem(openKey(userId), reqId), LIMIT_TIMEOUT_MS, 'open transfers');
    } catch (err) {
      warn(err, 'open transfers');
    }
  }

  return {
    // The rate counts every POST, including those the open cap then refuses.
    async admitPost(userId) {
      return (await admitRate(userId)) ?? (await admitOpen(userId));
    },
    async opened(userId, reqId, createdAt) {
      const key = openKey(userId);
      try {
        await withDeadline(
          redis.multi().zadd(key, 'NX', createdAt.getTime(), reqId).expire(key, OPEN_ENTRY_TTL_S).exec(),
          LIMIT_TIMEOUT_MS,
          'open transfers',
        );
      } catch (err) {
        warn(err, 'open transfers');
      }
    },
    settled: settle,
  };
}
