// The contract's endpoints on one ledger (docs/adapter-contract.md): the four operations and the query,
// under fault injection, and balances, which are never faulted (tests read them to check what happened).
// All of them need the service credential; balances take the admin token too.
import express, { type Request, type Response } from 'express';
import type { Account, Movement } from '@it/domain';
import type { Logger } from '@it/observability';
import { sleep } from '@it/runtime';
import { requireBearer } from './auth.ts';
import type { Faults } from './faults.ts';
import { parse } from './http-errors.ts';
import type { LedgerStore } from './ledger-store.ts';
import { sendAnswer, viewToWire } from './replies.ts';
import { REASONS } from './rules.ts';
import { balanceParams, movementBody, reqIdBody, reqIdSchema } from './schemas.ts';

/** What every route of one ledger works with. */
export interface LedgerContext {
  ledger: Account;
  store: LedgerStore;
  faults: Faults;
  logger: Logger;
}

type Reply = (res: Response) => void;

/**
 * Fault injection around one operation (validated already, so a malformed request is answered 400 whatever
 * the faults): latency, an error before anything is applied, and, after the operation applied, a lost
 * response (the socket is destroyed: the caller sees a reset). `apply` receives the refusal drawn, if any.
 */
function faultInjection(faults: Faults, logger: Logger) {
  return async (req: Request, res: Response, apply: (refuse: string | undefined) => Promise<Reply>): Promise<void> => {
    // For the error handler's log line: route params and body are not reliable there.
    res.locals.reqId = (req.body as { req_id?: unknown } | undefined)?.req_id ?? req.params.req_id;
    const draw = faults.draw();
    if (draw.delayMs > 0) await sleep(draw.delayMs);
    if (draw.error) {
      res.status(503).json({ status: 'error', error: 'injected error: nothing was applied' });
      return;
    }
    const reply = await apply(draw.refuse ? REASONS.injected : undefined);
    if (draw.drop) {
      logger.debug({ path: req.path }, 'fault: applied, dropping the response');
      req.socket.destroy();
      return;
    }
    reply(res);
  };
}

export function contractRoutes(opts: LedgerContext & { serviceToken: string; adminToken: string }): express.Router {
  const { ledger, store, faults, logger } = opts;
  const router = express.Router();
  const withFaults = faultInjection(faults, logger);
  const service = requireBearer([opts.serviceToken], 'service bearer token');
  const reader = requireBearer([opts.serviceToken, opts.adminToken], 'service or admin bearer token');

  for (const kind of ['withdraw', 'deposit'] as const) {
    router.post(`/v1/${kind}`, service, async (req, res) => {
      const b = parse(movementBody, req.body);
      const m: Movement = { reqId: b.req_id, userId: b.user_id, assetId: b.asset_id, amount: b.amount };
      await withFaults(req, res, async (refuse) => {
        const a = await store.movement(ledger, kind, m, refuse ? { refuse } : {});
        logger.debug({ req_id: m.reqId, op: kind, answer: a }, kind);
        return (r) => sendAnswer(r, m.reqId, a);
      });
    });
  }

  for (const action of ['commit', 'rollback'] as const) {
    router.post(`/v1/${action}`, service, async (req, res) => {
      const { req_id: reqId } = parse(reqIdBody, req.body);
      // Refusal faults are for new withdraws and deposits only: a ledger that refuses to commit or roll back
      // a freeze it holds is broken, not busy.
      await withFaults(req, res, async () => {
        const a = await (action === 'commit' ? store.commit(ledger, reqId) : store.rollback(ledger, reqId));
        logger.debug({ req_id: reqId, op: action, answer: a }, action);
        return (r) => sendAnswer(r, reqId, a);
      });
    });
  }

  router.get('/v1/ops/:req_id', service, async (req, res) => {
    const reqId = parse(reqIdSchema, req.params.req_id);
    await withFaults(req, res, async () => {
      const view = await store.query(ledger, reqId);
      return (r) => {
        if (view) r.status(200).json(viewToWire(view));
        else r.status(404).json({ req_id: reqId, status: 'not_found' });
      };
    });
  });

  router.get('/v1/balances/:user_id/:asset_id', reader, async (req, res) => {
    const p = parse(balanceParams, req.params);
    const b = await store.balance(ledger, p.user_id, p.asset_id);
    res.json({
      ledger,
      user_id: p.user_id.toString(),
      asset_id: p.asset_id,
      available: b.available.toString(),
      frozen: b.frozen.toString(),
    });
  });

  return router;
}

/** Liveness (`/healthz` too, for tools that expect that name) and readiness: Cassandra answers. */
export function healthRoutes({ ledger, store }: Pick<LedgerContext, 'ledger' | 'store'>): express.Router {
  const router = express.Router();
  router.get(['/livez', '/healthz'], (_req, res) => {
    res.json({ status: 'ok', ledger });
  });
  router.get('/readyz', async (_req, res) => {
    try {
      await store.ping();
      res.json({ status: 'ready', ledger });
    } catch {
      res.status(503).json({ status: 'unavailable', ledger });
    }
  });
  return router;
}
