// Runs one saga step for a transfer: read the row (or take the one the previous step's compare-and-set
// wrote), persist the intent when the FSM says so, make the one adapter call the state names, and record its
// outcome with a compare-and-set (with the next call's intent when the FSM folds them into one write). The
// FSM decides; this file only performs.
import type { LedgerAdapter } from '@it/adapters';
import { CorruptRowError } from '@it/cassandra';
import { PENDING_CAUSES, pending, type Account, type Outcome, type OutcomeKind } from '@it/domain';
import { actionFor, isTerminal, transition, writeFor, type Event, type Leg, type Operation, type State } from '@it/fsm';
import type { Logger, WorkerMetrics } from '@it/observability';
import { backoffDelay, type BackoffPolicy } from '@it/queue';
import { errorMessage } from '@it/runtime';
import type { TransferRecord, TransferStore, TransitionNote } from '@it/store';

export type StepResult =
  /** Moved forward; run the next step at once. */
  | { kind: 'progressed'; record: TransferRecord }
  /** The call's outcome was unknown (or an anomaly): recorded, the same call is due again at `retryAt`. */
  | { kind: 'deferred'; record: TransferRecord; retryAt: Date }
  | { kind: 'terminal'; record: TransferRecord }
  /** Another worker changed the row first; it owns this step. */
  | { kind: 'lost'; current: TransferRecord | undefined }
  | { kind: 'missing' }
  /** The stored row cannot be read by this version: stop loudly, never guess. */
  | { kind: 'corrupt'; error: CorruptRowError };

export interface CoordinatorOptions {
  backoff: BackoffPolicy;
  /** How long a worker may hold a step before the sweeper considers the transfer abandoned. */
  leaseMs: number;
  logger: Logger;
  metrics?: WorkerMetrics;
  clock?: () => Date;
  random?: () => number;
}

export type Adapters = Record<Account, LedgerAdapter>;

const OPERATIONS = ['withdraw', 'deposit', 'commit', 'rollback'] as const satisfies readonly Operation[];
const OUTCOME_KINDS = ['success', 'failed', 'pending'] as const satisfies readonly OutcomeKind[];

/** The store methods a step uses: the Cassandra store in production, an in-memory double in unit tests. */
export type CoordinatorStore = Pick<TransferStore, 'get' | 'compareAndSet'>;

export class Coordinator {
  private readonly clock: () => Date;

  constructor(
    private readonly store: CoordinatorStore,
    private readonly adapters: Adapters,
    private readonly opts: CoordinatorOptions,
  ) {
    this.clock = opts.clock ?? (() => new Date());
    // At zero for every service, operation, outcome and cause, so a first refusal or unknown outcome shows in
    // increase()/rate() (a series born at 1 shows no increase).
    for (const { name: service } of Object.values(adapters)) {
      for (const reason of PENDING_CAUSES) opts.metrics?.adapterPending.inc({ service, reason }, 0);
      for (const operation of OPERATIONS) {
        for (const outcome of OUTCOME_KINDS) opts.metrics?.adapterCalls.zero({ service, operation, outcome });
      }
    }
  }

  /**
   * One step of `reqId`. `known`: the record this worker's last applied compare-and-set returned, used instead
   * of reading the row again. It is what the row held when that write applied; should another writer have
   * moved the row since, this step's compare-and-set loses, exactly as after a read that went stale.
   */
  async step(reqId: string, known?: TransferRecord): Promise<StepResult> {
    const started = process.hrtime.bigint();
    let read: TransferRecord | undefined = known;
    try {
      read ??= await this.store.get(reqId);
    } catch (err) {
      if (err instanceof CorruptRowError) {
        this.opts.metrics?.anomalies.inc({ kind: 'corrupt_row' });
        this.opts.logger.error({ req_id: reqId, err: err.message }, 'transfer row unreadable: processing stopped');
        return { kind: 'corrupt', error: err };
      }
      throw err;
    }
    if (!read) return { kind: 'missing' };
    const from = read.state;
    const result = await this.advance(read);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.opts.metrics?.stepDuration.observe({ from_state: from, result: result.kind }, seconds);
    return result;
  }

  private async advance(record: TransferRecord): Promise<StepResult> {
    if (isTerminal(record.state)) return { kind: 'terminal', record };
    let current = record;
    let action = actionFor(current.state);
    if (action.kind === 'begin') {
      // Intent before action: the state naming the call in flight is persisted before the call.
      const begun = await this.move(current, 'begin', { error: current.error, attempt: 0 }, { event: 'begin', call: null, answer: null });
      if (begun.kind !== 'progressed') return begun;
      current = begun.record;
      action = actionFor(current.state);
    }
    if (action.kind !== 'call') throw new Error(`state ${current.state} has no call to make`);
    const outcome = await this.call(current, action.leg, action.op);
    return this.record(current, outcome, `${current[action.leg]}.${action.op}`);
  }

  private async call(record: TransferRecord, leg: Leg, op: Operation): Promise<Outcome> {
    const adapter = this.adapters[record[leg]];
    const t0 = process.hrtime.bigint();
    let outcome: Outcome;
    try {
      switch (op) {
        case 'withdraw':
        case 'deposit':
          outcome = await adapter[op]({
            reqId: record.reqId,
            userId: record.userId,
            assetId: record.assetId,
            amount: record.amount,
          });
          break;
        case 'commit':
        case 'rollback':
          outcome = await adapter[op](record.reqId);
          break;
      }
    } catch (err) {
      // An adapter that throws has not proven anything: unknown outcome.
      outcome = pending(errorMessage(err), 'adapter_error');
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    this.opts.metrics?.adapterCalls.observe({ service: adapter.name, operation: op, outcome: outcome.kind }, seconds);
    if (outcome.kind === 'pending') this.opts.metrics?.adapterPending.inc({ service: adapter.name, reason: outcome.cause ?? 'unspecified' });
    this.opts.logger.debug({ req_id: record.reqId, service: adapter.name, op, outcome }, 'adapter call');
    return outcome;
  }

  /** Records `outcome` of `call` (e.g. `funding.withdraw`); the history written with it names both. */
  private async record(current: TransferRecord, outcome: Outcome, call: string): Promise<StepResult> {
    // An outcome is the saga's event: no translation between the two.
    const event: Event = outcome.kind;
    const t = transition(current.state, event);
    if (!t.ok) throw new Error(`coordinator bug: ${t.reason}`);
    if (event === 'pending' || t.anomaly) {
      const attempt = current.attempt + 1;
      const retryAt = new Date(this.clock().getTime() + backoffDelay(attempt, this.opts.backoff, this.opts.random));
      const detail =
        outcome.kind === 'pending'
          ? `pending: ${outcome.detail}`
          : `${t.anomaly ?? 'anomaly'}: ${outcome.kind === 'failed' ? outcome.reason : ''}`;
      // While compensating, the row keeps the target's refusal: it becomes the rolled_back transfer's message.
      // Elsewhere the last unknown outcome is there for operators until the step succeeds.
      const error = current.state === 'compensating' ? current.error : detail;
      if (t.anomaly) {
        this.opts.metrics?.anomalies.inc({ kind: current.state === 'finalizing' ? 'commit_refused' : 'rollback_refused' });
        this.opts.logger.error({ req_id: current.reqId, state: current.state, error: detail }, 'anomaly: retrying, needs attention');
      }
      const note = { event, call, answer: detail };
      const res = await this.store.compareAndSet({ from: current, to: t.to, error, attempt, nextAttemptAt: retryAt, note });
      if (!res.applied) return this.lost(current, res.current);
      return { kind: 'deferred', record: res.record, retryAt };
    }
    // The transfer's message is a definite refusal's reason (failed, and rolled_back after compensating), never
    // a detail of an unknown outcome that a later success settled: committed says null.
    const error = outcome.kind === 'failed' ? outcome.reason : current.state === 'compensating' ? current.error : null;
    const answer = outcome.kind === 'failed' ? outcome.reason : null;
    return this.move(current, event, { error, attempt: 0 }, { event, call, answer });
  }

  /**
   * Writes `event`'s transition. When the state it reaches only begins the next call (writeFor), that begin is
   * in the same write: the outcome is recorded, and the next call's intent made durable, by one compare-and-set.
   */
  private async move(
    current: TransferRecord,
    event: Event,
    fields: { error: string | null; attempt: number },
    note: TransitionNote,
  ): Promise<StepResult> {
    const w = writeFor(current.state, event);
    if (!w.ok) throw new Error(`coordinator bug: ${w.reason}`);
    const nextAttemptAt = new Date(this.clock().getTime() + this.opts.leaseMs);
    const res = await this.store.compareAndSet(
      w.via
        ? { from: current, to: w.to, ...fields, nextAttemptAt, via: { state: w.via, note }, note: { event: 'begin', call: null, answer: null } }
        : { from: current, to: w.to, ...fields, nextAttemptAt, note },
    );
    if (!res.applied) return this.lost(current, res.current);
    // Every transition is in the row's history (actor, time, call, answer): the log says it at debug only.
    this.opts.logger.debug({ req_id: current.reqId, from: current.state, to: w.to }, 'transfer moved');
    if (isTerminal(w.to)) {
      this.finished(res.record, w.to);
      return { kind: 'terminal', record: res.record };
    }
    return { kind: 'progressed', record: res.record };
  }

  private lost(current: TransferRecord, winner: TransferRecord | undefined): StepResult {
    this.opts.metrics?.casConflicts.inc();
    this.opts.logger.info(
      { req_id: current.reqId, expected: current.state, found: winner?.state },
      'lost a compare-and-set race: another worker moved the transfer',
    );
    return { kind: 'lost', current: winner };
  }

  private finished(record: TransferRecord, outcome: State): void {
    this.opts.metrics?.transfersFinished.inc({ outcome });
    const seconds = Math.max(0, (record.updatedAt.getTime() - record.createdAt.getTime()) / 1000);
    this.opts.metrics?.transferDuration.observe({ outcome }, seconds);
    this.opts.logger.info({ req_id: record.reqId, outcome, error: record.error, seconds }, 'transfer finished');
  }
}
