// The public transfer endpoints (SPEC §4): create (validate, idempotency claim, durable `init` row, enqueue,
// bounded wait for the outcome), read one, list one's own.
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Queue } from 'bullmq';
import type { ApiConfig } from '@it/config';
import type { Logger, Metrics } from '@it/observability';
import { enqueueTransfer, jobIdFor, type TransferJobData } from '@it/queue';
import { StoreUnavailableError, types, type TransferRecord, type TransferStore } from '@it/store';
import type { Authenticator } from './auth.ts';
import type { OutcomeWaiter } from './outcome-waiter.ts';
import {
  encodeCursor, isUuid, parseIdempotencyKey, parseListQuery, parseTransferBody, parseUserId, requestHash,
  type TransferRequest,
} from './validation.ts';
import { pending, resultOf, sendGetError, sendPostError, sendResult, transferView } from './wire.ts';

/** The sweeper only picks a new transfer up if no worker has moved it by then. */
const SWEEPER_GRACE_MS = 30_000;
/** An add that has not reached Redis by then is left to the sweeper; the answer must not wait on Redis. */
const ENQUEUE_TIMEOUT_MS = 1_000;

export interface TransferDeps {
  config: ApiConfig;
  store: TransferStore;
  queue: Queue<TransferJobData>;
  /** Whether the producer connection is usable right now (BullMQ would otherwise wait for it). */
  redisReady: () => boolean;
  waiter: OutcomeWaiter;
  auth: Authenticator;
  metrics: Metrics;
  logger: Logger;
}

export interface Caller {
  /** Undefined only with AUTH_MODE=none on POST: the body names the user. */
  userId: bigint | undefined;
}

function caller(res: Response): Caller {
  return res.locals.caller as Caller;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  // The original promise may still settle later; its rejection must not go unhandled.
  p.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export function transfersRouter(deps: TransferDeps): express.Router {
  const { config, store, queue, waiter, auth, metrics, logger } = deps;
  const router = express.Router();
  // Parsed only after authentication: an anonymous caller's body is never read.
  const json = express.json({ limit: config.BODY_LIMIT, strict: true });

  function authenticate(shape: 'post' | 'get') {
    return async (req: Request, res: Response, next: NextFunction) => {
      const outcome = await auth.authenticate(req);
      if (!outcome.ok) {
        if (outcome.status === 401 && auth.mode === 'jwt') res.set('www-authenticate', 'Bearer');
        if (shape === 'post') sendPostError(res, outcome.status, outcome.message);
        else sendGetError(res, outcome.status, outcome.message);
        return;
      }
      let userId = outcome.userId;
      if (userId === undefined && shape === 'get') {
        // AUTH_MODE=none (development): reads say whose transfers they want.
        userId = parseUserId(req.query.user_id);
        if (userId === undefined) {
          sendGetError(res, 401, 'user_id query parameter (a positive integer) is required when AUTH_MODE=none');
          return;
        }
      }
      res.locals.caller = { userId } satisfies Caller;
      next();
    };
  }

  async function enqueue(reqId: string, log: Logger): Promise<boolean> {
    if (!deps.redisReady()) {
      log.warn('redis not connected: transfer left to the sweeper');
      return false;
    }
    try {
      await withTimeout(enqueueTransfer(queue, reqId), ENQUEUE_TIMEOUT_MS, 'enqueue');
      return true;
    } catch (err) {
      // The init row is durable; the sweeper enqueues it once its next attempt is due.
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'enqueue failed: transfer left to the sweeper');
      return false;
    }
  }

  /** The transfer row: the existing one on an idempotent replay, else a new `init` row (counted once). */
  async function ensureRecord(t: TransferRequest, reqId: string, createdAt: Date, replay: boolean, log: Logger) {
    if (replay) {
      const existing = await store.get(reqId);
      if (existing) return existing;
      // The first request claimed the key but died before writing its row: write it now, same id and time.
      log.warn('idempotent replay of a transfer whose row was never written: creating it');
    }
    const { created, record } = await store.create({
      reqId,
      userId: t.userId,
      assetId: t.assetId,
      amount: t.amount,
      source: t.from,
      target: t.to,
      nextAttemptAt: new Date(Date.now() + SWEEPER_GRACE_MS),
      createdAt,
    });
    if (created) {
      metrics.transfersCreated.inc({ source: t.from, target: t.to });
      log.info({ user_id: t.userId.toString(), source: t.from, target: t.to, asset_id: t.assetId, amount: t.amount.toString() }, 'transfer created');
    }
    return record;
  }

  router.post('/api/v1/transfer', authenticate('post'), json, async (req, res) => {
    const startedAt = Date.now();
    const parsed = parseTransferBody(req.body);
    if (!parsed.ok) return sendPostError(res, 400, parsed.message);
    const t = parsed.value;
    const { userId } = caller(res);
    if (userId !== undefined && userId !== t.userId) {
      return sendPostError(res, 403, 'user_id does not match the authenticated user');
    }
    const key = parseIdempotencyKey(req.get('idempotency-key'));
    if (!key.ok) return sendPostError(res, 400, key.message);

    let reqId: string = randomUUID();
    let createdAt = new Date();
    let replay = false;
    // For the error handler's log line, should the claim or the create fail.
    res.locals.reqId = reqId;
    if (key.value !== undefined) {
      const hash = requestHash(t);
      const claim = await store.claimIdempotencyKey({
        userId: t.userId, key: key.value, reqId, requestHash: hash, createdAt, ttlSeconds: config.IDEMPOTENCY_TTL_SECONDS,
      });
      if (!claim.claimed) {
        if (claim.requestHash !== hash) {
          logger.info({ req_id: claim.reqId }, 'idempotency key reused with a different request');
          return sendPostError(res, 409, 'Idempotency-Key was already used with a different request');
        }
        ({ reqId, createdAt } = claim);
        replay = true;
      }
    }
    res.locals.reqId = reqId;
    const log = logger.child({ req_id: reqId });

    const record = await ensureRecord(t, reqId, createdAt, replay, log);
    if (replay) log.info({ state: record.state }, 'idempotent replay');
    if (resultOf(record).status !== 'pending') return sendResult(res, resultOf(record));

    // From here on the transfer exists: whatever fails, the client gets its req_id (never a 5xx that would
    // invite a retry creating a second transfer).
    const watch = waiter.watch(jobIdFor(reqId));
    try {
      const enqueued = await enqueue(reqId, log);
      if (enqueued) await watch.wait(startedAt + config.SYNC_WAIT_MS - Date.now());
    } finally {
      watch.cancel();
    }
    try {
      const latest = await store.get(reqId);
      sendResult(res, latest ? resultOf(latest) : pending(reqId));
    } catch (err) {
      log.warn({ err }, 'could not read the outcome back: answering pending');
      sendResult(res, pending(reqId));
    }
  });

  router.get('/api/v1/transfer/:req_id', authenticate('get'), async (req, res) => {
    const id = req.params.req_id;
    if (typeof id !== 'string' || !isUuid(id)) return sendGetError(res, 400, 'Invalid req_id format');
    res.locals.reqId = id.toLowerCase();
    const record = await store.get(id.toLowerCase());
    // Another user's transfer is indistinguishable from a missing one.
    if (!record || record.userId !== caller(res).userId) return sendGetError(res, 404, 'Transfer not found');
    res.json(transferView(record));
  });

  router.get('/api/v1/transfers', authenticate('get'), async (req, res) => {
    const q = parseListQuery(req.query);
    if (!q.ok) return sendGetError(res, 400, q.message);
    const userId = caller(res).userId as bigint;
    let page: { items: TransferRecord[]; nextCursor: string | null };
    try {
      page = await store.listByUser(userId, q.value.limit, q.value.cursor);
    } catch (err) {
      // A forged or stale paging state is refused by Cassandra as a protocol error: the client's fault.
      const code = (err instanceof StoreUnavailableError ? (err.cause as { code?: unknown } | undefined) : undefined)?.code;
      if (q.value.cursor !== undefined && code === types.responseErrorCodes.protocolError) {
        return sendGetError(res, 400, 'cursor is not a value this API returned');
      }
      throw err;
    }
    res.json({
      // The partition is the caller's own; the filter is a second lock on the same door.
      items: page.items.filter((r) => r.userId === userId).map(transferView),
      next_cursor: encodeCursor(page.nextCursor),
    });
  });

  return router;
}
