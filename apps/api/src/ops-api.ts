// The ops API (`/ops/v1`, on the ops listener, behind the operations credentials): the active transfers from
// the active index (stuck ones on demand), one transfer with its full history, retry-now, and reconciliation
// against the ledgers. Every call is logged with the operator. Nothing here changes a saga's state by hand.
import type { Queue } from 'bullmq';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { CorruptRowError, StoreUnavailableError } from '@it/cassandra';
import { isUuid } from '@it/domain';
import { STATES, TERMINAL_STATES } from '@it/fsm';
import type { Logger } from '@it/observability';
import { enqueueTransfer, jobIdFor, type TransferJobData } from '@it/queue';
import { reconcile, runOf, type LedgerReaders, type Mismatch } from '@it/reconciliation';
import { errorMessage } from '@it/runtime';
import { historyProblems, InvalidCursorError, type HistoryEntry, type TransferRecord, type TransferStore } from '@it/store';

export const OPS_API_PATH = '/ops/v1';

export interface OpsApiDeps {
  store: Pick<TransferStore, 'listActive' | 'getWithHistory' | 'requestRetry' | 'forEachCreated' | 'recordReconciliation' | 'lastReconciliation'>;
  queue: Queue<TransferJobData>;
  logger: Logger;
  /** The authenticated operator (OPS_USER): every call's log line names them. */
  operator: string;
  /** Active longer than this: stuck. */
  stuckAfterMs: number;
  /** Next attempt passed by more than this with nobody moving the transfer: overdue, also stuck. */
  overdueAfterMs: number;
  /** The ledgers' query, for reconciliation; undefined when the API is not configured to reach them. */
  ledgers: LedgerReaders | undefined;
  clock?: () => Date;
}

const ACTIVE_STATES = STATES.filter((s) => !(TERMINAL_STATES as readonly string[]).includes(s)) as [string, ...string[]];

const listQuery = z.object({
  state: z.enum(ACTIVE_STATES, { error: 'state must be an active state' }).optional(),
  stuck: z.enum(['true', 'false'], { error: 'stuck must be true or false' }).optional(),
  limit: z.coerce.number({ error: 'limit must be an integer from 1 to 500' }).int().min(1).max(500).default(100),
  cursor: z.string().max(2_000).optional(),
});

const MAX_REPORTED_MISMATCHES = 10_000;
const reconcileBody = z.object({
  since: z.iso.datetime({ offset: true, error: 'since must be an ISO 8601 time' }).transform((v) => new Date(v)),
  until: z.iso.datetime({ offset: true, error: 'until must be an ISO 8601 time' }).transform((v) => new Date(v)).optional(),
  max_mismatches: z.number().int().min(0).max(MAX_REPORTED_MISMATCHES).default(1_000),
});

function badRequest(res: Response, issues: z.core.$ZodIssue[]): void {
  const first = issues[0];
  res.status(400).json({ error: first ? `${first.path.join('.') || 'body'}: ${first.message}` : 'invalid request' });
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** Why a transfer counts as stuck right now (empty when it does not). */
function stuckReasons(r: TransferRecord, now: number, deps: OpsApiDeps): string[] {
  const reasons: string[] = [];
  if (now - r.createdAt.getTime() > deps.stuckAfterMs) reasons.push('old');
  if (r.nextAttemptAt && now - r.nextAttemptAt.getTime() > deps.overdueAfterMs) reasons.push('overdue');
  return reasons;
}

/** One active transfer as operators see it: how old, where, how often retried, why, and when next. */
function summaryOf(r: TransferRecord, now: number, deps: OpsApiDeps) {
  const overdueMs = r.nextAttemptAt ? now - r.nextAttemptAt.getTime() : 0;
  return {
    req_id: r.reqId,
    state: r.state,
    source: r.source,
    target: r.target,
    user_id: r.userId.toString(),
    asset_id: r.assetId,
    amount: r.amount.toString(),
    created_at: iso(r.createdAt),
    updated_at: iso(r.updatedAt),
    age_seconds: Math.max(0, Math.round((now - r.createdAt.getTime()) / 1000)),
    attempt: r.attempt,
    last_reason: r.retryRun?.lastAnswer ?? r.error,
    next_attempt_at: iso(r.nextAttemptAt),
    overdue_seconds: overdueMs > 0 ? Math.round(overdueMs / 1000) : 0,
    stuck: stuckReasons(r, now, deps),
  };
}

function entryToWire(e: HistoryEntry) {
  return {
    version: e.version,
    at: iso(e.at),
    from: e.from,
    to: e.to,
    event: e.event,
    call: e.call,
    answer: e.answer,
    attempt: e.attempt,
    actor: e.actor,
    retries: e.retries,
    first_retry_at: iso(e.firstRetryAt),
    last_retry_at: iso(e.lastRetryAt),
    last_retry: e.lastRetry,
  };
}

function mismatchToWire(m: Mismatch) {
  return { req_id: m.reqId, state: m.state, kind: m.kind, ledger: m.ledger, detail: m.detail };
}

/** Logs every call when it is answered: the operator, the call and what came of it. */
function auditCalls(operator: string, logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const t0 = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Math.round(Number(process.hrtime.bigint() - t0) / 1e6);
      logger.info({ operator, method: req.method, path: req.originalUrl, status: res.statusCode, ms }, 'ops api call');
    });
    next();
  };
}

/** The ops API at OPS_API_PATH, behind `guard` (the operations credentials Bull Board uses). */
export function opsApiRouter(deps: OpsApiDeps, guard: express.RequestHandler[]): express.Router {
  const outer = express.Router();
  outer.use(OPS_API_PATH, ...guard, routes(deps));
  return outer;
}

function routes(deps: OpsApiDeps): express.Router {
  const clock = deps.clock ?? (() => new Date());
  const { logger, operator } = deps;
  const router = express.Router();
  router.use(auditCalls(operator, logger));
  router.use(express.json({ limit: '4kb' }));

  router.get('/transfers', async (req, res) => {
    const q = listQuery.safeParse(req.query);
    if (!q.success) return badRequest(res, q.error.issues);
    const { state, stuck, limit, cursor } = q.data;
    const now = clock().getTime();
    const page = await deps.store.listActive({
      limit,
      ...(cursor !== undefined ? { cursor } : {}),
      filter: (r) => (state === undefined || r.state === state) && (stuck !== 'true' || stuckReasons(r, now, deps).length > 0),
    });
    res.json({
      items: page.items.map((r) => summaryOf(r, now, deps)),
      next_cursor: page.nextCursor,
      scanned: page.scanned,
      corrupt: page.corrupt,
    });
  });

  router.get('/transfers/:req_id', async (req, res) => {
    const reqId = req.params.req_id;
    if (!isUuid(reqId)) {
      res.status(400).json({ error: 'req_id must be a UUID' });
      return;
    }
    const found = await deps.store.getWithHistory(reqId);
    if (!found) {
      res.status(404).json({ error: 'Transfer not found' });
      return;
    }
    const { record: r, history } = found;
    const now = clock().getTime();
    res.json({
      ...summaryOf(r, now, deps),
      version: r.version,
      error: r.error,
      retrying: r.retryRun && {
        times: r.retryRun.times,
        first_at: iso(r.retryRun.firstAt),
        last_at: iso(r.retryRun.lastAt),
        last_answer: r.retryRun.lastAnswer,
        last_actor: r.retryRun.lastActor,
      },
      operator_retry: r.operatorRetry && { times: r.operatorRetry.times, last_at: iso(r.operatorRetry.lastAt), operator: r.operatorRetry.operator },
      history: history.map(entryToWire),
      // Empty when the history and the row agree (they are written by one statement).
      history_problems: historyProblems(r, history),
    });
  });

  router.post('/transfers/:req_id/retry', async (req, res) => {
    const reqId = req.params.req_id;
    if (!isUuid(reqId)) {
      res.status(400).json({ error: 'req_id must be a UUID' });
      return;
    }
    const now = clock();
    const due = await deps.store.requestRetry(reqId, operator, now);
    if (due.kind === 'missing') {
      res.status(404).json({ error: 'Transfer not found' });
      return;
    }
    if (due.kind === 'terminal') {
      res.status(409).json({ req_id: reqId, state: due.record.state, action: 'none', message: 'the transfer is finished: nothing to retry' });
      return;
    }
    // Cassandra says it is due now (the sweeper would enqueue it); the queue is told at once.
    const jobId = jobIdFor(reqId);
    const jobState = await deps.queue.getJobState(jobId);
    let action: string;
    if (jobState === 'delayed') {
      await (await deps.queue.getJob(jobId))?.promote();
      action = 'promoted';
    } else if (jobState === 'failed') {
      await (await deps.queue.getJob(jobId))?.retry('failed');
      action = 'retried_failed_job';
    } else if (jobState === 'unknown' || jobState === 'completed') {
      await enqueueTransfer(deps.queue, reqId);
      action = 'enqueued';
    } else {
      action = jobState === 'active' ? 'already_running' : 'already_queued';
    }
    logger.info({ operator, req_id: reqId, state: due.record.state, job_state: jobState, action }, 'operator retry');
    res.status(202).json({
      req_id: reqId,
      state: due.record.state,
      action,
      job_state: jobState,
      next_attempt_at: iso(due.record.nextAttemptAt),
      operator_retries: due.record.operatorRetry?.times ?? 1,
      message: 'due now; the saga continues from its state (nothing was changed by hand)',
    });
  });

  let running = false;
  router.post('/reconciliations', async (req, res) => {
    if (!deps.ledgers) {
      res.status(503).json({ error: 'reconciliation needs FUNDING_URL and TRADING_URL (and their tokens) on the API' });
      return;
    }
    const b = reconcileBody.safeParse(req.body ?? {});
    if (!b.success) return badRequest(res, b.error.issues);
    const until = b.data.until ?? clock();
    if (b.data.since >= until) {
      res.status(400).json({ error: 'since must be before until' });
      return;
    }
    if (running) {
      res.status(409).json({ error: 'a reconciliation is already running in this process' });
      return;
    }
    running = true;
    try {
      const mismatches: ReturnType<typeof mismatchToWire>[] = [];
      const summary = await reconcile({
        since: b.data.since,
        until,
        store: deps.store,
        ledgers: deps.ledgers,
        onMismatch: (m) => {
          logger.warn({ operator, req_id: m.reqId, state: m.state, kind: m.kind, ledger: m.ledger, detail: m.detail }, 'reconciliation mismatch');
          if (mismatches.length < b.data.max_mismatches) mismatches.push(mismatchToWire(m));
        },
      });
      await deps.store.recordReconciliation(runOf(summary, `ops-api ${operator}`));
      logger.info({ operator, run_id: summary.runId, checked: summary.checked, mismatches: summary.mismatches, unverified: summary.unverified }, 'reconciliation');
      res.status(200).json({
        run_id: summary.runId,
        since: iso(summary.since),
        until: iso(summary.until),
        started_at: iso(summary.startedAt),
        finished_at: iso(summary.finishedAt),
        checked: summary.checked,
        active: summary.active,
        missing_rows: summary.missingRows,
        unverified: summary.unverified,
        mismatch_count: summary.mismatches,
        by_kind: summary.byKind,
        clean: summary.mismatches === 0 && summary.unverified === 0,
        mismatches,
        truncated: summary.mismatches > mismatches.length,
      });
    } finally {
      running = false;
    }
  });

  router.get('/reconciliations/latest', async (_req, res) => {
    const last = await deps.store.lastReconciliation();
    if (!last) {
      res.status(404).json({ error: 'no reconciliation recorded in the last 90 days' });
      return;
    }
    res.json({
      run_id: last.runId,
      finished_at: iso(last.finishedAt),
      since: iso(last.since),
      until: iso(last.until),
      checked: last.checked,
      active: last.active,
      mismatch_count: last.mismatches,
      unverified: last.unverified,
      actor: last.actor,
    });
  });

  router.use((_req, res) => {
    res.status(404).json({ error: 'Not found' });
  });
  // The ops API's own error shape: JSON, the detail for the log, a 503 when storage is down.
  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof InvalidCursorError) {
      res.status(400).json({ error: 'cursor: not a value this API returned' });
      return;
    }
    if ((err as { type?: unknown }).type === 'entity.parse.failed') {
      res.status(400).json({ error: 'body: not JSON' });
      return;
    }
    logger.error({ operator, method: req.method, path: req.originalUrl, err: errorMessage(err) }, 'ops api call failed');
    if (err instanceof StoreUnavailableError) {
      res.status(503).set('retry-after', '1').json({ error: 'storage unavailable, retry later' });
      return;
    }
    if (err instanceof CorruptRowError) {
      res.status(500).json({ error: `row unreadable by this version: ${err.message}` });
      return;
    }
    res.status(500).json({ error: 'internal error' });
  });
  return router;
}
