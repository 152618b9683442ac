// A ledger's admin endpoints, behind the bearer token: credit an account, read or replace the faults, read
// the statement counters. Never faulted: tests and operators use them to set up and check.
import { randomUUID } from 'node:crypto';
import express from 'express';
import { requireBearer } from './auth.ts';
import { faultSettingsBody, faultsToWire } from './faults.ts';
import { parse } from './http-errors.ts';
import { sendAnswer } from './replies.ts';
import type { LedgerContext } from './routes.ts';
import { creditBody } from './schemas.ts';

export interface AdminOptions extends LedgerContext {
  adminToken: string;
  /** Whether `PUT /v1/admin/faults` may change the faults (NODE_ENV development or test only). */
  faultInjection: boolean;
}

export function adminRoutes(opts: AdminOptions): express.Router {
  const { ledger, store, faults, logger } = opts;
  const router = express.Router();
  const admin = requireBearer([opts.adminToken], 'admin bearer token');

  router.post('/v1/admin/credit', admin, async (req, res) => {
    const b = parse(creditBody, req.body);
    const reqId = b.req_id ?? randomUUID();
    const a = await store.movement(ledger, 'credit', { reqId, userId: b.user_id, assetId: b.asset_id, amount: b.amount });
    logger.info(
      { req_id: reqId, user_id: b.user_id.toString(), asset_id: b.asset_id, amount: b.amount.toString(), answer: a },
      'admin credit',
    );
    sendAnswer(res, reqId, a);
  });

  router.get('/v1/admin/faults', admin, (_req, res) => {
    res.json({ ledger, ...faultsToWire(faults.get()) });
  });

  router.put('/v1/admin/faults', admin, (req, res) => {
    if (!opts.faultInjection) {
      res.status(403).json({ status: 'forbidden', error: 'fault injection is only available with NODE_ENV development or test' });
      return;
    }
    const b = parse(faultSettingsBody, req.body);
    faults.set({
      latencyMs: b.latency_ms,
      latencyJitterMs: b.latency_jitter_ms,
      errorRate: b.error_rate,
      dropResponseRate: b.drop_response_rate,
      refuseRate: b.refuse_rate,
      seed: b.seed ?? faults.get().seed,
    });
    logger.warn({ faults: faults.get() }, 'fault injection changed');
    res.json({ ledger, ...faultsToWire(faults.get()) });
  });

  router.get('/v1/admin/stats', admin, (_req, res) => {
    res.json({ ...store.counters });
  });

  return router;
}
