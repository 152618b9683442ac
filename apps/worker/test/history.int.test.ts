// A transfer's history against the real Cassandra: the entries written with each transition are exactly the
// transitions the row made (who, which call, what answer), retries are folded, and a worker that dies between
// a ledger call and the write of its outcome leaves no entry for an outcome it never wrote.
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { LedgerAdapter } from '@it/adapters';
import { cassandraSettings, loadBaseConfig } from '@it/config';
import { failed, pending, type Movement, type Outcome } from '@it/domain';
import { createLogger } from '@it/observability';
import { historyProblems, openTransferStore, type CompareAndSet, type HistoryEntry, type TransferStore } from '@it/store';
import { Coordinator, type CoordinatorStore } from '../src/coordinator.ts';

const config = loadBaseConfig({ ...process.env, NODE_ENV: 'test' });
const settings = cassandraSettings(config, config.CASSANDRA_KEYSPACE);
const a = openTransferStore(settings, { actor: 'worker-a' });
const b = openTransferStore(settings, { actor: 'worker-b' });
const api = openTransferStore(settings, { actor: 'api-1' });
afterAll(() => Promise.all([a.client.shutdown(), b.client.shutdown(), api.client.shutdown()]));
const logger = createLogger('history-test', 'silent');

type Op = 'withdraw' | 'deposit' | 'commit' | 'rollback';

/** Answers from a script per operation, then success. */
class Scripted implements LedgerAdapter {
  readonly calls: Op[] = [];
  private readonly script: Partial<Record<Op, Outcome[]>> = {};
  constructor(readonly name: string) {}
  answer(op: Op, ...outcomes: Outcome[]): this {
    (this.script[op] ??= []).push(...outcomes);
    return this;
  }
  private handle(op: Op): Promise<Outcome> {
    this.calls.push(op);
    return Promise.resolve(this.script[op]?.shift() ?? { kind: 'success' });
  }
  withdraw = (_m: Movement) => this.handle('withdraw');
  deposit = (_m: Movement) => this.handle('deposit');
  commit = (_r: string) => this.handle('commit');
  rollback = (_r: string) => this.handle('rollback');
  query = () => Promise.resolve<Outcome>(pending('not used'));
  close = () => Promise.resolve();
}

function coordinator(store: CoordinatorStore, funding: Scripted, trading: Scripted) {
  return new Coordinator(store, { funding, trading }, { backoff: { baseMs: 1_000, maxMs: 60_000 }, leaseMs: 30_000, logger });
}

let user = BigInt(Date.now()) * 1000n + 700n;
async function newTransfer(): Promise<string> {
  const reqId = randomUUID();
  await api.store.create({
    reqId, userId: user++, assetId: 1, amount: 500n, source: 'funding', target: 'trading', nextAttemptAt: new Date(Date.now() + 60_000),
  });
  return reqId;
}

/** Runs steps until the transfer is terminal (a deferred step is simply run again at once). */
async function finish(c: Coordinator, reqId: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await c.step(reqId);
    if (r.kind === 'terminal') return;
  }
  throw new Error('not terminal after 50 steps');
}

async function historyOf(reqId: string) {
  const read = await a.store.getWithHistory(reqId);
  if (!read) throw new Error(`no transfer ${reqId}`);
  return read;
}

/** The fields that say what happened, without times. */
const shape = (h: HistoryEntry[]) => h.map((e) => [e.version, e.from, e.to, e.event, e.call, e.answer, e.actor, e.retries, e.lastRetry]);

describe('transfer history', () => {
  it('happy path: one entry per transition, with the call, the worker and the creation by the API', async () => {
    const reqId = await newTransfer();
    await finish(coordinator(a.store, new Scripted('funding'), new Scripted('trading')), reqId);
    const { record, history } = await historyOf(reqId);
    expect(shape(history)).toEqual([
      [1, null, 'init', 'create', null, null, 'api-1', 0, null],
      [2, 'init', 'source_pending', 'begin', null, null, 'worker-a', 0, null],
      [3, 'source_pending', 'source_done', 'success', 'funding.withdraw', null, 'worker-a', 0, null],
      [4, 'source_done', 'target_pending', 'begin', null, null, 'worker-a', 0, null],
      [5, 'target_pending', 'finalizing', 'success', 'trading.deposit', null, 'worker-a', 0, null],
      [6, 'finalizing', 'committed', 'success', 'funding.commit', null, 'worker-a', 0, null],
    ]);
    expect(record).toMatchObject({ state: 'committed', version: 6, retryRun: null });
    expect(history.at(-1)!.at).toEqual(record.updatedAt);
    expect(history[0]!.at).toEqual(record.createdAt);
    expect(historyProblems(record, history)).toEqual([]);
  });

  it('unknown outcomes are folded into a run (count, first/last time, last answer) and into the entry that ends it', async () => {
    const reqId = await newTransfer();
    const trading = new Scripted('trading').answer('deposit', pending('timeout 1'), pending('timeout 2'), pending('HTTP 503'));
    const c = coordinator(a.store, new Scripted('funding'), trading);
    expect((await c.step(reqId)).kind).toBe('progressed');
    for (let i = 0; i < 3; i++) expect((await c.step(reqId)).kind).toBe('deferred');
    const during = await historyOf(reqId);
    // The run is on the row while it lasts; the history still ends at the last change of state.
    expect(during.record.retryRun).toMatchObject({ times: 3, lastAnswer: 'pending: HTTP 503', lastActor: 'worker-a' });
    expect(during.record.retryRun!.firstAt.getTime()).toBeLessThanOrEqual(during.record.retryRun!.lastAt.getTime());
    expect(during.history.map((e) => e.to)).toEqual(['init', 'source_pending', 'source_done', 'target_pending']);
    expect(historyProblems(during.record, during.history)).toEqual([]);

    await finish(c, reqId);
    const { record, history } = await historyOf(reqId);
    const deposit = history.find((e) => e.call === 'trading.deposit')!;
    expect(deposit).toMatchObject({ from: 'target_pending', to: 'finalizing', event: 'success', retries: 3, lastRetry: 'pending: HTTP 503', version: 8 });
    expect(deposit.firstRetryAt).toEqual(during.record.retryRun!.firstAt);
    expect(deposit.lastRetryAt).toEqual(during.record.retryRun!.lastAt);
    expect(history).toHaveLength(6);
    expect(record).toMatchObject({ state: 'committed', version: 9, retryRun: null });
    expect(historyProblems(record, history)).toEqual([]);
  });

  it('refusal and compensation: the refusal reason and the retried rollback are in the history', async () => {
    const reqId = await newTransfer();
    const funding = new Scripted('funding').answer('rollback', pending('reset'), pending('reset'));
    const trading = new Scripted('trading').answer('deposit', failed('insufficient_room'));
    await finish(coordinator(a.store, funding, trading), reqId);
    const { record, history } = await historyOf(reqId);
    expect(shape(history).slice(4)).toEqual([
      [5, 'target_pending', 'compensating', 'failed', 'trading.deposit', 'insufficient_room', 'worker-a', 0, null],
      [8, 'compensating', 'rolled_back', 'success', 'funding.rollback', null, 'worker-a', 2, 'pending: reset'],
    ]);
    expect(record).toMatchObject({ state: 'rolled_back', error: 'insufficient_room' });
    expect(historyProblems(record, history)).toEqual([]);
  });

  it('a worker dies after the call, before the outcome write: no entry for it; the next worker\'s outcome is recorded', async () => {
    const reqId = await newTransfer();
    // Worker A persists the intent, calls the withdraw, then dies before writing what the ledger answered.
    const dying: CoordinatorStore = {
      get: (id, opts) => a.store.get(id, opts),
      compareAndSet: (req: CompareAndSet) =>
        req.from.state === 'source_pending' ? Promise.reject(new Error('process killed')) : a.store.compareAndSet(req),
    };
    const fundingA = new Scripted('funding');
    await expect(coordinator(dying, fundingA, new Scripted('trading')).step(reqId)).rejects.toThrow('process killed');
    expect(fundingA.calls).toEqual(['withdraw']);
    const mid = await historyOf(reqId);
    expect(mid.record.state).toBe('source_pending');
    expect(mid.history.map((e) => [e.to, e.actor])).toEqual([['init', 'api-1'], ['source_pending', 'worker-a']]);
    expect(historyProblems(mid.record, mid.history)).toEqual([]);

    // Worker B picks it up: asks the same withdraw again (idempotent) and records it.
    const fundingB = new Scripted('funding');
    await finish(coordinator(b.store, fundingB, new Scripted('trading')), reqId);
    expect(fundingB.calls).toEqual(['withdraw', 'commit']);
    const { record, history } = await historyOf(reqId);
    expect(history.map((e) => [e.version, e.to, e.call, e.actor])).toEqual([
      [1, 'init', null, 'api-1'],
      [2, 'source_pending', null, 'worker-a'],
      [3, 'source_done', 'funding.withdraw', 'worker-b'],
      [4, 'target_pending', null, 'worker-b'],
      [5, 'finalizing', 'trading.deposit', 'worker-b'],
      [6, 'committed', 'funding.commit', 'worker-b'],
    ]);
    expect(historyProblems(record, history)).toEqual([]);
  });

  it('an outcome written but its reply lost before the worker dies: the entry is there once, the next worker goes on', async () => {
    const reqId = await newTransfer();
    const lossy: Pick<TransferStore, 'get' | 'compareAndSet'> = {
      get: (id, opts) => a.store.get(id, opts),
      compareAndSet: async (req: CompareAndSet) => {
        const res = await a.store.compareAndSet(req);
        if (req.from.state === 'source_pending') throw new Error('process killed after the write');
        return res;
      },
    };
    await expect(coordinator(lossy, new Scripted('funding'), new Scripted('trading')).step(reqId)).rejects.toThrow('killed');
    const fundingB = new Scripted('funding');
    await finish(coordinator(b.store, fundingB, new Scripted('trading')), reqId);
    // B found target_pending (the withdraw's outcome and the deposit's intent, one write): it never repeated the withdraw.
    expect(fundingB.calls).toEqual(['commit']);
    const { record, history } = await historyOf(reqId);
    expect(history.map((e) => [e.to, e.actor])).toEqual([
      ['init', 'api-1'], ['source_pending', 'worker-a'], ['source_done', 'worker-a'],
      ['target_pending', 'worker-a'], ['finalizing', 'worker-b'], ['committed', 'worker-b'],
    ]);
    expect(historyProblems(record, history)).toEqual([]);
  });

  it('two workers racing one step: only the winner\'s transition is in the history', async () => {
    const reqId = await newTransfer();
    const init = await a.store.get(reqId);
    const [ra, rb] = await Promise.all([
      a.store.compareAndSet({ from: init!, to: 'source_pending', error: null, attempt: 0, nextAttemptAt: new Date(), note: { event: 'begin', call: null, answer: null } }),
      b.store.compareAndSet({ from: init!, to: 'source_pending', error: null, attempt: 0, nextAttemptAt: new Date(), note: { event: 'begin', call: null, answer: null } }),
    ]);
    expect([ra.applied, rb.applied].filter(Boolean)).toHaveLength(1);
    const winner = ra.applied ? 'worker-a' : 'worker-b';
    const { record, history } = await historyOf(reqId);
    expect(history.map((e) => [e.version, e.to, e.actor])).toEqual([[1, 'init', 'api-1'], [2, 'source_pending', winner]]);
    expect(historyProblems(record, history)).toEqual([]);
  });
});
