// Unknown outcomes end to end: each saga call (withdraw, deposit, commit, rollback) either applied with its
// answer lost (the ledger drops the connection) or answered 503 before applying, through the real worker,
// HTTP adapter and reference ledgers. Once the faults are off the transfer must finish with every leg
// applied exactly once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '@it/domain';
import { eventually } from '../support/processes.ts';
import { newUserId, Product, tokenFor } from '../support/product.ts';

const product = new Product({
  basePort: 18380,
  // Fast retries keep each case to a few seconds; no sync wait, the tests follow the transfer themselves.
  workerEnv: { BACKOFF_BASE_MS: '50', BACKOFF_MAX_MS: '400' },
  apiEnv: { SYNC_WAIT_MS: '0' },
});
beforeAll(() => product.start().then(() => undefined));
afterAll(() => product.stop());
afterEach(async () => {
  await product.setFaults('funding', {});
  await product.setFaults('trading', {});
});

type Leg = 'withdraw' | 'deposit' | 'commit' | 'rollback';
type Fault = 'dropped' | '503';

const START = 10_000n;
const AMOUNT = 1_234n;
/** The calls already applied when each call is made (a rollback follows a refused deposit). */
const APPLIED_BEFORE: Record<Leg, Leg[]> = {
  withdraw: [],
  deposit: ['withdraw'],
  commit: ['withdraw', 'deposit'],
  rollback: ['withdraw'],
};
/** The state that names each call: the transfer sits in it while the call's outcome is unknown. */
const CALLING: Record<Leg, string> = {
  withdraw: 'source_pending',
  deposit: 'target_pending',
  commit: 'finalizing',
  rollback: 'compensating',
};

type Balance = { available: bigint; frozen: bigint };

/** Both ledgers' balances for a user who started with START on `from`, given which calls were applied. */
function expected(from: Account, to: Account, applied: ReadonlySet<Leg>): Record<Account, Balance> {
  const source = { available: START, frozen: 0n };
  const target = { available: 0n, frozen: 0n };
  // Funding is two-phase (withdraw freezes, commit releases the freeze); Trading debits at once.
  const twoPhase = from === 'funding';
  if (applied.has('withdraw')) {
    source.available -= AMOUNT;
    if (twoPhase) source.frozen += AMOUNT;
  }
  if (applied.has('deposit')) target.available += AMOUNT;
  if (applied.has('commit') && twoPhase) source.frozen -= AMOUNT;
  if (applied.has('rollback')) {
    source.available += AMOUNT;
    if (twoPhase) source.frozen -= AMOUNT;
  }
  return { [from]: source, [to]: target } as Record<Account, Balance>;
}

async function balances(user: string): Promise<Record<Account, Balance>> {
  return { funding: await product.balance('funding', user, 1), trading: await product.balance('trading', user, 1) };
}

/** Waits until the transfer sits in `state` with at least one unknown outcome recorded there. */
async function retriedIn(reqId: string, token: string, state: string) {
  return eventually(`${state} with retry_count ≥ 1`, async () => {
    const { body } = await product.getTransfer(reqId, token);
    return body.state === state && Number(body.retry_count) >= 1 ? body : undefined;
  }, 30_000, 50);
}

const pendingCalls = (ledger: Account, op: Leg) =>
  product.workerCounter('internal_transfer_adapter_call_duration_seconds_count', { service: ledger, operation: op, outcome: 'pending' });

// Commit is only seen on Funding's balance (Trading records it without a balance change), so commit
// cases run from Funding; the other legs run in both directions.
const cases: [Leg, Fault, Account, Account][] = [];
for (const fault of ['dropped', '503'] as const) {
  for (const leg of ['withdraw', 'deposit', 'commit', 'rollback'] as const) {
    cases.push([leg, fault, 'funding', 'trading']);
    if (leg !== 'commit') cases.push([leg, fault, 'trading', 'funding']);
  }
}

describe('unknown outcome on one call, then recovery', () => {
  it.each(cases)('%s answer %s (%s → %s): retried until known, every leg applied once', async (leg, fault, from, to) => {
    const user = newUserId();
    const token = tokenFor(user);
    await product.credit(from, user, 1, START);
    const faults: Record<string, number> = fault === 'dropped' ? { drop_response_rate: 1 } : { error_rate: 1 };
    const faulty: Account = leg === 'deposit' ? to : from;
    const pendingBefore = await pendingCalls(faulty, leg);
    // Commit and rollback go to the source, like the withdraw before them: hold the transfer at the
    // deposit (503 from the target) until the source's fault is in place, then let the deposit through
    // (or refuse it, for a rollback).
    const hold = leg === 'commit' || leg === 'rollback';
    await product.setFaults(hold ? to : faulty, hold ? { error_rate: 1 } : faults);
    const res = await product.transfer({ from, to, user_id: user, asset_id: 1, amount: AMOUNT.toString() }, { token });
    expect(res.status).toBe(202);
    const reqId = res.body.req_id;
    if (hold) {
      await retriedIn(reqId, token, 'target_pending');
      await product.setFaults(from, faults);
      await product.setFaults(to, leg === 'rollback' ? { refuse_rate: 1 } : {});
    }

    // The call's outcome was unknown to the worker (retry_count ≥ 1 in the state naming it); the ledger
    // applied it when its answer was dropped and not when it answered 503.
    await retriedIn(reqId, token, CALLING[leg]);
    expect(await pendingCalls(faulty, leg)).toBeGreaterThan(pendingBefore);
    const before = APPLIED_BEFORE[leg];
    const appliedSoFar = new Set<Leg>(fault === 'dropped' ? [...before, leg] : before);
    expect(await balances(user)).toEqual(expected(from, to, appliedSoFar));

    await product.setFaults(from, {});
    await product.setFaults(to, {});
    const final = leg === 'rollback' ? 'rolled_back' : 'committed';
    const done = await eventually('terminal', async () => {
      const { body } = await product.getTransfer(reqId, token);
      return ['committed', 'rolled_back', 'failed'].includes(body.state as string) ? body : undefined;
    }, 30_000, 50);
    expect(done.state).toBe(final);
    const legs: Leg[] = leg === 'rollback' ? ['withdraw', 'rollback'] : ['withdraw', 'deposit', 'commit'];
    expect(await balances(user)).toEqual(expected(from, to, new Set(legs)));
  });
});
