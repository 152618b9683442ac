// What each finished transfer must have left on the two ledgers, and the name of every way it can differ.
// Pure: given the transfer and what each service's query says about its req_id, the mismatches (if any).
import type { LedgerLookup, LedgerOp } from '@it/adapters';
import type { TerminalState } from '@it/fsm';
import type { TransferRecord } from '@it/store';

export const MISMATCH_KINDS = [
  /** committed, but the source has no withdraw for it. */
  'source_withdraw_missing',
  /** The source still holds the withdraw (frozen, or debited and not finalized): funds left frozen. */
  'source_left_frozen',
  /** committed, but the source undid or refused the withdraw: the target was credited from nothing. */
  'source_withdraw_undone',
  /** rolled_back or failed, but the source's withdraw is final: money taken and not given back. */
  'source_withdraw_standing',
  /** committed, but the target has no deposit for it. */
  'target_deposit_missing',
  /** committed, but the target refused the deposit. */
  'target_deposit_refused',
  /** rolled_back or failed, but the target credited the deposit: money created. */
  'target_deposit_standing',
  /** A ledger still has the operation in flight although the transfer is finished. */
  'ledger_in_flight',
  /** The ledger's operation for this req_id is another kind, user, asset or amount than the transfer's. */
  'operation_differs',
  /** The transfer row cannot be read by this version: nothing can be checked. */
  'corrupt_row',
] as const;
export type MismatchKind = (typeof MISMATCH_KINDS)[number];

export interface Mismatch {
  reqId: string;
  /** The transfer's state; null for a row that cannot be read. */
  state: string | null;
  kind: MismatchKind;
  /** Which ledger (service name) said so, when one did. */
  ledger: string | null;
  detail: string;
}

/** What a ledger shows for one leg, reduced to what matters to money. */
type Standing =
  | 'absent' // never seen, or a tombstone (rolled back before it was ever applied)
  | 'held' // withdraw applied, neither committed nor rolled back
  | 'final' // withdraw committed, or deposit credited
  | 'undone' // withdraw rolled back or voided
  | 'refused'
  | 'in_flight'
  | 'unrecognized';

const HELD = new Set(['frozen', 'debited']);

function standingOf(op: LedgerOp, expected: 'withdraw' | 'deposit'): Standing {
  if (op.status === 'pending') return 'in_flight';
  if (op.opKind === 'tombstone') return 'absent';
  if (op.opKind !== expected) return 'unrecognized';
  if (op.status === 'failed' || op.state === 'refused') return 'refused';
  if (expected === 'deposit') return op.state === 'credited' ? 'final' : 'unrecognized';
  if (op.state !== null && HELD.has(op.state)) return 'held';
  if (op.state === 'committed') return 'final';
  if (op.state === 'rolled_back' || op.state === 'voided') return 'undone';
  return 'unrecognized';
}

/** Each leg's verdict per terminal state: undefined is fine, a kind is a mismatch. */
const EXPECT: Record<TerminalState, Record<'source' | 'target', Partial<Record<Standing, MismatchKind>>>> = {
  committed: {
    source: {
      absent: 'source_withdraw_missing', held: 'source_left_frozen', undone: 'source_withdraw_undone', refused: 'source_withdraw_undone',
      in_flight: 'ledger_in_flight', unrecognized: 'operation_differs',
    },
    target: { absent: 'target_deposit_missing', refused: 'target_deposit_refused', in_flight: 'ledger_in_flight', unrecognized: 'operation_differs' },
  },
  rolled_back: {
    source: { held: 'source_left_frozen', final: 'source_withdraw_standing', in_flight: 'ledger_in_flight', unrecognized: 'operation_differs' },
    target: { final: 'target_deposit_standing', in_flight: 'ledger_in_flight', unrecognized: 'operation_differs' },
  },
  failed: {
    source: { held: 'source_left_frozen', final: 'source_withdraw_standing', in_flight: 'ledger_in_flight', unrecognized: 'operation_differs' },
    target: { final: 'target_deposit_standing', in_flight: 'ledger_in_flight', unrecognized: 'operation_differs' },
  },
};

function describeOp(op: LedgerOp): string {
  const parts = [`${op.opKind} ${op.status}`, op.state ? `state ${op.state}` : '', op.reason ? `reason ${op.reason}` : ''];
  return parts.filter(Boolean).join(', ');
}

/** The fields of a found operation that contradict the transfer (user, asset, amount). */
function differences(op: LedgerOp, t: TransferRecord): string[] {
  const out: string[] = [];
  if (op.userId !== null && op.userId !== t.userId) out.push(`user ${op.userId} ≠ ${t.userId}`);
  if (op.assetId !== null && op.assetId !== t.assetId) out.push(`asset ${op.assetId} ≠ ${t.assetId}`);
  if (op.amount !== null && op.amount !== t.amount) out.push(`amount ${op.amount} ≠ ${t.amount}`);
  return out;
}

export type LegCheck = { kind: 'ok' } | { kind: 'unverified'; detail: string } | { kind: 'mismatch'; mismatch: Mismatch };

/** One leg of a terminal transfer against what its ledger said. */
export function checkLeg(
  t: TransferRecord & { state: TerminalState },
  leg: 'source' | 'target',
  ledger: string,
  lookup: LedgerLookup,
): LegCheck {
  if (lookup.kind === 'unknown') {
    // The HTTP adapter's details already name the service.
    return { kind: 'unverified', detail: lookup.detail.startsWith(`${ledger}: `) ? lookup.detail : `${ledger}: ${lookup.detail}` };
  }
  const mismatch = (kind: MismatchKind, detail: string): LegCheck => ({
    kind: 'mismatch',
    mismatch: { reqId: t.reqId, state: t.state, kind, ledger, detail: `${leg} ${ledger}: ${detail}` },
  });
  if (lookup.kind === 'not_found') {
    const kind = EXPECT[t.state][leg].absent;
    return kind ? mismatch(kind, 'no operation for this req_id') : { kind: 'ok' };
  }
  const op = lookup.op;
  if (op.opKind === 'withdraw' || op.opKind === 'deposit') {
    const diff = differences(op, t);
    if (diff.length) return mismatch('operation_differs', `${describeOp(op)}: ${diff.join(', ')}`);
  }
  const standing = standingOf(op, leg === 'source' ? 'withdraw' : 'deposit');
  const kind = EXPECT[t.state][leg][standing];
  return kind ? mismatch(kind, describeOp(op)) : { kind: 'ok' };
}
