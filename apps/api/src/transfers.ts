// The public transfer endpoints (SPEC §4) as HTTP: parse, authorize, call the use case or the store, and map
// the answer to a status and a body. What creating a transfer means lives in create-transfer.ts.
import express from 'express';
import { isTerminal } from '@it/fsm';
import { jsonBody } from '@it/runtime';
import type { TransferStore } from '@it/store';
import { callerOf, requireCaller, type Authenticator } from './auth.ts';
import type { createTransferUseCase } from './create-transfer.ts';
import type { Limits } from './limits.ts';
import { encodeCursor, parseIdempotencyKey, parseListQuery, parseReqId, parseTransferBody, prefersAsync } from './validation.ts';
import { sendGetError, sendPostError, sendResult, transferView } from './wire.ts';

export interface TransferRoutesDeps {
  store: TransferStore;
  createTransfer: ReturnType<typeof createTransferUseCase>;
  auth: Authenticator;
  limits: Pick<Limits, 'admitPost' | 'settled'>;
  bodyLimit: string;
}

export function transfersRouter(deps: TransferRoutesDeps): express.Router {
  const { store, auth } = deps;
  const router = express.Router();
  // Parsed only after authentication: an anonymous caller's body is never read.
  const json = jsonBody(deps.bodyLimit);

  router.post('/api/v1/transfer', requireCaller(auth, 'create'), ...json, async (req, res) => {
    const startedAt = Date.now();
    const parsed = parseTransferBody(req.body);
    if (!parsed.ok) return sendPostError(res, 400, parsed.message);
    const { userId } = callerOf(res);
    if (userId !== undefined && userId !== parsed.value.userId) {
      return sendPostError(res, 403, 'user_id does not match the authenticated user');
    }
    const key = parseIdempotencyKey(req.get('idempotency-key'));
    if (!key.ok) return sendPostError(res, 400, key.message);
    // Once the user is known and before anything is written; idempotent replays count like any POST.
    const refusal = await deps.limits.admitPost(parsed.value.userId);
    if (refusal) {
      res.set('retry-after', String(refusal.retryAfterSeconds));
      return sendPostError(res, 429, refusal.message);
    }
    const respondAsync = prefersAsync(req.get('prefer'));
    if (respondAsync) res.set('preference-applied', 'respond-async');
    const outcome = await deps.createTransfer({
      transfer: parsed.value,
      idempotencyKey: key.value,
      startedAt,
      respondAsync,
      // For the error handler's log line, should the claim or the create fail.
      onReqId: (reqId) => (res.locals.reqId = reqId),
    });
    if (outcome.kind === 'key_conflict') {
      return sendPostError(res, 409, 'Idempotency-Key was already used with a different request');
    }
    sendResult(res, outcome.result);
  });

  router.get('/api/v1/transfer/:req_id', requireCaller(auth, 'read'), async (req, res) => {
    const id = parseReqId(req.params.req_id);
    if (id === undefined) return sendGetError(res, 400, 'Invalid req_id format');
    res.locals.reqId = id;
    const record = await store.get(id);
    // Another user's transfer is indistinguishable from a missing one. No user at all is AUTH_MODE=none only.
    const { userId } = callerOf(res);
    if (!record || (userId !== undefined && record.userId !== userId)) return sendGetError(res, 404, 'Transfer not found');
    // A transfer that finished after its POST's window: it stops counting against the user's open cap.
    if (isTerminal(record.state)) void deps.limits.settled(record.userId, record.reqId);
    res.json(transferView(record));
  });

  router.get('/api/v1/transfers', requireCaller(auth, 'list'), async (req, res) => {
    const q = parseListQuery(req.query);
    if (!q.ok) return sendGetError(res, 400, q.message);
    const userId = callerOf(res).userId as bigint;
    // A forged or stale cursor throws InvalidPagingStateError, answered 400 by the error handler.
    const page = await store.listByUser(userId, q.value.limit, q.value.cursor);
    res.json({
      // The partition is the caller's own; the filter is a second lock on the same door.
      items: page.items.filter((r) => r.userId === userId).map(transferView),
      next_cursor: encodeCursor(page.nextCursor),
    });
  });

  return router;
}
