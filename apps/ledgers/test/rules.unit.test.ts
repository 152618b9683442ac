// The ledgers' pure rules as state tables: every (ledger × kind or action × row state × balance edge) with
// the exact verdict, so a change to any rule shows up here as one row, not as a flaky integration test.
import { describe, expect, it } from 'vitest';
import { ACCOUNTS, MAX_AMOUNT, type Account, type Movement } from '@it/domain';
import {
  finishClaimAnswer,
  finishStep,
  isClaimKind,
  isKnownOp,
  movementClaimAnswer,
  movementReplay,
  planMovement,
  type AccountState,
  type ClaimRow,
  type FinishAction,
  type LedgerAnswer,
  type MovementKind,
  type OpRow,
  type Step,
} from '../src/rules.ts';

const account = (available: bigint, frozen: bigint, version: bigint | null, debited = 0n): AccountState => ({ available, frozen, debited, version });
const row = (kind: MovementKind, state: string, amount = 40n, reason: string | null = null): OpRow => ({ kind, amount, state, reason });
const ok = (state: string): LedgerAnswer => ({ status: 'success', state });
const no = (reason: string): LedgerAnswer => ({ status: 'failed', reason });
const answer = (a: LedgerAnswer): Step => ({ type: 'answer', answer: a });
const corrupt = (problem: string): Step => ({ type: 'corrupt', problem });
const NEVER_WRITTEN = account(0n, 0n, null);

describe('planMovement: a new withdraw / deposit / credit on the balance as read', () => {
  /** The write of an applied movement: its row and the new balance, guarded by the version read. */
  const moves = (
    kind: MovementKind,
    state: string,
    amount: bigint,
    available: bigint,
    frozen: bigint,
    version: bigint,
    ifVersion: bigint | null,
    debited = 0n,
  ): Step => ({
    type: 'write',
    write: { type: 'insert', kind, amount, state, reason: null, balance: { available, frozen, debited, version, ifVersion } },
    applied: ok(state),
  });
  /** A refusal: the row alone, no balance change, and the refusal is the answer once recorded. */
  const refuses = (kind: MovementKind, amount: bigint, reason: string): Step => ({
    type: 'write',
    write: { type: 'insert', kind, amount, state: 'refused', reason, balance: null },
    applied: no(reason),
  });

  const withdraws: { name: string; ledger: Account; before: AccountState; amount: bigint; expected: Step }[] = [
    { name: 'funding freezes', ledger: 'funding', before: account(100n, 7n, 3n), amount: 40n, expected: moves('withdraw', 'frozen', 40n, 60n, 47n, 4n, 3n) },
    { name: 'funding, exact balance', ledger: 'funding', before: account(100n, 7n, 3n), amount: 100n, expected: moves('withdraw', 'frozen', 100n, 0n, 107n, 4n, 3n) },
    { name: 'funding, one over (frozen does not count)', ledger: 'funding', before: account(100n, 7n, 3n), amount: 101n, expected: refuses('withdraw', 101n, 'insufficient_funds') },
    { name: 'funding, account never written', ledger: 'funding', before: NEVER_WRITTEN, amount: 1n, expected: refuses('withdraw', 1n, 'insufficient_funds') },
    { name: 'funding, MAX_AMOUNT, all of it', ledger: 'funding', before: account(MAX_AMOUNT, 0n, 9n), amount: MAX_AMOUNT, expected: moves('withdraw', 'frozen', MAX_AMOUNT, 0n, MAX_AMOUNT, 10n, 9n) },
    { name: 'trading debits, and counts the debit held', ledger: 'trading', before: account(100n, 7n, 3n), amount: 40n, expected: moves('withdraw', 'debited', 40n, 60n, 7n, 4n, 3n, 40n) },
    { name: 'trading, exact balance', ledger: 'trading', before: account(100n, 7n, 3n), amount: 100n, expected: moves('withdraw', 'debited', 100n, 0n, 7n, 4n, 3n, 100n) },
    { name: 'trading, beside other debits held', ledger: 'trading', before: account(100n, 0n, 3n, 25n), amount: 40n, expected: moves('withdraw', 'debited', 40n, 60n, 0n, 4n, 3n, 65n) },
    { name: 'funding never counts debits', ledger: 'funding', before: account(100n, 0n, 3n, 25n), amount: 40n, expected: moves('withdraw', 'frozen', 40n, 60n, 40n, 4n, 3n, 25n) },
    { name: 'trading, one over', ledger: 'trading', before: account(100n, 7n, 3n), amount: 101n, expected: refuses('withdraw', 101n, 'insufficient_funds') },
    { name: 'trading, account never written', ledger: 'trading', before: NEVER_WRITTEN, amount: 1n, expected: refuses('withdraw', 1n, 'insufficient_funds') },
    { name: 'trading, MAX_AMOUNT, all of it', ledger: 'trading', before: account(MAX_AMOUNT, 0n, 9n), amount: MAX_AMOUNT, expected: moves('withdraw', 'debited', MAX_AMOUNT, 0n, 0n, 10n, 9n, MAX_AMOUNT) },
  ];
  it.each(withdraws)('withdraw: $name', ({ ledger, before, amount, expected }) => {
    expect(planMovement(ledger, 'withdraw', amount, before)).toEqual(expected);
  });

  // Deposits and credits follow the same rule on both ledgers; the row records which one it was.
  const credits = ACCOUNTS.flatMap((ledger) =>
    (['deposit', 'credit'] as const).flatMap((kind) => [
      { name: `${ledger} ${kind} adds to available`, ledger, kind, before: account(100n, 7n, 3n), amount: 40n, expected: moves(kind, 'credited', 40n, 140n, 7n, 4n, 3n) },
      { name: `${ledger} ${kind}, account never written: version 1, written only if still absent`, ledger, kind, before: NEVER_WRITTEN, amount: 40n, expected: moves(kind, 'credited', 40n, 40n, 0n, 1n, null) },
      { name: `${ledger} ${kind}, available + frozen reaches MAX_AMOUNT exactly`, ledger, kind, before: account(MAX_AMOUNT - 50n, 10n, 3n), amount: 40n, expected: moves(kind, 'credited', 40n, MAX_AMOUNT - 10n, 10n, 4n, 3n) },
      { name: `${ledger} ${kind}, one past MAX_AMOUNT (frozen counts)`, ledger, kind, before: account(MAX_AMOUNT - 50n, 10n, 3n), amount: 41n, expected: refuses(kind, 41n, 'balance_overflow') },
      { name: `${ledger} ${kind} of MAX_AMOUNT on an empty account`, ledger, kind, before: NEVER_WRITTEN, amount: MAX_AMOUNT, expected: moves(kind, 'credited', MAX_AMOUNT, MAX_AMOUNT, 0n, 1n, null) },
      { name: `${ledger} ${kind} of MAX_AMOUNT when 1 is frozen`, ledger, kind, before: account(0n, 1n, 2n), amount: MAX_AMOUNT, expected: refuses(kind, MAX_AMOUNT, 'balance_overflow') },
      { name: `${ledger} ${kind} of 1 on a full account`, ledger, kind, before: account(MAX_AMOUNT, 0n, 5n), amount: 1n, expected: refuses(kind, 1n, 'balance_overflow') },
      // A debit held may be rolled back into available: a credit leaves room for it.
      { name: `${ledger} ${kind}, available + frozen + debited reaches MAX_AMOUNT exactly`, ledger, kind, before: account(MAX_AMOUNT - 60n, 10n, 3n, 10n), amount: 40n, expected: moves(kind, 'credited', 40n, MAX_AMOUNT - 20n, 10n, 4n, 3n, 10n) },
      { name: `${ledger} ${kind}, one past MAX_AMOUNT (debits held count)`, ledger, kind, before: account(MAX_AMOUNT - 60n, 10n, 3n, 10n), amount: 41n, expected: refuses(kind, 41n, 'balance_overflow') },
    ]),
  );
  it.each(credits)('$name', ({ ledger, kind, before, amount, expected }) => {
    expect(planMovement(ledger, kind, amount, before)).toEqual(expected);
  });
});

describe('movementReplay: the row already in the account answers', () => {
  const cases: { name: string; kind: MovementKind; op: OpRow; expected: Step }[] = [
    { name: 'withdraw frozen', kind: 'withdraw', op: row('withdraw', 'frozen'), expected: answer(ok('frozen')) },
    { name: 'withdraw debited', kind: 'withdraw', op: row('withdraw', 'debited'), expected: answer(ok('debited')) },
    { name: 'withdraw committed since', kind: 'withdraw', op: row('withdraw', 'committed'), expected: answer(ok('committed')) },
    { name: 'withdraw rolled back since', kind: 'withdraw', op: row('withdraw', 'rolled_back'), expected: answer(ok('rolled_back')) },
    { name: 'withdraw refused', kind: 'withdraw', op: row('withdraw', 'refused', 40n, 'insufficient_funds'), expected: answer(no('insufficient_funds')) },
    { name: 'withdraw refused, reason not stored', kind: 'withdraw', op: row('withdraw', 'refused'), expected: answer(no('insufficient_funds')) },
    { name: 'withdraw voided by an earlier rollback', kind: 'withdraw', op: row('withdraw', 'voided', 40n, 'rolled_back'), expected: answer(no('rolled_back')) },
    { name: 'deposit credited', kind: 'deposit', op: row('deposit', 'credited'), expected: answer(ok('credited')) },
    { name: 'deposit refused for overflow', kind: 'deposit', op: row('deposit', 'refused', 40n, 'balance_overflow'), expected: answer(no('balance_overflow')) },
    { name: 'credit credited', kind: 'credit', op: row('credit', 'credited'), expected: answer(ok('credited')) },
    { name: 'credit refused', kind: 'credit', op: row('credit', 'refused', 40n, 'balance_overflow'), expected: answer(no('balance_overflow')) },
    { name: 'deposit over a voided withdraw row', kind: 'deposit', op: row('withdraw', 'voided', 40n, 'rolled_back'), expected: answer(no('rolled_back')) },
    { name: 'deposit over a credit row', kind: 'deposit', op: row('credit', 'credited'), expected: answer(no('req_id_conflict')) },
    { name: 'withdraw over a deposit row', kind: 'withdraw', op: row('deposit', 'credited'), expected: answer(no('req_id_conflict')) },
    { name: 'withdraw in an unknown state', kind: 'withdraw', op: row('withdraw', 'teleported'), expected: corrupt('withdraw in unknown state teleported') },
    { name: 'deposit in a withdraw-only state', kind: 'deposit', op: row('deposit', 'frozen'), expected: corrupt('deposit in unknown state frozen') },
  ];
  it.each(cases)('$name', ({ kind, op, expected }) => {
    expect(movementReplay(kind, op)).toEqual(expected);
  });
});

describe('movementClaimAnswer: the claim holding the req_id', () => {
  const m: Movement = { reqId: '2f1c6c0e-6f5e-4b7c-9a43-3a4c2b1d0e9f', userId: 5n, assetId: 1, amount: 40n };
  const claim = (over: Partial<ClaimRow> = {}, kind: MovementKind = 'withdraw'): ClaimRow => ({
    kind,
    userId: 5n,
    assetId: 1,
    amount: 40n,
    reason: null,
    ...over,
  });
  const TOMBSTONE: ClaimRow = { kind: 'tombstone', userId: null, assetId: null, amount: null, reason: null };
  for (const kind of ['withdraw', 'deposit', 'credit'] as const) {
    const other = kind === 'withdraw' ? 'deposit' : 'withdraw';
    it.each([
      { name: 'our own claim: go on', c: claim({}, kind), expected: undefined },
      { name: 'a tombstone of an earlier rollback', c: TOMBSTONE, expected: no('rolled_back') },
      { name: 'another kind', c: claim({}, other), expected: no('req_id_conflict') },
      { name: 'another user', c: claim({ userId: 6n }, kind), expected: no('req_id_conflict') },
      { name: 'another asset', c: claim({ assetId: 2 }, kind), expected: no('req_id_conflict') },
      { name: 'another amount', c: claim({ amount: 41n }, kind), expected: no('req_id_conflict') },
      { name: 'ours, refused for an unknown asset', c: claim({ reason: 'unknown_asset' }, kind), expected: no('unknown_asset') },
      { name: 'ours, refused by fault injection', c: claim({ reason: 'injected_refusal' }, kind), expected: no('injected_refusal') },
    ])(`${kind}: $name`, ({ c, expected }) => {
      expect(movementClaimAnswer(kind, m, c)).toEqual(expected);
    });
  }
});

describe('finishClaimAnswer: commit / rollback against the claim', () => {
  const claim = (kind: ClaimRow['kind'], reason: string | null = null): ClaimRow =>
    kind === 'tombstone'
      ? { kind, userId: null, assetId: null, amount: null, reason: null }
      : { kind, userId: 5n, assetId: 1, amount: 40n, reason };
  it.each([
    { name: 'tombstone', c: claim('tombstone'), commit: no('rolled_back'), rollback: ok('tombstone') },
    { name: 'deposit', c: claim('deposit'), commit: no('not_a_withdraw'), rollback: no('not_a_withdraw') },
    { name: 'credit', c: claim('credit'), commit: no('not_a_withdraw'), rollback: no('not_a_withdraw') },
    { name: 'withdraw refused at claim', c: claim('withdraw', 'unknown_asset'), commit: no('withdraw_refused'), rollback: ok('refused') },
    { name: 'withdraw: go on to its row', c: claim('withdraw'), commit: undefined, rollback: undefined },
  ])('$name', ({ c, commit, rollback }) => {
    expect(finishClaimAnswer('commit', c)).toEqual(commit);
    expect(finishClaimAnswer('rollback', c)).toEqual(rollback);
  });
});

describe('finishStep: commit / rollback of a claimed withdraw, by its row as read', () => {
  const CLAIMED = 45n;
  const finishes = (state: string, available: bigint, frozen: bigint, version: bigint, ifVersion: bigint, debited = 0n): Step => ({
    type: 'write',
    write: { type: 'update', state, balance: { available, frozen, debited, version, ifVersion } },
    applied: ok(state),
  });
  const VOID: Step = {
    type: 'write',
    write: { type: 'insert', kind: 'withdraw', amount: CLAIMED, state: 'voided', reason: 'rolled_back', balance: null },
    applied: ok('voided'),
  };
  type Row = { ledger: Account | 'either'; state: string; op: OpRow | undefined; account: AccountState | undefined; commit: Step; rollback: Step };
  const table: Row[] = [
    // Claimed, not applied yet: commit waits, rollback voids it (with the claim's amount) so it never applies.
    { ledger: 'either', state: '(no row)', op: undefined, account: undefined, commit: answer({ status: 'in_flight' }), rollback: VOID },
    // Funding holds a freeze: commit releases it, rollback returns it to available.
    { ledger: 'funding', state: 'frozen', op: row('withdraw', 'frozen'), account: account(60n, 40n, 5n), commit: finishes('committed', 60n, 0n, 6n, 5n), rollback: finishes('rolled_back', 100n, 0n, 6n, 5n) },
    { ledger: 'funding', state: 'frozen, others frozen too', op: row('withdraw', 'frozen'), account: account(60n, 100n, 5n), commit: finishes('committed', 60n, 60n, 6n, 5n), rollback: finishes('rolled_back', 100n, 60n, 6n, 5n) },
    { ledger: 'funding', state: 'frozen, frozen < amount', op: row('withdraw', 'frozen'), account: account(60n, 39n, 5n), commit: corrupt('frozen 39 < withdraw amount 40'), rollback: corrupt('frozen 39 < withdraw amount 40') },
    { ledger: 'funding', state: 'frozen, account without a version', op: row('withdraw', 'frozen'), account: account(60n, 40n, null), commit: corrupt('withdraw is frozen on an account without a version'), rollback: corrupt('withdraw is frozen on an account without a version') },
    { ledger: 'funding', state: 'frozen, account not read', op: row('withdraw', 'frozen'), account: undefined, commit: corrupt('withdraw is frozen on an account without a version'), rollback: corrupt('withdraw is frozen on an account without a version') },
    // Trading debited already: commit records the end, rollback re-credits; both release the debit held;
    // frozen is never touched.
    { ledger: 'trading', state: 'debited', op: row('withdraw', 'debited'), account: account(60n, 7n, 5n, 40n), commit: finishes('committed', 60n, 7n, 6n, 5n), rollback: finishes('rolled_back', 100n, 7n, 6n, 5n) },
    { ledger: 'trading', state: 'debited, others held too', op: row('withdraw', 'debited'), account: account(60n, 0n, 5n, 100n), commit: finishes('committed', 60n, 0n, 6n, 5n, 60n), rollback: finishes('rolled_back', 100n, 0n, 6n, 5n, 60n) },
    { ledger: 'trading', state: 'debited, frozen < amount (not used)', op: row('withdraw', 'debited'), account: account(60n, 0n, 5n, 40n), commit: finishes('committed', 60n, 0n, 6n, 5n), rollback: finishes('rolled_back', 100n, 0n, 6n, 5n) },
    { ledger: 'trading', state: 'debited before debits were counted', op: row('withdraw', 'debited'), account: account(60n, 0n, 5n), commit: finishes('committed', 60n, 0n, 6n, 5n), rollback: finishes('rolled_back', 100n, 0n, 6n, 5n) },
    { ledger: 'trading', state: 'debited, rollback past 2^63-1 (a row from before debits were counted)', op: row('withdraw', 'debited'), account: account(MAX_AMOUNT - 10n, 0n, 5n), commit: finishes('committed', MAX_AMOUNT - 10n, 0n, 6n, 5n), rollback: corrupt('rollback of 40 would take the balance past 2^63-1') },
    // A held debit's rollback leaves available + frozen + debited as it was: it fits exactly up to 2^63-1.
    { ledger: 'trading', state: 'debited, rollback back to exactly 2^63-1', op: row('withdraw', 'debited'), account: account(MAX_AMOUNT - 40n, 0n, 5n, 40n), commit: finishes('committed', MAX_AMOUNT - 40n, 0n, 6n, 5n), rollback: finishes('rolled_back', MAX_AMOUNT, 0n, 6n, 5n) },
    // Past 2^63-1 whichever column holds the excess: frozen and debited count as much as available.
    { ledger: 'trading', state: 'debited, rollback past 2^63-1 through frozen', op: row('withdraw', 'debited'), account: account(MAX_AMOUNT - 90n, 100n, 5n), commit: finishes('committed', MAX_AMOUNT - 90n, 100n, 6n, 5n), rollback: corrupt('rollback of 40 would take the balance past 2^63-1') },
    { ledger: 'trading', state: 'debited, rollback past 2^63-1 through other debits held', op: row('withdraw', 'debited'), account: account(MAX_AMOUNT - 90n, 0n, 5n, 140n), commit: finishes('committed', MAX_AMOUNT - 90n, 0n, 6n, 5n, 100n), rollback: corrupt('rollback of 40 would take the balance past 2^63-1') },
    { ledger: 'trading', state: 'debited, account without a version', op: row('withdraw', 'debited'), account: account(60n, 0n, null), commit: corrupt('withdraw is debited on an account without a version'), rollback: corrupt('withdraw is debited on an account without a version') },
    // Finished: each action answers as the withdraw ended, and never writes again.
    { ledger: 'either', state: 'committed', op: row('withdraw', 'committed'), account: account(60n, 0n, 6n), commit: answer(ok('committed')), rollback: answer(no('already_committed')) },
    { ledger: 'either', state: 'rolled_back', op: row('withdraw', 'rolled_back'), account: account(100n, 0n, 6n), commit: answer(no('rolled_back')), rollback: answer(ok('rolled_back')) },
    { ledger: 'either', state: 'voided', op: row('withdraw', 'voided', CLAIMED, 'rolled_back'), account: account(100n, 0n, 5n), commit: answer(no('rolled_back')), rollback: answer(ok('voided')) },
    { ledger: 'either', state: 'refused', op: row('withdraw', 'refused', 40n, 'insufficient_funds'), account: account(10n, 0n, 5n), commit: answer(no('withdraw_refused')), rollback: answer(ok('refused')) },
    { ledger: 'either', state: 'teleported (unknown)', op: row('withdraw', 'teleported'), account: account(60n, 40n, 5n), commit: corrupt('withdraw in unknown state teleported'), rollback: corrupt('withdraw in unknown state teleported') },
    // The req_id's row is not a withdraw's.
    { ledger: 'either', state: 'deposit credited', op: row('deposit', 'credited'), account: account(40n, 0n, 1n), commit: answer(no('not_a_withdraw')), rollback: answer(no('not_a_withdraw')) },
    { ledger: 'either', state: 'credit credited', op: row('credit', 'credited'), account: account(40n, 0n, 1n), commit: answer(no('not_a_withdraw')), rollback: answer(no('not_a_withdraw')) },
    { ledger: 'either', state: 'deposit refused', op: row('deposit', 'refused', 40n, 'balance_overflow'), account: account(40n, 0n, 1n), commit: answer(no('not_a_withdraw')), rollback: answer(no('not_a_withdraw')) },
  ];
  const cells = table.flatMap((r) => (['commit', 'rollback'] as const).map((action: FinishAction) => ({ ...r, action, expected: r[action] })));
  it.each(cells)('$ledger, $state: $action', ({ action, op, account: before, expected }) => {
    expect(finishStep(action, CLAIMED, op, before)).toEqual(expected);
  });

  it('the table covers every withdraw state, an unknown one, and no row at all, for both actions', () => {
    const covered = new Set(cells.filter((c) => !c.op || c.op.kind === 'withdraw').map((c) => `${c.op?.state ?? '(none)'}/${c.action}`));
    const states = ['(none)', 'frozen', 'debited', 'committed', 'rolled_back', 'voided', 'refused', 'teleported'];
    expect([...covered].sort()).toEqual(states.flatMap((s) => [`${s}/commit`, `${s}/rollback`]).sort());
  });
});

describe('row vocabulary: what the store accepts when it reads a row', () => {
  it.each([
    ['withdraw', 'frozen', true],
    ['withdraw', 'debited', true],
    ['withdraw', 'committed', true],
    ['withdraw', 'rolled_back', true],
    ['withdraw', 'voided', true],
    ['withdraw', 'refused', true],
    ['withdraw', 'credited', false],
    ['deposit', 'credited', true],
    ['deposit', 'refused', true],
    ['deposit', 'frozen', false],
    ['credit', 'credited', true],
    ['credit', 'refused', true],
    ['credit', 'committed', false],
    ['teleport', 'credited', false],
    ['withdraw', null, false],
    [null, 'frozen', false],
  ])('account row %s/%s: %s', (kind, state, known) => {
    expect(isKnownOp(kind, state)).toBe(known);
  });

  it.each([
    ['withdraw', true],
    ['deposit', true],
    ['credit', true],
    ['tombstone', true],
    ['teleport', false],
    [null, false],
    [1, false],
  ])('claim kind %s: %s', (kind, known) => {
    expect(isClaimKind(kind)).toBe(known);
  });
});
