// The wire shapes of the ledgers' answers (docs/adapter-contract.md).
import type { Response } from 'express';
import type { OpView } from './ledger-store.ts';
import { REASONS, type LedgerAnswer } from './rules.ts';

export function sendAnswer(res: Response, reqId: string, a: LedgerAnswer): void {
  switch (a.status) {
    case 'success':
      res.status(200).json({ req_id: reqId, status: 'success', state: a.state });
      return;
    case 'failed':
      res.status(a.reason === REASONS.conflict ? 409 : 422).json({ req_id: reqId, status: 'failed', reason: a.reason });
      return;
    case 'not_found':
      res.status(404).json({ req_id: reqId, status: 'not_found' });
      return;
    case 'in_flight':
      res.status(503).set('retry-after', '1').json({ req_id: reqId, status: 'pending', reason: 'withdraw_in_flight' });
      return;
  }
}

export function viewToWire(v: OpView) {
  return {
    req_id: v.reqId,
    kind: v.kind,
    status: v.status,
    state: v.state,
    ...(v.reason !== null ? { reason: v.reason } : {}),
    user_id: v.userId?.toString() ?? null,
    asset_id: v.assetId,
    amount: v.amount?.toString() ?? null,
  };
}
