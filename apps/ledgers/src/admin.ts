// A ledger's admin endpoints, behind the bearer token: credit an account, read or replace the faults, read
// the statement counters. Never faulted: tests and operators use them to set up and check.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { sha256 } from '@it/runtime';
import { faultSettingsBody, faultsToWire } from './faults.ts';
import { parse } from './http-errors.ts';
import { sendAnswer } from './replies.ts';
import type { LedgerContext } from './routes.ts';
import { creditBody } from './schemas.ts';

function requireAdmin(adminToken: string) {
  const adminDigest = sha256(adminToken);
  return (req: Request, res: Response, next: NextFunction) => {
    const m = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    // Compare digests: constant time, and the token's length is not revealed either.
    if (!m?.[1] || !timingSafeEqual(sha256(m[1]), adminDigest)) {
      res.status(401).set('www-authenticate', 'Bearer').json({ status: 'unauthorized', error: 'admin bearer token required' });
      return;
    }
    next();
  };
}

export function adminRoutes(opts: LedgerContext & { adminToken: string }): express.Router {
  const { ledger, store, faults, logger } = opts;
  const router = express.Router();
  const admin = requireAdmin(opts.adminToken);

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
