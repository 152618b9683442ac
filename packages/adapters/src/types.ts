// The service contract every Funding or Trading integration implements (SPEC §5). Idempotent by req_id:
// the same call again returns the same definite answer.
import type { Movement, Outcome } from '@it/domain';

export interface LedgerAdapter {
  /** 'funding' or 'trading' (or a custom service's name), for logs and metrics. */
  readonly name: string;
  /** Funding: freeze available → frozen. Trading: debit available. */
  withdraw(movement: Movement): Promise<Outcome>;
  /** Credit available. */
  deposit(movement: Movement): Promise<Outcome>;
  /** Funding: finalize the freeze of req_id's withdraw. Trading: no-op success for a known withdraw. */
  commit(reqId: string): Promise<Outcome>;
  /** Undo req_id's withdraw (unfreeze / re-credit). For a req_id never seen: success, and a later withdraw with it fails. */
  rollback(reqId: string): Promise<Outcome>;
  /** The definite outcome of req_id's latest operation, or pending when unknown or not seen. */
  query(reqId: string): Promise<Outcome>;
  close(): Promise<void>;
}

/**
 * The contract's query read in full, for reconciliation (the saga itself never needs it): which operation the
 * service holds for a req_id and in which state.
 */
export interface LedgerReader {
  readonly name: string;
  lookup(reqId: string): Promise<LedgerLookup>;
  close(): Promise<void>;
}

/**
 * A service's record of one req_id (`GET /v1/ops/{req_id}`), for reconciliation. `unknown` is no answer
 * (timeout, 5xx, a reply that is not the contract's): it proves nothing either way.
 */
export type LedgerLookup =
  | { kind: 'found'; op: LedgerOp }
  | { kind: 'not_found' }
  | { kind: 'unknown'; detail: string };

export interface LedgerOp {
  /** `withdraw`, `deposit`, or `tombstone` (a rollback of a req_id never seen); a service may name others. */
  opKind: string;
  /** The latest operation's outcome on req_id. */
  status: 'success' | 'failed' | 'pending';
  /**
   * withdraw: `frozen` (two-phase) or `debited` (single-phase) while held, then `committed`, `rolled_back`
   * or `voided`; `refused`. deposit: `credited` or `refused`. tombstone: `tombstone`.
   */
  state: string | null;
  reason: string | null;
  userId: bigint | null;
  assetId: number | null;
  amount: bigint | null;
}
