// The coordinator against the real Cassandra store, with scripted services standing in for Funding and
// Trading (no I/O in them, so every outcome — including unknown ones — can be chosen per call).
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { LedgerAdapter } from '@it/adapters';
import { cassandraSettings, loadBaseConfig } from '@it/config';
import type { Movement, Outcome } from '@it/domain';
import type { State } from '@it/fsm';
import { createLogger } from '@it/observability';
import { openTransferStore, type NewTransfer } from '@it/store';
import { Coordinator } from '../src/coordinator.ts';

const config = loadBaseConfig({ ...process.env, NODE_ENV: 'test' });
const { client, store } = openTransferStore(cassandraSettings(config, config.CASSANDRA_KEYSPACE));
afterAll(() => client.shutdown());
const logger = createLogger('coordinator-test', 'silent');

type Op = 'withdraw' | 'deposit' | 'commit' | 'rollback';

/**
 * A ledger that answers from a script, then `success`. Like a real service it applies an operation once per
 * (req_id, op) — a repeat answers success again without moving money — and it counts every call it answered
 * success: a second one is what a service without that idempotency would have applied twice.
 */
class ScriptedService implements LedgerAdapter {
  readonly calls: { op: Op; reqId: string; stateDuringCall: State | undefined }[] = [];
  private readonly successes = new Map<string, Partial<Record<Op, number>>>();
  /** The user's balance change per transfer: withdraw takes the amount, rollback gives it back, deposit adds it. */
  private readonly moved = new Map<string, bigint>();
  private readonly amounts = new Map<string, bigint>();
  private readonly script: Partial<Record<Op, Outcome[]>> = {};
  constructor(readonly name: string) {}
  answer(op: Op, ...outcomes: Outcome[]) {
    (this.script[op] ??= []).push(...outcomes);
    return this;
  }
  /** Calls answered success, per op. */
  succeeded(reqId: string): Partial<Record<Op, number>> {
    return this.successes.get(reqId) ?? {};
  }
  /** What the transfer did to the user's balance on this service. */
  balanceChange(reqId: string): bigint {
    return this.moved.get(reqId) ?? 0n;
  }
  private async handle(op: Op, reqId: string, amount?: bigint): Promise<Outcome> {
    this.calls.push({ op, reqId, stateDuringCall: (await store.get(reqId))?.state });
    if (amount !== undefined) this.amounts.set(reqId, amount);
    const outcome = this.script[op]?.shift() ?? { kind: 'success' };
    if (outcome.kind !== 'success') return outcome;
    const counts = this.successes.get(reqId) ?? {};
    this.successes.set(reqId, counts);
    counts[op] = (counts[op] ?? 0) + 1;
    if (counts[op] === 1) {
      const a = this.amounts.get(reqId) ?? 0n;
      const delta = { withdraw: -a, deposit: a, rollback: a, commit: 0n }[op];
      this.moved.set(reqId, this.balanceChange(reqId) + delta);
    }
    return outcome;
  }
  withdraw = (op: Movement) => this.handle('withdraw', op.reqId, op.amount);
  deposit = (op: Movement) => this.handle('deposit', op.reqId, op.amount);
  commit = (reqId: string) => this.handle('commit', reqId);
  rollback = (reqId: string) => this.handle('rollback', reqId);
  query = () => Promise.resolve<Outcome>({ kind: 'pending', detail: 'not used' });
  close = () => Promise.resolve();
}

function setup() {
  const funding = new ScriptedService('funding');
  const trading = new ScriptedService('trading');
  const coordinator = new Coordinator(store, { funding, trading }, {
    backoff: { baseMs: 1000, maxMs: 60_000 },
    leaseMs: 30_000,
    logger,
  });
  return { funding, trading, coordinator };
}

let user = BigInt(Date.now()) * 1000n + 500n;
async function newTransfer(over: Partial<NewTransfer> = {}) {
  const t: NewTransfer = {
    reqId: randomUUID(), userId: user++, assetId: 1, amount: 250n, source: 'funding', target: 'trading',
    nextAttemptAt: new Date(Date.now() + 30_000), ...over,
  };
  await store.create(t);
  return t.reqId;
}

async function runToRest(coordinator: Coordinator, reqId: string) {
  const kinds: string[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await coordinator.step(reqId);
    kinds.push(r.kind);
    if (r.kind !== 'progressed') return kinds;
  }
  throw new Error('did not come to rest');
}

describe('coordinator', () => {
  it.each([
    ['funding', 'trading'],
    ['trading', 'funding'],
  ] as const)('%s → %s commits; every call was preceded by its persisted intent', async (source, target) => {
    const s = setup();
    const reqId = await newTransfer({ source, target });
    expect(await runToRest(s.coordinator, reqId)).toEqual(['progressed', 'progressed', 'terminal']);
    const stored = await store.get(reqId);
    expect(stored).toMatchObject({ state: 'committed', nextAttemptAt: null, error: null });
    const src = s[source];
    const dst = s[target];
    expect(src.calls.map((c) => [c.op, c.stateDuringCall])).toEqual([
      ['withdraw', 'source_pending'],
      ['commit', 'finalizing'],
    ]);
    expect(dst.calls.map((c) => [c.op, c.stateDuringCall])).toEqual([['deposit', 'target_pending']]);
    expect(src.succeeded(reqId)).toEqual({ withdraw: 1, commit: 1 });
    expect(dst.succeeded(reqId)).toEqual({ deposit: 1 });
    expect(src.balanceChange(reqId)).toBe(-250n);
    expect(dst.balanceChange(reqId)).toBe(250n);
  });

  it('a source refusal ends in failed, and the target is never called', async () => {
    const s = setup();
    s.funding.answer('withdraw', { kind: 'failed', reason: 'insufficient_funds' });
    const reqId = await newTransfer();
    expect(await runToRest(s.coordinator, reqId)).toEqual(['terminal']);
    expect(await store.get(reqId)).toMatchObject({ state: 'failed', error: 'insufficient_funds' });
    expect(s.funding.calls.map((c) => c.op)).toEqual(['withdraw']);
    expect(s.trading.calls).toHaveLength(0);
    expect(s.funding.balanceChange(reqId)).toBe(0n);
  });

  it('a target refusal compensates the source, then rolled_back', async () => {
    const s = setup();
    s.trading.answer('deposit', { kind: 'failed', reason: 'account_frozen' });
    const reqId = await newTransfer();
    expect(await runToRest(s.coordinator, reqId)).toEqual(['progressed', 'progressed', 'terminal']);
    expect(await store.get(reqId)).toMatchObject({ state: 'rolled_back', error: 'account_frozen' });
    expect(s.funding.calls.map((c) => [c.op, c.stateDuringCall])).toEqual([
      ['withdraw', 'source_pending'],
      ['rollback', 'compensating'],
    ]);
    expect(s.funding.succeeded(reqId)).toEqual({ withdraw: 1, rollback: 1 });
    expect(s.trading.succeeded(reqId)).toEqual({});
    // The user has their money back where it was, and nothing arrived on the other side.
    expect(s.funding.balanceChange(reqId)).toBe(0n);
    expect(s.trading.balanceChange(reqId)).toBe(0n);
  });

  it('a rollback with an unknown outcome first: rolled_back still says why the target refused', async () => {
    const s = setup();
    s.trading.answer('deposit', { kind: 'failed', reason: 'account_frozen' });
    s.funding.answer('rollback', { kind: 'pending', detail: 'timeout' });
    const reqId = await newTransfer();
    expect(await runToRest(s.coordinator, reqId)).toEqual(['progressed', 'progressed', 'deferred']);
    expect(await store.get(reqId)).toMatchObject({ state: 'compensating', attempt: 1, error: 'account_frozen' });
    expect(await runToRest(s.coordinator, reqId)).toEqual(['terminal']);
    expect(await store.get(reqId)).toMatchObject({ state: 'rolled_back', error: 'account_frozen' });
    expect(s.funding.succeeded(reqId)).toEqual({ withdraw: 1, rollback: 1 });
    expect(s.funding.balanceChange(reqId)).toBe(0n);
    expect(s.trading.balanceChange(reqId)).toBe(0n);
  });

  it('an unknown target outcome never compensates: it is recorded and asked again', async () => {
    const s = setup();
    s.trading.answer('deposit', { kind: 'pending', detail: 'timeout' }, { kind: 'pending', detail: 'reset' });
    const reqId = await newTransfer();
    const before = Date.now();
    expect(await runToRest(s.coordinator, reqId)).toEqual(['progressed', 'deferred']);
    const first = await store.get(reqId);
    expect(first).toMatchObject({ state: 'target_pending', attempt: 1, error: 'pending: timeout' });
    expect(first!.nextAttemptAt!.getTime()).toBeGreaterThanOrEqual(before + 500);
    expect(await runToRest(s.coordinator, reqId)).toEqual(['deferred']);
    expect(await store.get(reqId)).toMatchObject({ state: 'target_pending', attempt: 2 });
    expect(s.funding.calls.map((c) => c.op)).toEqual(['withdraw']);
    expect(await runToRest(s.coordinator, reqId)).toEqual(['progressed', 'terminal']);
    // The client's message: an unknown outcome that a success settled is no reason, so committed says null.
    expect(await store.get(reqId)).toMatchObject({ state: 'committed', attempt: 0, error: null });
    expect(s.trading.calls.map((c) => c.op)).toEqual(['deposit', 'deposit', 'deposit']);
    expect(s.funding.calls.map((c) => c.op)).toEqual(['withdraw', 'commit']);
    // Asked until it answered, then never again.
    expect(s.trading.succeeded(reqId)).toEqual({ deposit: 1 });
    expect(s.funding.succeeded(reqId)).toEqual({ withdraw: 1, commit: 1 });
    expect(s.funding.balanceChange(reqId)).toBe(-250n);
    expect(s.trading.balanceChange(reqId)).toBe(250n);
  });

  it('is not committed until the source commit succeeds; a refused commit is an anomaly, retried', async () => {
    const s = setup();
    s.funding.answer('commit', { kind: 'pending', detail: 'timeout' }, { kind: 'failed', reason: 'no_such_freeze' });
    const reqId = await newTransfer();
    expect(await runToRest(s.coordinator, reqId)).toEqual(['progressed', 'progressed', 'deferred']);
    expect((await store.get(reqId))?.state).toBe('finalizing');
    expect(await runToRest(s.coordinator, reqId)).toEqual(['deferred']);
    expect(await store.get(reqId)).toMatchObject({ state: 'finalizing', attempt: 2 });
    expect((await store.get(reqId))?.error).toContain('refused to commit');
    expect(await runToRest(s.coordinator, reqId)).toEqual(['terminal']);
    expect((await store.get(reqId))?.state).toBe('committed');
    expect(s.funding.calls.map((c) => c.op)).toEqual(['withdraw', 'commit', 'commit', 'commit']);
    expect(s.funding.succeeded(reqId)).toEqual({ withdraw: 1, commit: 1 });
    expect(s.trading.succeeded(reqId)).toEqual({ deposit: 1 });
    // The refused commit was never answered with a rollback.
    expect(s.funding.balanceChange(reqId)).toBe(-250n);
    expect(s.trading.balanceChange(reqId)).toBe(250n);
  });

  it('an adapter that throws is an unknown outcome', async () => {
    const s = setup();
    s.funding.withdraw = () => Promise.reject(new Error('socket hang up'));
    const reqId = await newTransfer();
    expect(await runToRest(s.coordinator, reqId)).toEqual(['deferred']);
    expect(await store.get(reqId)).toMatchObject({ state: 'source_pending', error: 'pending: socket hang up' });
    expect(s.trading.calls).toHaveLength(0);
  });

  it('two workers on the same step at once: both may call, one records; each leg moves the money once', async () => {
    const s = setup();
    const other = new Coordinator(store, { funding: s.funding, trading: s.trading }, {
      backoff: { baseMs: 1000, maxMs: 60_000 }, leaseMs: 30_000, logger,
    });
    const reqId = await newTransfer();
    // The intent is persisted (as by a worker that then stalled); both workers pick the transfer up there.
    const init = await store.get(reqId);
    const begun = await store.compareAndSet({ from: init!, to: 'source_pending', error: null, attempt: 0, nextAttemptAt: new Date() });
    expect(begun.applied).toBe(true);
    // Hold the withdraw until both workers are inside it, so both calls really overlap.
    let arrived = 0;
    let release!: () => void;
    const bothIn = new Promise<void>((r) => (release = r));
    const withdraw = s.funding.withdraw;
    s.funding.withdraw = async (m) => {
      if (++arrived === 2) release();
      await bothIn;
      return withdraw(m);
    };

    const results = await Promise.all([runToRest(s.coordinator, reqId), runToRest(other, reqId)]);
    expect(results.toSorted((a, b) => a.length - b.length)).toEqual([['lost'], ['progressed', 'progressed', 'terminal']]);
    expect(await store.get(reqId)).toMatchObject({ state: 'committed', error: null });
    expect(s.funding.calls.map((c) => c.op).toSorted()).toEqual(['commit', 'withdraw', 'withdraw']);
    expect(s.funding.calls.find((c) => c.op === 'commit')?.stateDuringCall).toBe('finalizing');
    // The duplicate withdraw carries the same req_id, so the service applies it once; everything after the
    // race is done by the winner alone.
    expect(s.funding.succeeded(reqId)).toEqual({ withdraw: 2, commit: 1 });
    expect(s.trading.succeeded(reqId)).toEqual({ deposit: 1 });
    expect(s.funding.balanceChange(reqId)).toBe(-250n);
    expect(s.trading.balanceChange(reqId)).toBe(250n);
  });

  it('stops on an unreadable row instead of guessing', async () => {
    const s = setup();
    const reqId = await newTransfer();
    await client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['half_done', reqId, 'init'], { prepare: true });
    const r = await s.coordinator.step(reqId);
    expect(r.kind).toBe('corrupt');
    expect(s.funding.calls).toHaveLength(0);
    expect(s.trading.calls).toHaveLength(0);
    await client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['failed', reqId, 'half_done'], { prepare: true });
  });

  it('a transfer that does not exist is reported missing', async () => {
    expect((await setup().coordinator.step(randomUUID())).kind).toBe('missing');
  });
});
