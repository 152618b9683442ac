// Abuse limits of POST /transfer, checked after authentication and validation and before any Cassandra
// write: a per-user rate shared by every replica, and a per-user cap on transfers still running after their
// POST was answered (those still in their sync window are bounded by the rate). Both live in
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

/**
 * The open-transfers set's commands as scripts, one round trip each. Not MULTI: ioredis builds each pipeline
 * by copying every script defined on the connection (BullMQ's dozens), which made the two per POST a twentieth
 * of the API's CPU.
 */
const OPEN_SCRIPTS = {
  // KEYS[1] the user's set; ARGV[1] oldest score kept. Returns {count, oldest req_id (absent when empty)}.
  itOpenCheck: {
    numberOfKeys: 1,
    lua: `redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return {redis.call('ZCARD', KEYS[1]), redis.call('ZRANGE', KEYS[1], 0, 0)[1]}`,
  },
  // KEYS[1] the user's set; ARGV: score, req_id, ttl seconds.
  itOpenAdd: {
    numberOfKeys: 1,
    lua: `redis.call('ZADD', KEYS[1], 'NX', ARGV[1], ARGV[2])
return redis.call('EXPIRE', KEYS[1], ARGV[3])`,
  },
} as const;

interface OpenCommands {
  itOpenCheck(key: string, minScore: string): Promise<[number, string?]>;
  itOpenAdd(key: string, score: string, reqId: string, ttlSeconds: string): Promise<number>;
}

function openCommands(redis: RedisConnection): OpenCommands {
  const r = redis as RedisConnection & Partial<OpenCommands>;
  for (const [name, script] of Object.entries(OPEN_SCRIPTS)) {
    if (!(name in r)) redis.defineCommand(name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
  return r as RedisConnection & OpenCommands;
}

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
  /** The user's transfer `reqId` exists and was answered not finished. Never rejects. */
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
  const open = openCommands(redis);
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
      const reply = await withDeadline(open.itOpenCheck(key, String(Date.now() - OPEN_ENTRY_TTL_S * 1000)), LIMIT_TIMEOUT_MS, 'open transfers');
      count = Number(reply[0]);
      oldest = reply[1];
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
      try {
        await withDeadline(
          open.itOpenAdd(openKey(userId), String(createdAt.getTime()), reqId, String(OPEN_ENTRY_TTL_S)),
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
