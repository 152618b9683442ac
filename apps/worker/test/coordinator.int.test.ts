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

/** Idempotent by req_id like a real service; answers from a script, then `success`. */
class ScriptedService implements LedgerAdapter {
  readonly calls: { op: Op; reqId: string; stateDuringCall: State | undefined }[] = [];
  readonly applied = new Map<string, Set<Op>>();
  private readonly script: Partial<Record<Op, Outcome[]>> = {};
  constructor(readonly name: string) {}
  answer(op: Op, ...outcomes: Outcome[]) {
    (this.script[op] ??= []).push(...outcomes);
    return this;
  }
  private async handle(op: Op, reqId: string): Promise<Outcome> {
    this.calls.push({ op, reqId, stateDuringCall: (await store.get(reqId))?.state });
    const outcome = this.script[op]?.shift() ?? { kind: 'success' };
    if (outcome.kind === 'success') {
      const ops = this.applied.get(reqId) ?? new Set<Op>();
      ops.add(op);
      this.applied.set(reqId, ops);
    }
    return outcome;
  }
  withdraw = (op: Movement) => this.handle('withdraw', op.reqId);
  deposit = (op: Movement) => this.handle('deposit', op.reqId);
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
  });

  it('a source refusal ends in failed, and the target is never called', async () => {
    const s = setup();
    s.funding.answer('withdraw', { kind: 'failed', reason: 'insufficient_funds' });
    const reqId = await newTransfer();
    expect(await runToRest(s.coordinator, reqId)).toEqual(['terminal']);
    expect(await store.get(reqId)).toMatchObject({ state: 'failed', error: 'insufficient_funds' });
    expect(s.trading.calls).toHaveLength(0);
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
    expect(s.funding.applied.get(reqId)).toEqual(new Set(['withdraw', 'rollback']));
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
    expect(await store.get(reqId)).toMatchObject({ state: 'committed', attempt: 0 });
    expect(s.trading.calls.map((c) => c.op)).toEqual(['deposit', 'deposit', 'deposit']);
    expect(s.funding.calls.map((c) => c.op)).toEqual(['withdraw', 'commit']);
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
  });

  it('an adapter that throws is an unknown outcome', async () => {
    const s = setup();
    s.funding.withdraw = () => Promise.reject(new Error('socket hang up'));
    const reqId = await newTransfer();
    expect(await runToRest(s.coordinator, reqId)).toEqual(['deferred']);
    expect(await store.get(reqId)).toMatchObject({ state: 'source_pending', error: 'pending: socket hang up' });
  });

  it('two workers on the same transfer at once: one wins each step, each leg applied once', async () => {
    const s = setup();
    const other = new Coordinator(store, { funding: s.funding, trading: s.trading }, {
      backoff: { baseMs: 1000, maxMs: 60_000 }, leaseMs: 30_000, logger,
    });
    const reqId = await newTransfer();
    const results = await Promise.all([runToRest(s.coordinator, reqId), runToRest(other, reqId)]);
    expect((await store.get(reqId))?.state).toBe('committed');
    expect(results.flat().filter((k) => k === 'terminal').length).toBeGreaterThanOrEqual(1);
    // Calls may repeat (idempotent by req_id), effects may not.
    expect(s.funding.applied.get(reqId)).toEqual(new Set(['withdraw', 'commit']));
    expect(s.trading.applied.get(reqId)).toEqual(new Set(['deposit']));
    expect(s.funding.calls.filter((c) => c.op === 'rollback')).toHaveLength(0);
  });

  it('stops on an unreadable row instead of guessing', async () => {
    const s = setup();
    const reqId = await newTransfer();
    await client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['half_done', reqId, 'init'], { prepare: true });
    const r = await s.coordinator.step(reqId);
    expect(r.kind).toBe('corrupt');
    expect(s.funding.calls).toHaveLength(0);
    await client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['failed', reqId, 'half_done'], { prepare: true });
  });

  it('a transfer that does not exist is reported missing', async () => {
    expect((await setup().coordinator.step(randomUUID())).kind).toBe('missing');
  });
});
