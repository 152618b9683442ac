// The coordinator with in-memory doubles: a store keeping the compare-and-set semantics of the Cassandra one
// (a write applies only on the state and version read) and scripted services. Every step's writes, calls,
// logs and metrics are asserted exactly; the same saga against Cassandra is coordinator.int.test.ts.
import { describe, expect, it } from 'vitest';
import type { LedgerAdapter } from '@it/adapters';
import { CorruptRowError } from '@it/cassandra';
import type { Account, Movement, Outcome } from '@it/domain';
import { isTerminal, type State } from '@it/fsm';
import { createWorkerMetrics, type Logger } from '@it/observability';
import type { CasResult, CompareAndSet, TransferRecord } from '@it/store';
import { Coordinator, type CoordinatorStore, type StepResult } from '../src/coordinator.ts';

const NOW = new Date('2026-01-02T03:04:05.000Z');
const CREATED = new Date('2026-01-02T03:04:00.000Z');
const LEASE_MS = 30_000;
const BACKOFF = { baseMs: 1_000, maxMs: 60_000 };
const REQ_ID = '2f1c6c0e-6f5e-4b7c-9a43-3a4c2b1d0e9f';
const MOVEMENT: Movement = { reqId: REQ_ID, userId: 1001n, assetId: 7, amount: 250n };

function record(state: State, over: Partial<TransferRecord> = {}): TransferRecord {
  return {
    ...MOVEMENT,
    source: 'funding',
    target: 'trading',
    state,
    version: 3,
    transitionId: 'previous',
    error: null,
    attempt: 0,
    nextAttemptAt: null,
    createdAt: CREATED,
    updatedAt: CREATED,
    retryRun: null,
    operatorRetry: null,
    ...over,
  };
}

/** The Cassandra store's contract in memory: `UPDATE … IF state = ? AND version = ?`, the winner's row on a loss. */
class MemoryStore implements CoordinatorStore {
  readonly writes: CompareAndSet[] = [];
  private row: TransferRecord | undefined;
  private nextId = 0;
  /** Runs before the next compare-and-set reaches the row: a rival worker's write. */
  rival: (() => void) | undefined;
  readError: Error | undefined;
  reads = 0;

  constructor(row?: TransferRecord) {
    this.row = row;
  }

  current(): TransferRecord | undefined {
    return this.row;
  }

  /** Another worker's write, outside this coordinator. */
  overwrite(state: State): void {
    if (this.row) this.row = { ...this.row, state, version: this.row.version + 1, transitionId: 'rival' };
  }

  remove(): void {
    this.row = undefined;
  }

  get(reqId: string): Promise<TransferRecord | undefined> {
    this.reads++;
    if (this.readError) return Promise.reject(this.readError);
    return Promise.resolve(this.row?.reqId === reqId ? this.row : undefined);
  }

  compareAndSet(req: CompareAndSet): Promise<CasResult> {
    this.writes.push(req);
    const rival = this.rival;
    this.rival = undefined;
    rival?.();
    const row = this.row;
    if (!row || row.state !== req.from.state || row.version !== req.from.version) {
      return Promise.resolve({ applied: false, current: row });
    }
    this.row = {
      ...row,
      state: req.to,
      // A write by way of another state records two changes, as the Cassandra store counts them.
      version: row.version + (req.via ? 2 : 1),
      transitionId: `t${++this.nextId}`,
      error: req.error,
      attempt: req.attempt,
      nextAttemptAt: isTerminal(req.to) ? null : req.nextAttemptAt,
      updatedAt: NOW,
    };
    return Promise.resolve({ applied: true, record: this.row });
  }
}

type Op = 'withdraw' | 'deposit' | 'commit' | 'rollback';

/** Answers from a script (then `success`), recording each call with its arguments and the stored state during it. */
class ScriptedService implements LedgerAdapter {
  readonly calls: { op: Op; arg: Movement | string; stateDuringCall: State | undefined }[] = [];
  private readonly script: (Outcome | Error)[] = [];
  constructor(readonly name: Account, private readonly store: MemoryStore) {}
  answer(...outcomes: (Outcome | Error)[]): this {
    this.script.push(...outcomes);
    return this;
  }
  private handle(op: Op, arg: Movement | string): Promise<Outcome> {
    this.calls.push({ op, arg, stateDuringCall: this.store.current()?.state });
    const next = this.script.shift() ?? { kind: 'success' };
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  }
  withdraw = (m: Movement) => this.handle('withdraw', m);
  deposit = (m: Movement) => this.handle('deposit', m);
  commit = (reqId: string) => this.handle('commit', reqId);
  rollback = (reqId: string) => this.handle('rollback', reqId);
  query = () => Promise.reject(new Error('the coordinator never queries'));
  close = () => Promise.resolve();
}

type LogLine = { level: 'debug' | 'info' | 'error'; fields: Record<string, unknown>; msg: string };

/** Records the three levels the coordinator writes; pino's Logger has many more members, never called here. */
function recordingLogger(lines: LogLine[]): Logger {
  const at = (level: LogLine['level']) => (fields: Record<string, unknown>, msg: string) => {
    lines.push({ level, fields, msg });
  };
  return { debug: at('debug'), info: at('info'), error: at('error') } as unknown as Logger;
}

function setup(row: TransferRecord | undefined, random = 0.5) {
  const store = new MemoryStore(row);
  const funding = new ScriptedService('funding', store);
  const trading = new ScriptedService('trading', store);
  const logs: LogLine[] = [];
  const metrics = createWorkerMetrics();
  const coordinator = new Coordinator(store, { funding, trading }, {
    backoff: BACKOFF,
    leaseMs: LEASE_MS,
    logger: recordingLogger(logs),
    metrics,
    clock: () => NOW,
    random: () => random,
  });
  return { store, funding, trading, logs, metrics, coordinator };
}

const at = (ms: number) => new Date(NOW.getTime() + ms);
const LEASE = at(LEASE_MS);

/** A metric's non-zero samples (counters start at zero for every known label) as `name{label=value,…} value`. */
async function samples(metric: { get(): Promise<{ values: { labels: object; value: number; metricName?: string }[] }> }) {
  const { values } = await metric.get();
  return values.filter((v) => v.value !== 0).map((v) => `${v.metricName ?? ''}${JSON.stringify(v.labels)} ${v.value}`);
}

/** A histogram's sum and count per label set observed at least once (label sets created at zero left out). */
async function histogram(metric: { get(): Promise<{ values: { labels: object; value: number; metricName?: string }[] }> }) {
  const { values } = await metric.get();
  const unobserved = new Set(values.filter((v) => v.metricName?.endsWith('_count') && v.value === 0).map((v) => JSON.stringify(v.labels)));
  return values
    .filter((v) => (v.metricName?.endsWith('_count') || v.metricName?.endsWith('_sum')) && !unobserved.has(JSON.stringify(v.labels)))
    .map((v) => ({ name: v.metricName?.replace(/^.*_/, ''), labels: v.labels, value: v.value }));
}

describe('one step from each resting state', () => {
  it('init: persists source_pending before withdrawing, then records source_done and target_pending in one write', async () => {
    const { store, funding, trading, coordinator, logs } = setup(record('init', { error: 'kept', attempt: 2 }));
    const r = await coordinator.step(REQ_ID);
    expect(funding.calls).toEqual([{ op: 'withdraw', arg: MOVEMENT, stateDuringCall: 'source_pending' }]);
    expect(trading.calls).toEqual([]);
    expect(store.writes.map(({ from, ...w }) => ({ from: [from.state, from.version], ...w }))).toEqual([
      { from: ['init', 3], to: 'source_pending', error: 'kept', attempt: 0, nextAttemptAt: LEASE, note: { event: 'begin', call: null, answer: null } },
      // A definite success clears the message: only a refusal's reason is ever a transfer's message. The
      // withdraw's outcome and the deposit's intent are one compare-and-set; the history names both changes.
      {
        from: ['source_pending', 4], to: 'target_pending', error: null, attempt: 0, nextAttemptAt: LEASE,
        via: { state: 'source_done', note: { event: 'success', call: 'funding.withdraw', answer: null } },
        note: { event: 'begin', call: null, answer: null },
      },
    ]);
    expect(r).toEqual({ kind: 'progressed', record: store.current() });
    expect(store.current()).toMatchObject({ state: 'target_pending', version: 6 });
    // Transitions are in the row's history: logged at debug.
    expect(logs).toEqual([
      { level: 'debug', fields: { req_id: REQ_ID, from: 'init', to: 'source_pending' }, msg: 'transfer moved' },
      { level: 'debug', fields: { req_id: REQ_ID, service: 'funding', op: 'withdraw', outcome: { kind: 'success' } }, msg: 'adapter call' },
      { level: 'debug', fields: { req_id: REQ_ID, from: 'source_pending', to: 'target_pending' }, msg: 'transfer moved' },
    ]);
  });

  it('a step from the record the last write returned reads nothing; a stale one loses to the row as it is', async () => {
    const { store, trading, coordinator } = setup(record('init'));
    const first = await coordinator.step(REQ_ID);
    expect(store.reads).toBe(1);
    const known = first.kind === 'progressed' ? first.record : undefined;
    expect(await coordinator.step(REQ_ID, known)).toEqual({ kind: 'progressed', record: store.current() });
    expect(store.reads).toBe(1);
    expect(trading.calls.map((c) => [c.op, c.stateDuringCall])).toEqual([['deposit', 'target_pending']]);
    // A rival moved the row after the record was returned: the write loses and reports the winner.
    const stale = store.current()!;
    store.overwrite('finalizing');
    expect(await coordinator.step(REQ_ID, stale)).toEqual({ kind: 'lost', current: store.current() });
  });

  it('source_done: persists target_pending before depositing to the target, then records finalizing', async () => {
    const { store, funding, trading, coordinator } = setup(record('source_done'));
    expect(await coordinator.step(REQ_ID)).toEqual({ kind: 'progressed', record: store.current() });
    expect(trading.calls).toEqual([{ op: 'deposit', arg: MOVEMENT, stateDuringCall: 'target_pending' }]);
    expect(funding.calls).toEqual([]);
    expect(store.writes.map((w) => w.to)).toEqual(['target_pending', 'finalizing']);
  });

  it('the legs follow the stored direction: trading → funding withdraws from trading and deposits to funding', async () => {
    const { funding, trading, coordinator } = setup(record('init', { source: 'trading', target: 'funding' }));
    await coordinator.step(REQ_ID);
    await coordinator.step(REQ_ID);
    expect(trading.calls.map((c) => c.op)).toEqual(['withdraw']);
    expect(funding.calls.map((c) => c.op)).toEqual(['deposit']);
  });

  it.each([
    {
      state: 'source_pending', service: 'funding', op: 'withdraw', arg: MOVEMENT,
      write: { to: 'target_pending', via: { state: 'source_done', note: { event: 'success', call: 'funding.withdraw', answer: null } }, note: { event: 'begin', call: null, answer: null } },
    },
    {
      state: 'target_pending', service: 'trading', op: 'deposit', arg: MOVEMENT,
      write: { to: 'finalizing', note: { event: 'success', call: 'trading.deposit', answer: null } },
    },
  ] as const)('$state: repeats the $op in flight without writing an intent first', async ({ state, service, op, arg, write }) => {
    const s = setup(record(state, { attempt: 4, error: 'pending: earlier' }));
    expect(await s.coordinator.step(REQ_ID)).toEqual({ kind: 'progressed', record: s.store.current() });
    expect(s[service].calls).toEqual([{ op, arg, stateDuringCall: state }]);
    // Progress resets the attempt counter; success clears the unknown outcome's detail (committed says null).
    expect(s.store.writes).toEqual([{
      from: record(state, { attempt: 4, error: 'pending: earlier' }), error: null, attempt: 0, nextAttemptAt: LEASE, ...write,
    }]);
  });

  it.each([
    { state: 'finalizing', op: 'commit', to: 'committed' },
    { state: 'compensating', op: 'rollback', to: 'rolled_back' },
  ] as const)('$state: $op on the source by req_id ends the transfer $to', async ({ state, op, to }) => {
    const { store, funding, trading, coordinator, metrics, logs } = setup(record(state));
    const r = await coordinator.step(REQ_ID);
    expect(funding.calls).toEqual([{ op, arg: REQ_ID, stateDuringCall: state }]);
    expect(trading.calls).toEqual([]);
    expect(r).toEqual({ kind: 'terminal', record: store.current() });
    // A terminal row keeps no next attempt.
    expect(store.current()).toMatchObject({ state: to, nextAttemptAt: null, attempt: 0 });
    expect(await samples(metrics.transfersFinished)).toEqual([`{"outcome":"${to}"} 1`]);
    // updatedAt − createdAt = 5 s.
    expect(await histogram(metrics.transferDuration)).toEqual([
      { name: 'sum', labels: { outcome: to }, value: 5 },
      { name: 'count', labels: { outcome: to }, value: 1 },
    ]);
    // One line at info per transfer, when it finishes.
    expect(logs.filter((l) => l.level === 'info')).toEqual([
      { level: 'info', fields: { req_id: REQ_ID, outcome: to, error: null, seconds: 5 }, msg: 'transfer finished' },
    ]);
  });

  it('a clock that went backwards never yields a negative transfer duration', async () => {
    const { coordinator, metrics } = setup(record('finalizing', { createdAt: new Date(NOW.getTime() + 2_000) }));
    await coordinator.step(REQ_ID);
    expect(await histogram(metrics.transferDuration)).toEqual([
      { name: 'sum', labels: { outcome: 'committed' }, value: 0 },
      { name: 'count', labels: { outcome: 'committed' }, value: 1 },
    ]);
  });

  it.each(['committed', 'rolled_back', 'failed'] as const)('%s: nothing to do, nothing written, nothing called', async (state) => {
    const { store, funding, trading, coordinator } = setup(record(state));
    expect(await coordinator.step(REQ_ID)).toEqual({ kind: 'terminal', record: record(state) });
    expect(store.writes).toEqual([]);
    expect([...funding.calls, ...trading.calls]).toEqual([]);
  });

  it('an unknown req_id is missing', async () => {
    const { coordinator, store } = setup(undefined);
    expect(await coordinator.step(REQ_ID)).toEqual({ kind: 'missing' });
    expect(store.writes).toEqual([]);
  });
});

describe('definite refusals', () => {
  it('the source refuses the withdraw: failed, with its reason, nothing else called', async () => {
    const { store, funding, trading, coordinator, metrics } = setup(record('source_pending', { error: 'pending: earlier' }));
    funding.answer({ kind: 'failed', reason: 'insufficient_funds' });
    const r = await coordinator.step(REQ_ID);
    expect(r).toEqual({ kind: 'terminal', record: store.current() });
    expect(store.current()).toMatchObject({ state: 'failed', error: 'insufficient_funds', attempt: 0, nextAttemptAt: null });
    expect(trading.calls).toEqual([]);
    expect(await samples(metrics.transfersFinished)).toEqual(['{"outcome":"failed"} 1']);
  });

  it('the target refuses the deposit: compensating, with its reason, and the rollback is the next call', async () => {
    const { store, funding, trading, coordinator } = setup(record('target_pending'));
    trading.answer({ kind: 'failed', reason: 'account_frozen' });
    expect(await coordinator.step(REQ_ID)).toEqual({ kind: 'progressed', record: store.current() });
    // The history written with the transition names the call and the refusal's reason.
    expect(store.writes[0]?.note).toEqual({ event: 'failed', call: 'trading.deposit', answer: 'account_frozen' });
    expect(store.current()).toMatchObject({ state: 'compensating', error: 'account_frozen', nextAttemptAt: LEASE });
    await coordinator.step(REQ_ID);
    expect(funding.calls.map((c) => [c.op, c.stateDuringCall])).toEqual([['rollback', 'compensating']]);
    expect(store.current()).toMatchObject({ state: 'rolled_back', error: 'account_frozen' });
  });
});

describe('unknown outcomes: same state, attempt + 1, retried after the backoff', () => {
  it('a pending answer keeps source_pending and schedules the withdraw again', async () => {
    const { store, funding, coordinator, metrics, logs } = setup(record('source_pending', { attempt: 2 }), 1);
    funding.answer({ kind: 'pending', detail: 'no reply within 500 ms' });
    const r = await coordinator.step(REQ_ID);
    // Attempt 3 with base 1 s: up to 4 s; random() = 1 takes the whole step.
    expect(r).toEqual({ kind: 'deferred', record: store.current(), retryAt: at(4_000) });
    expect(store.writes).toEqual([
      {
        from: record('source_pending', { attempt: 2 }), to: 'source_pending', error: 'pending: no reply within 500 ms', attempt: 3, nextAttemptAt: at(4_000),
        note: { event: 'pending', call: 'funding.withdraw', answer: 'pending: no reply within 500 ms' },
      },
    ]);
    expect(store.current()).toMatchObject({ state: 'source_pending', attempt: 3, nextAttemptAt: at(4_000) });
    expect(await samples(metrics.anomalies)).toEqual([]);
    expect(logs.filter((l) => l.level !== 'debug')).toEqual([]);
  });

  it('the backoff uses the injected random: 0 waits half the step', async () => {
    const { funding, coordinator } = setup(record('source_pending', { attempt: 2 }), 0);
    funding.answer({ kind: 'pending', detail: 'reset' });
    expect(await coordinator.step(REQ_ID)).toMatchObject({ kind: 'deferred', retryAt: at(2_000) });
  });

  it('a thrown adapter error is an unknown outcome with its message, never a refusal', async () => {
    const { store, trading, coordinator, metrics } = setup(record('target_pending'));
    trading.answer(new Error('socket hang up'));
    const r = await coordinator.step(REQ_ID);
    expect(r).toEqual({ kind: 'deferred', record: store.current(), retryAt: at(750) });
    expect(store.current()).toMatchObject({ state: 'target_pending', attempt: 1, error: 'pending: socket hang up' });
    expect(await histogram(metrics.adapterCalls)).toEqual([
      { name: 'sum', labels: { service: 'trading', operation: 'deposit', outcome: 'pending' }, value: expect.any(Number) },
      { name: 'count', labels: { service: 'trading', operation: 'deposit', outcome: 'pending' }, value: 1 },
    ]);
  });
});

describe('anomalies: a refused commit or rollback is retried and raised, never skipped', () => {
  // Compensating keeps the target's refusal in the row: it is the rolled_back transfer's message to come.
  it.each([
    { state: 'finalizing', kind: 'commit_refused', anomaly: 'source refused to commit a withdraw it had accepted', stored: null, kept: false },
    { state: 'compensating', kind: 'rollback_refused', anomaly: 'source refused to roll back a withdraw it had accepted', stored: 'insufficient_funds', kept: true },
  ] as const)('$state refused: $kind', async ({ state, kind, anomaly, stored, kept }) => {
    const { store, funding, coordinator, metrics, logs } = setup(record(state, { attempt: 1, error: stored }));
    funding.answer({ kind: 'failed', reason: 'rolled_back' });
    const r = await coordinator.step(REQ_ID);
    expect(r).toEqual({ kind: 'deferred', record: store.current(), retryAt: at(1_500) });
    const detail = `${anomaly}: rolled_back`;
    const error = kept ? stored : detail;
    expect(store.writes).toEqual([{
      from: record(state, { attempt: 1, error: stored }), to: state, error, attempt: 2, nextAttemptAt: at(1_500),
      note: { event: 'failed', call: `funding.${state === 'finalizing' ? 'commit' : 'rollback'}`, answer: detail },
    }]);
    expect(await samples(metrics.anomalies)).toEqual([`{"kind":"${kind}"} 1`]);
    expect(logs.filter((l) => l.level === 'error')).toEqual([
      { level: 'error', fields: { req_id: REQ_ID, state, error: detail }, msg: 'anomaly: retrying, needs attention' },
    ]);
    expect(await samples(metrics.transfersFinished)).toEqual([]);
  });
});

describe('lost compare-and-set races', () => {
  async function expectLost(s: ReturnType<typeof setup>, r: StepResult, expected: State) {
    expect(r).toEqual({ kind: 'lost', current: s.store.current() });
    expect(s.store.current()?.transitionId).toBe('rival');
    expect(await samples(s.metrics.casConflicts)).toEqual(['{} 1']);
    expect(s.logs.at(-1)).toEqual({
      level: 'info',
      fields: { req_id: REQ_ID, expected, found: 'source_pending' },
      msg: 'lost a compare-and-set race: another worker moved the transfer',
    });
  }

  it('losing the intent write: no call is made', async () => {
    const s = setup(record('init'));
    s.store.rival = () => s.store.overwrite('source_pending');
    const r = await s.coordinator.step(REQ_ID);
    expect(s.funding.calls).toEqual([]);
    await expectLost(s, r, 'init');
  });

  it('losing the outcome write after a definite answer', async () => {
    const s = setup(record('source_pending'));
    s.store.rival = () => s.store.overwrite('source_pending');
    await expectLost(s, await s.coordinator.step(REQ_ID), 'source_pending');
  });

  it('losing the outcome write after an unknown outcome', async () => {
    const s = setup(record('source_pending'));
    s.funding.answer({ kind: 'pending', detail: 'timeout' });
    s.store.rival = () => s.store.overwrite('source_pending');
    await expectLost(s, await s.coordinator.step(REQ_ID), 'source_pending');
  });

  it('the row vanished under the write: lost, with no winner to report', async () => {
    const s = setup(record('source_pending'));
    s.store.rival = () => s.store.remove();
    expect(await s.coordinator.step(REQ_ID)).toEqual({ kind: 'lost', current: undefined });
    expect(s.logs.at(-1)?.fields).toEqual({ req_id: REQ_ID, expected: 'source_pending', found: undefined });
  });
});

describe('an unreadable row', () => {
  it('is reported corrupt and counted, never processed', async () => {
    const { store, coordinator, metrics, logs, funding } = setup(record('init'));
    const error = new CorruptRowError('unknown state teleported');
    store.readError = error;
    expect(await coordinator.step(REQ_ID)).toEqual({ kind: 'corrupt', error });
    expect(await samples(metrics.anomalies)).toEqual(['{"kind":"corrupt_row"} 1']);
    expect(logs).toEqual([
      { level: 'error', fields: { req_id: REQ_ID, err: 'unknown state teleported' }, msg: 'transfer row unreadable: processing stopped' },
    ]);
    expect(funding.calls).toEqual([]);
    expect(await samples(metrics.stepDuration)).toEqual([]);
  });

  it('any other read error propagates: the job fails and is retried', async () => {
    const { store, coordinator, metrics } = setup(record('init'));
    store.readError = new Error('NoHostAvailable');
    await expect(coordinator.step(REQ_ID)).rejects.toThrow(new Error('NoHostAvailable'));
    expect(await samples(metrics.anomalies)).toEqual([]);
  });
});

describe('metrics of a step', () => {
  it('observes the step by the state it started from and its result, in seconds', async () => {
    const { coordinator, metrics } = setup(record('init'));
    await coordinator.step(REQ_ID);
    const [sum, count] = await histogram(metrics.stepDuration);
    expect(count).toEqual({ name: 'count', labels: { from_state: 'init', result: 'progressed' }, value: 1 });
    expect(sum?.labels).toEqual({ from_state: 'init', result: 'progressed' });
    // In-memory doubles answer in microseconds: anything near a second means a wrong unit.
    expect(sum?.value).toBeGreaterThan(0);
    expect(sum?.value).toBeLessThan(0.5);
  });

  it('observes each adapter call by service, operation and outcome, in seconds', async () => {
    const { funding, coordinator, metrics } = setup(record('source_pending'));
    funding.answer({ kind: 'failed', reason: 'insufficient_funds' });
    await coordinator.step(REQ_ID);
    const [sum, count] = await histogram(metrics.adapterCalls);
    expect(count).toEqual({ name: 'count', labels: { service: 'funding', operation: 'withdraw', outcome: 'failed' }, value: 1 });
    expect(sum?.value).toBeGreaterThan(0);
    expect(sum?.value).toBeLessThan(0.5);
  });

  it.each([
    { name: 'a corrupt row', state: 'init', prepare: (s: MemoryStore) => { s.readError = new CorruptRowError('bad'); }, kind: 'corrupt' },
    { name: 'an anomaly', state: 'finalizing', answer: { kind: 'failed', reason: 'no' }, kind: 'deferred' },
    { name: 'a lost race', state: 'source_pending', prepare: (s: MemoryStore) => { s.rival = () => s.overwrite('source_done'); }, kind: 'lost' },
    { name: 'a terminal move', state: 'finalizing', kind: 'terminal' },
  ] as { name: string; state: State; prepare?: (s: MemoryStore) => void; answer?: Outcome; kind: StepResult['kind'] }[])(
    'metrics are optional: $name without them',
    async ({ state, prepare, answer, kind }) => {
      const store = new MemoryStore(record(state));
      prepare?.(store);
      const funding = new ScriptedService('funding', store);
      if (answer) funding.answer(answer);
      const coordinator = new Coordinator(store, { funding, trading: new ScriptedService('trading', store) }, {
        backoff: BACKOFF,
        leaseMs: LEASE_MS,
        logger: recordingLogger([]),
        clock: () => NOW,
      });
      expect((await coordinator.step(REQ_ID)).kind).toBe(kind);
    },
  );

  it('runs without metrics and with the default clock and random', async () => {
    const store = new MemoryStore(record('source_pending'));
    const funding = new ScriptedService('funding', store).answer({ kind: 'pending', detail: 'timeout' });
    const coordinator = new Coordinator(store, { funding, trading: new ScriptedService('trading', store) }, {
      backoff: BACKOFF,
      leaseMs: LEASE_MS,
      logger: recordingLogger([]),
    });
    const before = Date.now();
    const r = await coordinator.step(REQ_ID);
    const after = Date.now();
    expect(r.kind).toBe('deferred');
    // Attempt 1: between half and the whole base delay after the real now.
    const retryAt = r.kind === 'deferred' ? r.retryAt.getTime() : Number.NaN;
    expect(retryAt).toBeGreaterThanOrEqual(before + 500);
    expect(retryAt).toBeLessThanOrEqual(after + 1_000);
  });
});
