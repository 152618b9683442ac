// Creating a transfer, with no HTTP in it: claim the Idempotency-Key, write the durable `init` row, enqueue
// the first step, wait briefly for the outcome, and answer with it (a committed job's own word, else the row
// read back from Cassandra, the source of truth).
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { UnknownOutcomeError } from '@it/cassandra';
import type { ApiMetrics, Logger, SyncWaitResult } from '@it/observability';
import { enqueueTransfer, jobIdFor, type TransferJobData } from '@it/queue';
import { errorMessage, withDeadline } from '@it/runtime';
import { createdSnapshot, type TransferRecord, type TransferStore } from '@it/store';
import type { Limits } from './limits.ts';
import type { OutcomeWaiter } from './outcome-waiter.ts';
import { requestHash, type TransferRequest } from './validation.ts';
import { pendingResult, resultOf, type TransferResult } from './wire.ts';

/**
 * The sweeper only picks a new transfer up if no worker has moved it by then: a POST that died between the row
 * and the enqueue (and whose client does not retry) waits this long, as a step's lease (STEP_LEASE_MS) does.
 */
export const SWEEPER_GRACE_MS = 10_000;
/** An add that has not reached Redis by then is left to the sweeper; the answer must not wait on Redis. */
const ENQUEUE_TIMEOUT_MS = 1_000;

export interface CreateTransferDeps {
  store: TransferStore;
  queue: Queue<TransferJobData>;
  /** Whether the producer connection is usable right now (BullMQ would otherwise wait for it). */
  redisReady: () => boolean;
  waiter: OutcomeWaiter;
  metrics: ApiMetrics;
  logger: Logger;
  syncWaitMs: number;
  /** Requests this process lets wait in the sync window at once (SYNC_WAIT_MAX_WAITING). */
  syncWaitMaxWaiting: number;
  idempotencyTtlSeconds: number;
  /** Told which transfers are open and which the API saw finish: the per-user open-transfers cap. */
  openTransfers: Pick<Limits, 'opened' | 'settled'>;
}

export interface CreateTransferInput {
  transfer: TransferRequest;
  idempotencyKey: string | undefined;
  /** When the request arrived: the sync wait ends SYNC_WAIT_MS after it. */
  startedAt: number;
  /** `Prefer: respond-async`: answer pending at once, no sync wait (the caller follows the events stream). */
  respondAsync?: boolean;
  /** Told the transfer's req_id as soon as it is known, so a failure later can be logged with it. */
  onReqId?: (reqId: string) => void;
}

export type CreateTransferOutcome =
  | { kind: 'result'; result: TransferResult }
  /** The Idempotency-Key was used before with a different request. */
  | { kind: 'key_conflict' };

export function createTransferUseCase(deps: CreateTransferDeps) {
  const { store, queue, waiter, metrics, logger, openTransfers } = deps;

  /** The key's transfer: ours (a fresh claim) or the earlier request's, which this one replays. */
  async function claimKey(input: CreateTransferInput, reqId: string, createdAt: Date) {
    if (input.idempotencyKey === undefined) return { reqId, createdAt, replay: false } as const;
    const hash = requestHash(input.transfer);
    const claim = await store.claimIdempotencyKey({
      userId: input.transfer.userId, key: input.idempotencyKey, reqId, requestHash: hash, createdAt,
      ttlSeconds: deps.idempotencyTtlSeconds,
    });
    if (claim.claimed) return { reqId, createdAt, replay: false } as const;
    if (claim.requestHash !== hash) {
      logger.info({ req_id: claim.reqId }, 'idempotency key reused with a different request');
      return 'conflict' as const;
    }
    return { reqId: claim.reqId, createdAt: claim.createdAt, replay: true } as const;
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
      reqId, ...t, nextAttemptAt: new Date(Date.now() + SWEEPER_GRACE_MS), createdAt,
    });
    if (created) {
      metrics.transfersCreated.inc({ source: t.source, target: t.target });
      // At debug: the row records its creation (time, API host and pid), and the worker logs each transfer once
      // at info when it finishes; a line per transfer here was a twentieth of the API's CPU.
      log.debug({ user_id: t.userId.toString(), source: t.source, target: t.target, asset_id: t.assetId, amount: t.amount.toString() }, 'transfer created');
    }
    return record;
  }

  /** Enqueues the transfer's first step, with the row as created so the worker need not read it. */
  async function enqueue(record: TransferRecord, log: Logger): Promise<boolean> {
    if (!deps.redisReady()) {
      log.warn('redis not connected: transfer left to the sweeper');
      return false;
    }
    try {
      await withDeadline(enqueueTransfer(queue, record.reqId, createdSnapshot(record)), ENQUEUE_TIMEOUT_MS, 'enqueue');
      return true;
    } catch (err) {
      // The init row is durable; the sweeper enqueues it once its next attempt is due.
      log.warn({ err: errorMessage(err) }, 'enqueue failed: transfer left to the sweeper');
      return false;
    }
  }

  /** Enqueues, waits until the job ends or the window closes, and answers with the outcome. */
  async function awaitOutcome(record: TransferRecord, startedAt: number, respondAsync: boolean, log: Logger): Promise<TransferResult> {
    const ended = (how: SyncWaitResult, result: TransferResult) => {
      metrics.syncWait.inc({ result: how });
      return result;
    };
    if (respondAsync) {
      await enqueue(record, log);
      return ended('skipped', pendingResult(record.reqId));
    }
    if (waiter.size >= deps.syncWaitMaxWaiting) {
      // The window is full: answer 202 pending at once rather than refuse with a 429 before writing. The
      // request is valid and accepting it durably is the safer answer for money; what the cap bounds is
      // waiters (a held connection and memory each), not transfers.
      log.debug('sync wait full: answering pending without waiting');
      await enqueue(record, log);
      return ended('skipped', pendingResult(record.reqId));
    }
    const watch = waiter.watch(jobIdFor(record.reqId));
    let waited = false;
    let returned: unknown;
    try {
      if (await enqueue(record, log)) {
        waited = true;
        const end = await watch.wait(startedAt + deps.syncWaitMs - Date.now());
        if (end.kind === 'finished') returned = end.returned;
      }
    } finally {
      watch.cancel();
    }
    const result = await outcomeOf(record.reqId, returned, log);
    // `timeout`: waited and still answers 202 pending (the window closed, or the job ended without a terminal row).
    return ended(result.status !== 'pending' ? 'terminal' : waited ? 'timeout' : 'skipped', result);
  }

  /**
   * The transfer's answer once the wait ended. A step job that returns `committed` found the transfer there
   * (its own applied compare-and-set, or the row as read): final, and a committed transfer's message is null,
   * so that is the answer without reading the row again. Anything else is read back from Cassandra.
   */
  async function outcomeOf(reqId: string, returned: unknown, log: Logger): Promise<TransferResult> {
    if (returned === 'committed') return { req_id: reqId, status: 'committed', message: null };
    try {
      const latest = await store.get(reqId);
      return latest ? resultOf(latest) : pendingResult(reqId);
    } catch (err) {
      log.warn({ err }, 'could not read the outcome back: answering pending');
      return pendingResult(reqId);
    }
  }

  /**
   * A write whose outcome is unknown may have recorded the transfer (or the key's claim of `reqId`), and the
   * sweeper would then move the money: the client gets `pending` with the req_id, never a "failed, retry"
   * that would create a second transfer. Only an error after which nothing was written reaches the 503.
   */
  async function unlessUnknown<T>(reqId: string, write: () => Promise<T>): Promise<T | { kind: 'result'; result: TransferResult }> {
    try {
      return await write();
    } catch (err) {
      if (!(err instanceof UnknownOutcomeError)) throw err;
      logger.warn({ req_id: reqId, err }, 'outcome of the create is unknown: answering pending with its req_id');
      return { kind: 'result', result: pendingResult(reqId) };
    }
  }

  return async function createTransfer(input: CreateTransferInput): Promise<CreateTransferOutcome> {
    const freshId = randomUUID();
    input.onReqId?.(freshId);
    const claimed = await unlessUnknown(freshId, () => claimKey(input, freshId, new Date()));
    if (claimed === 'conflict') return { kind: 'key_conflict' };
    if ('result' in claimed) return claimed;
    const { reqId, createdAt, replay } = claimed;
    input.onReqId?.(reqId);
    const log = logger.child({ req_id: reqId });

    const record = await unlessUnknown(reqId, () => ensureRecord(input.transfer, reqId, createdAt, replay, log));
    if ('result' in record) return record;
    if (replay) log.info({ state: record.state }, 'idempotent replay');
    const { userId } = input.transfer;
    const now = resultOf(record);
    if (now.status !== 'pending') {
      void openTransfers.settled(userId, reqId);
      return { kind: 'result', result: now };
    }
    // From here on the transfer exists: whatever fails, the client gets its req_id (never a 5xx that would
    // invite a retry creating a second transfer).
    const result = await awaitOutcome(record, input.startedAt, input.respondAsync ?? false, log);
    // A transfer counts as open once it outlives its answer: one finished within the window (most) costs the
    // cap nothing, and those still in their window are bounded by the rate limit. Sent before the answer, on
    // the same Redis connection as any later `settled`, so the two cannot arrive swapped. A replay's transfer
    // may have been counted by the request that created it.
    if (result.status === 'pending') void openTransfers.opened(userId, reqId, record.createdAt);
    else if (replay) void openTransfers.settled(userId, reqId);
    return { kind: 'result', result };
  };
}
