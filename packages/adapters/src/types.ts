// The service contract every Funding or Trading integration implements (SPEC §5). Idempotent by req_id:
// the same call again returns the same definite answer.

export type AdapterOutcome =
  | { kind: 'success' }
  /** A definite business refusal: the service applied nothing and never will for this req_id. */
  | { kind: 'failed'; reason: string }
  /** Anything the adapter cannot prove: timeout, reset, 5xx, malformed reply. Ask again later. */
  | { kind: 'pending'; detail: string };

export interface LedgerOperation {
  reqId: string;
  userId: bigint;
  assetId: number;
  /** Minor units, 1..2^63-1. */
  amount: bigint;
}

export interface LedgerAdapter {
  /** 'funding' or 'trading' (or a custom service's name), for logs and metrics. */
  readonly name: string;
  /** Funding: freeze available → frozen. Trading: debit available. */
  withdraw(op: LedgerOperation): Promise<AdapterOutcome>;
  /** Credit available. */
  deposit(op: LedgerOperation): Promise<AdapterOutcome>;
  /** Funding: finalize the freeze of req_id's withdraw. Trading: no-op success for a known withdraw. */
  commit(reqId: string): Promise<AdapterOutcome>;
  /** Undo req_id's withdraw (unfreeze / re-credit). For a req_id never seen: success, and a later withdraw with it fails. */
  rollback(reqId: string): Promise<AdapterOutcome>;
  /** The definite outcome of req_id's latest operation, or pending when unknown or not seen. */
  query(reqId: string): Promise<AdapterOutcome>;
  close(): Promise<void>;
}

export const success = (): AdapterOutcome => ({ kind: 'success' });
export const failed = (reason: string): AdapterOutcome => ({ kind: 'failed', reason });
export const pending = (detail: string): AdapterOutcome => ({ kind: 'pending', detail });
