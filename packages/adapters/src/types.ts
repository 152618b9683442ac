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
