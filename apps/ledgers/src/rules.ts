// The reference ledgers' rules, pure: given the rows as read, what an operation answers or writes. The store
// reads the rows, asks these functions, runs the write they describe and retries; nothing here does I/O, so
// every balance and state rule is tested as a table (test/rules.unit.test.ts).
import { MAX_AMOUNT, type Account, type Movement } from '@it/domain';

export type MovementKind = 'withdraw' | 'deposit' | 'credit';
export type ClaimKind = MovementKind | 'tombstone';
export type FinishAction = 'commit' | 'rollback';

export const REASONS = {
  insufficientFunds: 'insufficient_funds',
  unknownAsset: 'unknown_asset',
  /** A withdraw whose req_id was rolled back first, or a commit after a rollback. */
  rolledBack: 'rolled_back',
  /** A rollback after a commit: the withdraw is final. */
  alreadyCommitted: 'already_committed',
  /** The req_id is already used by an operation with other parameters. */
  conflict: 'req_id_conflict',
  notAWithdraw: 'not_a_withdraw',
  /** A commit of a withdraw that was refused. */
  withdrawRefused: 'withdraw_refused',
  balanceOverflow: 'balance_overflow',
  injected: 'injected_refusal',
} as const;

export type LedgerAnswer =
  | { status: 'success'; state: string }
  | { status: 'failed'; reason: string }
  /** commit of a req_id this ledger has never seen: not definite, the withdraw may still be on its way. */
  | { status: 'not_found' }
  /** The withdraw is claimed but not applied yet (in flight elsewhere, or its caller died mid-way). */
  | { status: 'in_flight' };

/** A req_id's claim (its `ops` row): what it was first used for. A tombstone has no account or amount. */
export interface ClaimRow {
  kind: ClaimKind;
  userId: bigint | null;
  assetId: number | null;
  amount: bigint | null;
  /** Set when the operation was refused before its account was read (unknown asset, injected refusal). */
  reason: string | null;
}

export interface AccountState {
  available: bigint;
  frozen: bigint;
  /**
   * Trading only: withdraws debited and not yet committed or rolled back. A rollback gives them back to
   * available, so credits leave room for them and a rollback always fits the column.
   */
  debited: bigint;
  /** null: the account was never written. */
  version: bigint | null;
}

/** An operation's row in its account's partition. `state` is as stored: a value these rules do not know is corrupt. */
export interface OpRow {
  kind: MovementKind;
  amount: bigint;
  state: string;
  reason: string | null;
}

/** A new balance, written only while the account's version is still the one read (null: never written). */
export interface BalanceWrite {
  available: bigint;
  frozen: bigint;
  debited: bigint;
  version: bigint;
  ifVersion: bigint | null;
}

/** One conditional write to an account's partition; with a balance, one batch that applies whole or not at all. */
export type LedgerWrite =
  /** The operation's row, IF NOT EXISTS. Without a balance (a refusal, a void) the row alone makes it definite. */
  | { type: 'insert'; kind: MovementKind; amount: bigint; state: string; reason: string | null; balance: BalanceWrite | null }
  /** An existing withdraw moves to `state` together with the balance. */
  | { type: 'update'; state: string; balance: BalanceWrite };

/** A rule's verdict on the rows as read. */
export type Step =
  | { type: 'answer'; answer: LedgerAnswer }
  /** Run `write`; once it applied, `applied` is the answer. If it did not, read again and ask again. */
  | { type: 'write'; write: LedgerWrite; applied: LedgerAnswer }
  /** A row holds what no correct ledger writes: stop, never map it to an answer. */
  | { type: 'corrupt'; problem: string };
export type WriteStep = Extract<Step, { type: 'write' }>;
export type Verdict = Exclude<Step, WriteStep>;

const HELD_STATE: Record<Account, string> = { funding: 'frozen', trading: 'debited' };
const OP_STATES: Record<MovementKind, ReadonlySet<string>> = {
  withdraw: new Set(['frozen', 'debited', 'committed', 'rolled_back', 'voided', 'refused']),
  deposit: new Set(['credited', 'refused']),
  credit: new Set(['credited', 'refused']),
};
const CLAIM_KINDS: ReadonlySet<string> = new Set<ClaimKind>(['withdraw', 'deposit', 'credit', 'tombstone']);

export const success = (state: string): LedgerAnswer => ({ status: 'success', state });
const refused = (reason: string): LedgerAnswer => ({ status: 'failed', reason });
const answer = (a: LedgerAnswer): Verdict => ({ type: 'answer', answer: a });
const corrupt = (problem: string): Verdict => ({ type: 'corrupt', problem });

export function isClaimKind(kind: unknown): kind is ClaimKind {
  return typeof kind === 'string' && CLAIM_KINDS.has(kind);
}

/** Whether an account row's kind and state are ones this code writes. */
export function isKnownOp(kind: unknown, state: unknown): kind is MovementKind {
  return (
    (kind === 'withdraw' || kind === 'deposit' || kind === 'credit') && typeof state === 'string' && OP_STATES[kind].has(state)
  );
}

// ---- withdraw, deposit, credit ------------------------------------------------------------------------

/**
 * A withdraw/deposit/credit against the claim that holds its req_id: a tombstone, other parameters or a
 * refusal recorded at claim time answer at once. undefined: the claim is this operation's, go on.
 */
export function movementClaimAnswer(kind: MovementKind, m: Movement, claim: ClaimRow): LedgerAnswer | undefined {
  if (claim.kind === 'tombstone') return refused(REASONS.rolledBack);
  if (claim.kind !== kind || claim.userId !== m.userId || claim.assetId !== m.assetId || claim.amount !== m.amount) {
    return refused(REASONS.conflict);
  }
  return claim.reason === null ? undefined : refused(claim.reason);
}

/** The answer of a req_id whose row is already in the account: its own (a replay), or a rival's void. */
export function movementReplay(kind: MovementKind, op: OpRow): Verdict {
  if (!OP_STATES[op.kind].has(op.state)) return corrupt(`${op.kind} in unknown state ${op.state}`);
  if (op.state === 'refused') return answer(refused(op.reason ?? REASONS.insufficientFunds));
  // A rollback that arrived before the withdraw applied recorded a void row in its place.
  if (op.state === 'voided') return answer(refused(REASONS.rolledBack));
  if (op.kind !== kind) return answer(refused(REASONS.conflict));
  return answer(success(op.state));
}

/**
 * What a new withdraw/deposit/credit writes on the balance as read. Funding's withdraw freezes, Trading's
 * debits; a credit may not take available + frozen past MAX_AMOUNT. A refusal is written too (no balance),
 * so it is the answer for ever.
 */
export function planMovement(ledger: Account, kind: MovementKind, amount: bigint, account: AccountState): WriteStep {
  const refuse = (reason: string): WriteStep => ({
    type: 'write',
    write: { type: 'insert', kind, amount, state: 'refused', reason, balance: null },
    applied: refused(reason),
  });
  let { available, frozen, debited } = account;
  let state: string;
  if (kind === 'withdraw') {
    if (available < amount) return refuse(REASONS.insufficientFunds);
    available -= amount;
    if (ledger === 'funding') frozen += amount;
    else debited += amount;
    state = HELD_STATE[ledger];
  } else {
    // Room for every withdraw still held (frozen, or debited and not finished), so that its rollback fits.
    if (account.available + account.frozen + account.debited > MAX_AMOUNT - amount) return refuse(REASONS.balanceOverflow);
    available += amount;
    state = 'credited';
  }
  const version = account.version ?? 0n;
  return {
    type: 'write',
    write: {
      type: 'insert',
      kind,
      amount,
      state,
      reason: null,
      balance: { available, frozen, debited, version: version + 1n, ifVersion: account.version },
    },
    applied: success(state),
  };
}

// ---- commit, rollback ---------------------------------------------------------------------------------

/**
 * commit/rollback against the claim that holds its req_id: a tombstone, a non-withdraw or a withdraw refused
 * at claim time answer at once. undefined: a withdraw that may be applied, go on to its row.
 */
export function finishClaimAnswer(action: FinishAction, claim: ClaimRow): LedgerAnswer | undefined {
  if (claim.kind === 'tombstone') return action === 'rollback' ? success('tombstone') : refused(REASONS.rolledBack);
  if (claim.kind !== 'withdraw') return refused(REASONS.notAWithdraw);
  // Refused at claim time: nothing was frozen or debited.
  if (claim.reason !== null) return action === 'rollback' ? success('refused') : refused(REASONS.withdrawRefused);
  return undefined;
}

/**
 * commit/rollback of a claimed withdraw, given its row and the account as read (`claimedAmount` from the
 * claim, for a row not written yet). A held withdraw (frozen or debited) is finished together with the
 * balance; a finished one answers as it ended.
 */
export function finishStep(action: FinishAction, claimedAmount: bigint, op: OpRow | undefined, account: AccountState | undefined): Step {
  if (!op) {
    if (action === 'commit') return answer({ status: 'in_flight' });
    // Claimed but not applied: void it, so the withdraw can never apply afterwards.
    return {
      type: 'write',
      write: { type: 'insert', kind: 'withdraw', amount: claimedAmount, state: 'voided', reason: REASONS.rolledBack, balance: null },
      applied: success('voided'),
    };
  }
  if (op.kind !== 'withdraw') return answer(refused(REASONS.notAWithdraw));
  switch (op.state) {
    case 'frozen':
    case 'debited':
      return finishHeld(action, op, account);
    case 'committed':
      return answer(action === 'commit' ? success('committed') : refused(REASONS.alreadyCommitted));
    case 'rolled_back':
    case 'voided':
      return answer(action === 'rollback' ? success(op.state) : refused(REASONS.rolledBack));
    case 'refused':
      return answer(action === 'rollback' ? success('refused') : refused(REASONS.withdrawRefused));
    default:
      return corrupt(`withdraw in unknown state ${op.state}`);
  }
}

/** Commit releases a freeze (Trading: records the end); rollback returns the amount to available. */
function finishHeld(action: FinishAction, op: OpRow, account: AccountState | undefined): Step {
  if (!account || account.version === null) return corrupt(`withdraw is ${op.state} on an account without a version`);
  let { available, frozen, debited } = account;
  if (op.state === 'frozen') {
    if (frozen < op.amount) return corrupt(`frozen ${frozen} < withdraw amount ${op.amount}`);
    frozen -= op.amount;
  } else {
    // An account debited before its debits were counted holds less than the amount: it counts down to 0.
    debited = debited > op.amount ? debited - op.amount : 0n;
  }
  if (action === 'rollback') {
    available += op.amount;
    // Credits leave room for held withdraws, so this only fails on a row written before they did: stop, never wrap.
    if (available + frozen + debited > MAX_AMOUNT) return corrupt(`rollback of ${op.amount} would take the balance past 2^63-1`);
  }
  const state = action === 'commit' ? 'committed' : 'rolled_back';
  return {
    type: 'write',
    write: { type: 'update', state, balance: { available, frozen, debited, version: account.version + 1n, ifVersion: account.version } },
    applied: success(state),
  };
}
