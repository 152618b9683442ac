// The reconciliation rules as a table: each terminal state × what a ledger holds for each leg → verdict.
import { describe, expect, it } from 'vitest';
import type { LedgerLookup, LedgerOp } from '@it/adapters';
import type { TerminalState } from '@it/fsm';
import type { TransferRecord } from '@it/store';
import { checkLeg, parseInstant } from '../src/index.ts';

const t = (state: TerminalState): TransferRecord & { state: TerminalState } => ({
  reqId: 'r1', userId: 7n, assetId: 1, amount: 100n, source: 'funding', target: 'trading', state, version: 6, transitionId: 'x',
  error: null, attempt: 0, nextAttemptAt: null, createdAt: new Date(0), updatedAt: new Date(0), retryRun: null, operatorRetry: null,
});
const op = (opKind: string, state: string, over: Partial<LedgerOp> = {}): LedgerLookup => ({
  kind: 'found',
  op: { opKind, status: state === 'refused' ? 'failed' : 'success', state, reason: null, userId: 7n, assetId: 1, amount: 100n, ...over },
});
const NONE: LedgerLookup = { kind: 'not_found' };
const TOMB = op('tombstone', 'tombstone', { userId: null, assetId: null, amount: null });
const verdict = (state: TerminalState, leg: 'source' | 'target', lookup: LedgerLookup) => {
  const r = checkLeg(t(state), leg, 'x', lookup);
  return r.kind === 'mismatch' ? r.mismatch.kind : r.kind;
};

describe('checkLeg', () => {
  it.each([
    // committed: withdraw final at the source, deposit credited at the target.
    ['committed', 'source', 'ok', op('withdraw', 'committed')],
    ['committed', 'source', 'source_left_frozen', op('withdraw', 'frozen')],
    ['committed', 'source', 'source_left_frozen', op('withdraw', 'debited')],
    ['committed', 'source', 'source_withdraw_undone', op('withdraw', 'rolled_back')],
    ['committed', 'source', 'source_withdraw_undone', op('withdraw', 'voided')],
    ['committed', 'source', 'source_withdraw_undone', op('withdraw', 'refused')],
    ['committed', 'source', 'source_withdraw_missing', NONE],
    ['committed', 'source', 'source_withdraw_missing', TOMB],
    ['committed', 'source', 'operation_differs', op('deposit', 'credited')],
    ['committed', 'target', 'ok', op('deposit', 'credited')],
    ['committed', 'target', 'target_deposit_refused', op('deposit', 'refused')],
    ['committed', 'target', 'target_deposit_missing', NONE],
    ['committed', 'target', 'ledger_in_flight', op('deposit', 'credited', { status: 'pending' })],
    // rolled_back: nothing standing on either side.
    ['rolled_back', 'source', 'ok', op('withdraw', 'rolled_back')],
    ['rolled_back', 'source', 'ok', op('withdraw', 'voided')],
    ['rolled_back', 'source', 'ok', TOMB],
    ['rolled_back', 'source', 'source_left_frozen', op('withdraw', 'frozen')],
    ['rolled_back', 'source', 'source_withdraw_standing', op('withdraw', 'committed')],
    ['rolled_back', 'target', 'ok', op('deposit', 'refused')],
    ['rolled_back', 'target', 'ok', NONE],
    ['rolled_back', 'target', 'target_deposit_standing', op('deposit', 'credited')],
    // failed: nothing moved.
    ['failed', 'source', 'ok', op('withdraw', 'refused')],
    ['failed', 'source', 'ok', NONE],
    ['failed', 'source', 'source_left_frozen', op('withdraw', 'debited')],
    ['failed', 'target', 'ok', NONE],
    ['failed', 'target', 'target_deposit_standing', op('deposit', 'credited')],
    // The operation found belongs to another movement.
    ['committed', 'target', 'operation_differs', op('deposit', 'credited', { amount: 99n })],
    ['committed', 'target', 'operation_differs', op('deposit', 'credited', { userId: 8n })],
    ['rolled_back', 'source', 'operation_differs', op('withdraw', 'mystery')],
  ] as const)('%s, %s leg → %s (case %#)', (state, leg, expected, lookup) => {
    expect(verdict(state, leg, lookup)).toBe(expected);
  });

  it('no answer from the ledger is unverified, never ok and never a mismatch', () => {
    expect(checkLeg(t('committed'), 'source', 'funding', { kind: 'unknown', detail: 'timeout' })).toEqual({ kind: 'unverified', detail: 'funding: timeout' });
    expect(checkLeg(t('committed'), 'source', 'funding', { kind: 'unknown', detail: 'funding: no reply within 3000 ms' })).toEqual({
      kind: 'unverified', detail: 'funding: no reply within 3000 ms',
    });
  });
});

describe('parseInstant', () => {
  const now = new Date('2026-11-27T12:00:00Z');
  it('reads ISO times and durations before now; refuses anything else', () => {
    expect(parseInstant('2026-11-01T00:00:00Z', now)).toEqual(new Date('2026-11-01T00:00:00Z'));
    expect(parseInstant('2026-11-01', now)).toEqual(new Date('2026-11-01T00:00:00Z'));
    expect(parseInstant('90m', now)).toEqual(new Date('2026-11-27T10:30:00Z'));
    expect(parseInstant('7d', now)).toEqual(new Date('2026-11-20T12:00:00Z'));
    for (const bad of ['yesterday', '24', '-1h', '2026-13-45', '']) expect(parseInstant(bad, now)).toBeUndefined();
  });
});
