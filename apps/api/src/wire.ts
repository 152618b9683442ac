// JSON shapes of the public API (SPEC §4). Money and user ids cross JSON as decimal strings.
import type { Response } from 'express';
import { isTerminal } from '@it/fsm';
import type { TransferRecord } from '@it/store';

export type PublicStatus = 'committed' | 'rolled_back' | 'failed' | 'pending';

export interface TransferResult {
  req_id: string;
  status: PublicStatus;
  message: string | null;
}

/** Every internal non-terminal state (init, source_pending, …, compensating) is `pending` to clients. */
export function resultOf(record: TransferRecord): TransferResult {
  if (isTerminal(record.state)) return { req_id: record.reqId, status: record.state, message: record.error };
  return pendingResult(record.reqId);
}

export function pendingResult(reqId: string): TransferResult {
  return { req_id: reqId, status: 'pending', message: null };
}

export function sendResult(res: Response, result: TransferResult): void {
  res.status(result.status === 'pending' ? 202 : 200).json(result);
}

/** Errors on POST keep the transfer-result shape, with no req_id. */
export function sendPostError(res: Response, httpStatus: number, message: string): void {
  res.status(httpStatus).json({ req_id: '', status: 'failed', message });
}

export function sendGetError(res: Response, httpStatus: number, error: string): void {
  res.status(httpStatus).json({ error });
}

export function transferView(r: TransferRecord) {
  return {
    req_id: r.reqId,
    state: r.state,
    source: r.source,
    target: r.target,
    user_id: r.userId.toString(),
    asset_id: r.assetId,
    amount: r.amount.toString(),
    created_at: r.createdAt.toISOString(),
    updated_at: r.updatedAt.toISOString(),
    error: r.error,
    retry_count: r.attempt,
  };
}
