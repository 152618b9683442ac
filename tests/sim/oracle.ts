// The invariants, checked at every write that could break one (a transfer row's compare-and-set, a ledger's
// operation row or balance) and again at quiescence. The oracle sees the world's ground truth (every row of
// the store and the ledgers), which no process in it can.
import type { Account } from '@it/domain';
import { isTerminal, STATES, writeTargets, type State } from '@it/fsm';
import type { TransferRecord } from '@it/store';
import { accountKey, type LedgerBook, type LedgerOp } from './ledger.ts';
import type { World } from './world.ts';

/** For each state, the states one applied write may lead to: the FSM's transitions and the writes folding two. */
const LEGAL = new Map<State, Set<State>>(STATES.map((s) => [s, writeTargets(s)]));

/** A withdraw that holds or has taken the money from the account's available balance. */
const TAKEN = new Set(['frozen', 'debited', 'committed']);
const HELD = new Set(['frozen', 'debited']);

interface Stray {
  ledger: Account;
  userId: bigint;
  assetId: number;
  amount: bigint;
}

export class Oracle {
  readonly rows = new Map<string, TransferRecord>();
  readonly strays = new Map<string, Stray>();
  private readonly byAccount = new Map<string, string[]>();
  /** Each user's and asset's money over both ledgers at the start. */
  private readonly opening = new Map<string, bigint>();
  /** Transition markers of every write that applied. */
  private readonly applied = new Set<string>();
  /** `ledger:req_id` of every rollback a ledger answered success. */
  private readonly undone = new Set<string>();
  readonly violations: string[] = [];
  /** Transfers not in a terminal state. */
  active = 0;
  /** Stray withdraws whose rollback no ledger has answered with success yet. */
  unresolvedStrays = 0;
  books!: Record<Account, LedgerBook>;

  constructor(private readonly world: World) {}

  get failed(): boolean {
    return this.violations.length > 0;
  }

  private fail(message: string): void {
    const line = `t=${(this.world.now / 1000).toFixed(3)}s event ${this.world.events}: ${message}`;
    this.violations.push(line);
    this.world.log(() => `VIOLATION ${message}`);
  }

  setOpening(userId: bigint, assetId: number, total: bigint): void {
    this.opening.set(accountKey(userId, assetId), total);
  }

  private track(reqId: string, userId: bigint, assetId: number): void {
    const key = accountKey(userId, assetId);
    const list = this.byAccount.get(key) ?? [];
    list.push(reqId);
    this.byAccount.set(key, list);
  }

  onCreated(record: TransferRecord): void {
    this.rows.set(record.reqId, record);
    this.active++;
    this.track(record.reqId, record.userId, record.assetId);
  }

  addStray(reqId: string, stray: Stray): void {
    this.strays.set(reqId, stray);
    this.unresolvedStrays++;
    this.track(reqId, stray.userId, stray.assetId);
  }

  private op(ledger: Account, reqId: string): LedgerOp | undefined {
    return this.books[ledger].ops.get(reqId);
  }

  // ---- transfer rows --------------------------------------------------------------------------------------

  onRowWrite(prev: TransferRecord, next: TransferRecord): void {
    this.rows.set(next.reqId, next);
    this.applied.add(next.transitionId);
    this.active += Number(isTerminal(prev.state)) - Number(isTerminal(next.state));
    if (!LEGAL.get(prev.state)!.has(next.state)) {
      this.fail(`${next.reqId}: ${prev.state} → ${next.state} applied, which is no transition of the FSM (a write that did not start from the state it replaced)`);
    }
    if (isTerminal(next.state)) this.checkTerminal(next, 'written');
  }

  /** A worker announces a transition (live event streams) only when its write applied. */
  onAnnounced(record: TransferRecord): void {
    if (!this.applied.has(record.transitionId)) {
      this.fail(`${record.reqId}: ${record.state}#${record.version} announced, but that write never applied`);
    }
  }

  /** What a terminal state promises about both legs. */
  private checkTerminal(t: TransferRecord, when: string): void {
    const src = this.op(t.source, t.reqId);
    const tgt = this.op(t.target, t.reqId);
    const credited = tgt?.kind === 'deposit' && tgt.state === 'credited';
    const s = src ? src.state : 'absent';
    switch (t.state) {
      case 'committed':
        if (src?.state !== 'committed') this.fail(`${t.reqId}: committed ${when} while the source's withdraw is ${s}: committed before the source's commit`);
        if (!credited) this.fail(`${t.reqId}: committed ${when} while the target's deposit is ${tgt?.state ?? 'absent'}`);
        break;
      case 'rolled_back':
      case 'failed':
        if (src && TAKEN.has(src.state)) this.fail(`${t.reqId}: ${t.state} ${when} while the source's withdraw is ${s}: money taken and not given back`);
        if (credited) this.fail(`${t.reqId}: ${t.state} ${when} while the target credited the deposit: money created`);
        break;
      default:
        break;
    }
  }

  // ---- ledgers --------------------------------------------------------------------------------------------

  onRollbackAnswered(ledger: Account, reqId: string): void {
    const key = `${ledger}:${reqId}`;
    if (this.strays.has(reqId) && !this.undone.has(key)) this.unresolvedStrays--;
    this.undone.add(key);
  }

  onLedgerWrite(ledger: Account, reqId: string, before: LedgerOp | undefined, after: LedgerOp): void {
    if (before && !(before.kind === 'withdraw' && HELD.has(before.state))) {
      this.fail(`${ledger} ${reqId}: ${before.kind} ${before.state} changed again to ${after.state}: a leg applied twice`);
    }
    if (after.kind === 'withdraw' && HELD.has(after.state) && this.undone.has(`${ledger}:${reqId}`)) {
      this.fail(`${ledger} ${reqId}: a withdraw took ${after.amount} after the ledger had answered its rollback with success`);
    }
    const t = this.rows.get(reqId);
    if (t) {
      if (ledger === t.target && after.kind === 'deposit' && after.state === 'credited') {
        const src = this.op(t.source, reqId);
        if (!src || !TAKEN.has(src.state)) {
          this.fail(`${reqId}: the target credited ${after.amount} while the source's withdraw is ${src?.state ?? 'absent'}: money created`);
        }
      }
      if (ledger === t.source && after.state === 'rolled_back') {
        const tgt = this.op(t.target, reqId);
        if (tgt?.state === 'credited') this.fail(`${reqId}: the source was compensated after the target had applied the deposit`);
      }
    }
    this.checkMoney(after.userId, after.assetId);
  }

  /**
   * Money conserved for one user and asset: what both ledgers hold (available, plus Funding's frozen) and what is
   * in transit (taken by a source and not yet given by a target) add up to the opening total.
   */
  private checkMoney(userId: bigint, assetId: number): void {
    const key = accountKey(userId, assetId);
    const f = this.books.funding.account(userId, assetId);
    const tr = this.books.trading.account(userId, assetId);
    let total = f.available + f.frozen + tr.available;
    for (const reqId of this.byAccount.get(key) ?? []) total += this.inTransit(reqId);
    const opening = this.opening.get(key) ?? 0n;
    if (total !== opening) this.fail(`user ${userId} asset ${assetId}: ${total} held or in transit, ${opening} at the start: money not conserved`);
  }

  /** Taken from the source's available (Funding's frozen excepted: it is still counted there) minus given. */
  private inTransit(reqId: string): bigint {
    const t = this.rows.get(reqId);
    const source = t ? t.source : this.strays.get(reqId)!.ledger;
    const src = this.op(source, reqId);
    let v = 0n;
    if (src?.kind === 'withdraw' && (src.state === 'committed' || src.state === 'debited')) v += src.amount;
    if (t) {
      const tgt = this.op(t.target, reqId);
      if (tgt?.kind === 'deposit' && tgt.state === 'credited') v -= tgt.amount;
    }
    return v;
  }

  // ---- quiescence -----------------------------------------------------------------------------------------

  /** Once faults stopped and the world is still: every transfer terminal and consistent, nothing held. */
  checkQuiescent(deadlineMissed: boolean): void {
    for (const r of this.rows.values()) {
      if (!isTerminal(r.state)) {
        this.fail(`${r.reqId}: still ${r.state} (attempt ${r.attempt}, next attempt ${r.nextAttemptAt?.toISOString() ?? 'none'}) ${deadlineMissed ? 'at the liveness deadline' : 'at quiescence'}`);
      } else {
        this.checkTerminal(r, 'at quiescence');
      }
    }
    for (const ledger of ['funding', 'trading'] as const) {
      for (const [reqId, op] of this.books[ledger].ops) {
        if (HELD.has(op.state)) this.fail(`${ledger} ${reqId}: withdraw of ${op.amount} still ${op.state} with every transfer finished`);
      }
      for (const [key, a] of this.books[ledger].accounts) {
        if (a.frozen !== 0n || a.debited !== 0n) this.fail(`${ledger} account ${key}: frozen ${a.frozen}, debited ${a.debited} with every transfer finished`);
      }
    }
    for (const [key, opening] of this.opening) {
      const [user, asset] = key.split(':');
      const userId = BigInt(user!);
      const assetId = Number(asset);
      const total = this.books.funding.account(userId, assetId).available + this.books.trading.account(userId, assetId).available;
      if (total !== opening) this.fail(`user ${userId} asset ${assetId}: ${total} available at the end, ${opening} at the start`);
    }
  }
}
