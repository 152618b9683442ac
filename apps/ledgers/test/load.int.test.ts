// Load on ONE account, real Cassandra: 200 concurrent withdraws of random amounts, split across two ledger
// instances (two "processes" racing on the account's compare-and-set), never overdraw it, and
// available + frozen + finalized is conserved through commits and rollbacks.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpAdapter, type LedgerAdapter } from '@it/adapters';
import type { Account, Movement, Outcome } from '@it/domain';
import { ledgerAdminClient, mulberry32, type RunningLedgers } from '../src/index.ts';
import { newUserId, startTestLedgers, testConfig } from './helpers.ts';

const config = testConfig();
const FUNDS = 10_000n;
const N = 200;
const MAX_WITHDRAW = 150;
const headers = { authorization: `Bearer ${config.LEDGER_SERVICE_TOKEN}` };

let a: RunningLedgers;
let b: RunningLedgers;
const adapters: LedgerAdapter[] = [];

beforeAll(async () => {
  a = await startTestLedgers(config);
  b = await startTestLedgers(config);
});
afterAll(async () => {
  await Promise.all(adapters.map((x) => x.close()));
  await Promise.all([a?.close(), b?.close()]);
});

/** Repeats with the same req_id while pending (the coordinator's behaviour); faults are off, so rarely. */
async function definite(call: () => Promise<Outcome>): Promise<Outcome> {
  for (let i = 0; i < 20; i++) {
    const out = await call();
    if (out.kind !== 'pending') return out;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('still pending after 20 attempts');
}

describe.each(['funding', 'trading'] as const)('%s: 200 concurrent withdraws on one account', (ledger: Account) => {
  it('never overdraws, conserves available + frozen + finalized, and replays give the same answers', async () => {
    const adapter = (name: string, baseUrl: string) => createHttpAdapter({ name, baseUrl, timeoutMs: 30_000, connections: 64, headers });
    const viaA = adapter(`${ledger}-a`, a.urls[ledger]);
    const viaB = adapter(`${ledger}-b`, b.urls[ledger]);
    adapters.push(viaA, viaB);
    const admin = ledgerAdminClient(a.urls[ledger], config.LEDGER_ADMIN_TOKEN);
    const userId = newUserId();
    await admin.credit(userId, 1, FUNDS);

    const random = mulberry32(ledger === 'funding' ? 7 : 8);
    const ops: Movement[] = Array.from({ length: N }, () => ({
      reqId: randomUUID(),
      userId,
      assetId: 1,
      amount: BigInt(1 + Math.floor(random() * MAX_WITHDRAW)),
    }));
    const via = (i: number) => (i % 2 === 0 ? viaA : viaB);
    const retriesBefore = a.store.counters.casRetries + b.store.counters.casRetries;

    let t0 = performance.now();
    const answers = await Promise.all(ops.map((o, i) => definite(() => via(i).withdraw(o))));
    const withdrawMs = performance.now() - t0;

    const succeeded = ops.filter((_, i) => answers[i]?.kind === 'success');
    const refusedOps = ops.filter((_, i) => answers[i]?.kind === 'failed');
    expect(succeeded.length + refusedOps.length).toBe(N);
    for (const [i, ans] of answers.entries()) {
      if (ans.kind === 'failed') expect(ans.reason, `withdraw ${i}`).toBe('insufficient_funds');
    }
    const taken = succeeded.reduce((s, o) => s + o.amount, 0n);
    expect(taken).toBeLessThanOrEqual(FUNDS);
    // Demand (~15k) exceeds the funds, so some were refused; each refusal was justified: the balance only
    // falls during this phase, so at its moment the remainder was at least the final remainder.
    expect(refusedOps.length).toBeGreaterThan(0);
    for (const o of refusedOps) expect(o.amount).toBeGreaterThan(FUNDS - taken);
    const twoPhase = ledger === 'funding';
    expect(await admin.balance(userId, 1)).toEqual(
      twoPhase ? { available: FUNDS - taken, frozen: taken } : { available: FUNDS - taken, frozen: 0n },
    );

    // The same 200 again, concurrently, through the other instance: the same answers, no effect.
    const replays = await Promise.all(ops.map((o, i) => definite(() => via(i + 1).withdraw(o))));
    expect(replays).toEqual(answers);
    expect(await admin.balance(userId, 1)).toEqual(
      twoPhase ? { available: FUNDS - taken, frozen: taken } : { available: FUNDS - taken, frozen: 0n },
    );

    // Commit every other success, roll back the rest (refused ones too: a harmless no-op), all at once.
    t0 = performance.now();
    const finishes = await Promise.all(
      ops.map((o, i) => {
        const commit = answers[i]?.kind === 'success' && i % 3 !== 0;
        return definite(() => (commit ? via(i).commit(o.reqId) : via(i).rollback(o.reqId))).then((out) => ({ o, commit, out }));
      }),
    );
    const finishMs = performance.now() - t0;
    for (const f of finishes) expect(f.out, f.o.reqId).toEqual({ kind: 'success' });
    const finalized = finishes.filter((f) => f.commit).reduce((s, f) => s + f.o.amount, 0n);
    const balance = await admin.balance(userId, 1);
    expect(balance).toEqual({ available: FUNDS - finalized, frozen: 0n });
    expect(balance.available + balance.frozen + finalized).toBe(FUNDS);

    const retries = a.store.counters.casRetries + b.store.counters.casRetries - retriesBefore;
    console.log(
      `[load] ${ledger}: ${N} concurrent withdraws in ${Math.round(withdrawMs)} ms ` +
        `(${succeeded.length} applied, ${refusedOps.length} refused, taken ${taken}/${FUNDS}); ` +
        `${N} commits/rollbacks in ${Math.round(finishMs)} ms; finalized ${finalized}; ` +
        `compare-and-set retries between the two instances: ${retries}`,
    );
  });
});
