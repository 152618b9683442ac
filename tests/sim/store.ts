// The transfer store in memory, with the semantics the saga relies on from Cassandra: one row per transfer,
// changed only by a compare-and-set on (state, version); Paxos rounds whose outcome the client does not learn
// (applied, not applied, or accepted by too few replicas and left in flight, which the next SERIAL read or LWT
// completes or discards); plain reads that do not see a round in flight; a SERIAL read that settles it.
// Each process gets its own client (a view) whose requests and replies travel with latency, so a reply can
// arrive after the row has moved on, and a crashed client's replies go nowhere.
import cassandra from 'cassandra-driver';
import { conditionalWrite, StoreUnavailableError, type ResultSet, type Row as CqlRow } from '@it/cassandra';
import { isTerminal } from '@it/fsm';
import type { CasResult, CompareAndSet, NewTransfer, ScanStats, TransferRecord } from '@it/store';
import type { CoordinatorStore } from '../../apps/worker/src/coordinator.ts';
import type { SweeperStore } from '../../apps/worker/src/sweeper.ts';
import type { Oracle } from './oracle.ts';
import type { Knobs } from './knobs.ts';
import { type Proc, type World } from './world.ts';

interface Row {
  rec: TransferRecord;
  /** A Paxos proposal accepted by too few replicas: the next round commits it or loses it, as drawn. */
  inFlight?: { next: TransferRecord; survives: boolean };
}

/** How one LWT ends, as the seed draws it. */
type CasFate = 'ok' | 'applied_unknown' | 'in_flight' | 'not_applied_unknown' | 'no_host';

/** The database: shared by every process, never crashes (its faults are the outcomes it leaves unknown). */
export class TransferDb {
  readonly rows = new Map<string, Row>();
  /** The active index: created transfers until a terminal write removes them. */
  readonly active = new Set<string>();
  private ids = 0;

  constructor(
    private readonly world: World,
    private readonly knobs: Knobs,
    private readonly oracle: Oracle,
  ) {}

  transitionId(): string {
    return `tr-${++this.ids}`;
  }

  /** Completes (or discards) a round left in flight: what any SERIAL read or LWT on the row does first. */
  private settle(row: Row): void {
    const p = row.inFlight;
    if (!p) return;
    row.inFlight = undefined;
    this.world.count(p.survives ? 'paxos round completed later' : 'paxos round lost');
    if (!p.survives) {
      this.world.log(() => `  db: the round left in flight on ${p.next.reqId} is lost`);
      return;
    }
    this.apply(row, p.next, '(a later round completed the one left in flight)');
  }

  private apply(row: Row, next: TransferRecord, how: string): void {
    const prev = row.rec;
    row.rec = next;
    this.world.log(() => `  db: ${next.reqId} ${prev.state}#${prev.version} → ${next.state}#${next.version} ${how}`);
    this.oracle.onRowWrite(prev, next);
  }

  create(t: NewTransfer, createdAt: Date): TransferRecord {
    const record: TransferRecord = {
      reqId: t.reqId,
      userId: t.userId,
      assetId: t.assetId,
      amount: t.amount,
      source: t.source,
      target: t.target,
      state: 'init',
      version: 1,
      transitionId: this.transitionId(),
      error: null,
      attempt: 0,
      nextAttemptAt: t.nextAttemptAt,
      createdAt,
      updatedAt: createdAt,
      retryRun: null,
      operatorRetry: null,
    };
    this.active.add(t.reqId);
    this.rows.set(t.reqId, { rec: record });
    this.oracle.onCreated(record);
    return record;
  }

  read(reqId: string, serial: boolean): TransferRecord | undefined {
    const row = this.rows.get(reqId);
    if (!row) return undefined;
    if (serial) this.settle(row);
    return row.rec;
  }

  /** `UPDATE transfers … IF state = ? AND version = ?`, ending as `fate` says. */
  cas(from: TransferRecord, next: TransferRecord, fate: CasFate, by: string): boolean | 'unknown' {
    const row = this.rows.get(from.reqId);
    if (!row) return false;
    this.settle(row);
    const holds = row.rec.state === from.state && row.rec.version === from.version;
    if (!holds) this.world.count('cas lost to a rival');
    if (fate !== 'ok') this.world.count(`cas ${fate.replaceAll('_', ' ')}`);
    switch (fate) {
      case 'ok':
        if (holds) this.apply(row, next, `(cas by ${by})`);
        return holds;
      case 'applied_unknown':
        if (holds) this.apply(row, next, `(cas by ${by}; the reply is lost)`);
        return 'unknown';
      case 'in_flight':
        if (holds) {
          const proposal = { next, survives: this.world.rng.chance(0.5) };
          row.inFlight = proposal;
          this.world.log(() => `  db: ${next.reqId} → ${next.state}#${next.version} accepted by too few replicas: in flight`);
          // Unless a SERIAL read or an LWT settles it first, the replicas' own retries do, some time later.
          this.world.at(this.world.rng.int(1, 5_000), () => {
            if (row.inFlight === proposal) this.settle(row);
          });
        }
        return 'unknown';
      case 'not_applied_unknown':
      case 'no_host':
        return 'unknown';
    }
  }

  unindex(reqId: string): void {
    this.active.delete(reqId);
  }

  drawFate(): CasFate {
    const r = this.world.rng;
    if (!r.chance(this.knobs.casUnknown)) return 'ok';
    return r.pick<CasFate>(['applied_unknown', 'applied_unknown', 'in_flight', 'not_applied_unknown', 'no_host']);
  }
}

/** What a driver error looks like when nothing left the client: `definitelyNotApplied` knows it. */
function noHostError(): Error {
  const inner = Object.assign(new Error('connection refused'), { requestNotWritten: true });
  return new cassandra.errors.NoHostAvailableError({ '10.0.0.1:9042': inner });
}

/** The driver's own ResultSet and Row classes (exported at run time; its typings declare them as interfaces). */
const driverTypes = cassandra.types as unknown as {
  Row: new (columns: { name: string }[]) => CqlRow;
  ResultSet: new (response: { rows: CqlRow[] }, host: string, triedHosts: object, speculative: number, consistency: number, agreement: boolean) => ResultSet;
};

/** An LWT's reply as the driver gives it: one row with `[applied]`. */
function casReply(applied: boolean): ResultSet {
  const row = new driverTypes.Row([{ name: '[applied]' }]);
  Object.assign(row, { '[applied]': applied });
  return new driverTypes.ResultSet({ rows: [row] }, '10.0.0.1:9042', {}, 0, cassandra.types.consistencies.serial, true);
}

/** One process's client of the transfer store: what the coordinator and the sweeper are given. */
export class SimTransferStore implements CoordinatorStore, SweeperStore {
  constructor(
    private readonly world: World,
    private readonly db: TransferDb,
    private readonly knobs: Knobs,
    private readonly proc: Proc,
    /** Planted bug `blind-cas-retry`: an unknown outcome is sent again on the row as read now. */
    private readonly blindRetry = false,
  ) {}

  /** A request to Cassandra: executed on arrival, its reply (or error) delivered to this process later. */
  private request<T>(what: () => string, exec: () => T): Promise<T> {
    const { world, knobs, proc } = this;
    const sender = proc.incarnation;
    world.inFlight++;
    return new Promise<T>((resolve, reject) => {
      world.at(knobs.dbLatency(), () => {
        world.inFlight--;
        let value: T;
        try {
          value = exec();
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err));
          world.deliver(proc, knobs.dbLatency(), () => reject(error), sender);
          return;
        }
        world.log(() => `  db: ${what()} (${proc.name})`);
        world.deliver(proc, knobs.dbLatency(), () => resolve(value), sender);
      });
    });
  }

  get(reqId: string, opts: { serial?: boolean } = {}): Promise<TransferRecord | undefined> {
    const serial = opts.serial ?? false;
    return this.request(
      () => `read${serial ? ' SERIAL' : ''} ${reqId}`,
      () => {
        if (this.world.rng.chance(this.knobs.storeFailure)) {
          this.world.count('store read failed');
          throw new StoreUnavailableError('cassandra: read transfer failed (simulated timeout)');
        }
        return this.db.read(reqId, serial);
      },
    );
  }

  /** The production store's compare-and-set (packages/store), over the real `conditionalWrite`. */
  async compareAndSet(req: CompareAndSet): Promise<CasResult> {
    const { from } = req;
    const now = this.world.date();
    const terminal = isTerminal(req.to);
    const next: TransferRecord = {
      ...from,
      state: req.to,
      // Two changes of state in one write (by way of `via`), as the production store counts them.
      version: from.version + (req.via ? 2 : 1),
      transitionId: this.db.transitionId(),
      error: req.error,
      attempt: req.attempt,
      nextAttemptAt: terminal ? null : req.nextAttemptAt,
      updatedAt: now,
    };
    if (this.blindRetry) return this.blindCompareAndSet(from, next);
    const write = await conditionalWrite(
      () => this.casStatement(from, next),
      () => this.get(from.reqId, { serial: true }),
      `write to transfer ${from.reqId}`,
    );
    // Settled: our transition marker in the row means our write won.
    const applied = write.settled ? write.value?.transitionId === next.transitionId : write.applied;
    if (!applied) return { applied: false, current: write.settled ? write.value : await this.get(from.reqId, { serial: true }) };
    if (terminal) await this.request(() => `unindex ${from.reqId}`, () => this.db.unindex(from.reqId));
    return { applied: true, record: next };
  }

  private casStatement(from: TransferRecord, next: TransferRecord): Promise<ResultSet> {
    const fate = this.db.drawFate();
    if (fate === 'no_host') return Promise.reject(noHostError());
    const sender = this.proc.incarnation;
    this.world.inFlight++;
    return new Promise<ResultSet>((resolve, reject) => {
      this.world.at(this.knobs.dbLatency(), () => {
        this.world.inFlight--;
        const r = this.db.cas(from, next, fate, this.proc.name);
        if (r !== true) this.world.log(() => `  db: cas ${from.reqId} ${from.state}#${from.version} → ${next.state} (${this.proc.name}): ${r === false ? 'not applied' : 'outcome unknown to the client'}`);
        this.world.deliver(
          this.proc,
          this.knobs.dbLatency(),
          () => (r === 'unknown' ? reject(new Error('Server timeout during write query (simulated)')) : resolve(casReply(r))),
          sender,
        );
      });
    });
  }

  /**
   * Planted bug `blind-cas-retry`: after an unknown outcome the write is sent again on the row as a plain read
   * shows it now, blind to whether the first one applied, instead of settling that with a SERIAL read.
   */
  private async blindCompareAndSet(from: TransferRecord, next: TransferRecord): Promise<CasResult> {
    let record = next;
    let applied: boolean;
    try {
      applied = (await this.casStatement(from, next)).first().get('[applied]') === true;
    } catch {
      const seen = await this.get(from.reqId);
      if (!seen) return { applied: false, current: undefined };
      record = { ...next, version: seen.version + 1, transitionId: this.db.transitionId() };
      applied = (await this.casStatement(seen, record)).first().get('[applied]') === true;
    }
    if (!applied) return { applied: false, current: await this.get(from.reqId, { serial: true }) };
    if (isTerminal(record.state)) await this.request(() => `unindex ${from.reqId}`, () => this.db.unindex(from.reqId));
    return { applied: true, record };
  }

  /**
   * The active index walked as the production scan does: the index entries as they are when read, then
   * each row with a read of its own; terminal rows' entries are cleaned, the others visited.
   */
  async scanActive(visit: (record: TransferRecord) => Promise<void> | void): Promise<ScanStats> {
    const stats: ScanStats = {
      epochs: 1, pages: 1, rowsRead: 0, active: 0, corrupt: [], cleaned: 0, epochsDropped: 0, failedEpochs: [],
    };
    const ids = await this.request(
      () => 'scan the active index',
      () => {
        if (this.world.rng.chance(this.knobs.storeFailure)) throw new StoreUnavailableError('cassandra: scan active transfers failed (simulated)');
        return [...this.db.active];
      },
    );
    for (const reqId of ids) {
      stats.rowsRead++;
      let record: TransferRecord | undefined;
      try {
        record = await this.get(reqId);
      } catch {
        stats.failedEpochs.push(reqId);
        continue;
      }
      if (!record) continue;
      if (isTerminal(record.state)) {
        await this.request(() => `clean index entry ${reqId}`, () => this.db.unindex(reqId));
        stats.cleaned++;
        continue;
      }
      stats.active++;
      await visit(record);
    }
    return stats;
  }
}
