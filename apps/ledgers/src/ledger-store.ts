// Durable balances of the reference ledgers (schema/ledger/001_ledger.cql). Every write is a lightweight
// transaction; an operation's record and its balance change are one conditional batch on the account's
// partition, so they apply together or not at all, and a req_id's first definite answer is stored forever.
import cassandra from 'cassandra-driver';
import type { AssetSet } from './assets.ts';
import { CorruptLedgerRowError, LedgerUnavailableError, definitelyNotApplied } from './cassandra-errors.ts';
import { KeyedMutex } from './keyed-mutex.ts';

export const LEDGERS = ['funding', 'trading'] as const;
export type LedgerName = (typeof LEDGERS)[number];
export type MovementKind = 'withdraw' | 'deposit' | 'credit';
type ClaimKind = MovementKind | 'tombstone';

export const MAX_AMOUNT = 2n ** 63n - 1n;

export const REASONS = {
  insufficientFunds: 'insufficient_funds',
  unknownAsset: 'unknown_asset',
  /** A withdraw whose req_id was rolled back first, or a commit after a rollback. */
  rolledBack: 'rolled_back',
  /** A rollback after a commit: the withdraw is final. */
  alreadyCommitted: 'already_committed',
  /** The req_id is already used by an operation with other parameters. */
  conflict: 'req_id_conflict',
  notAWithdraw: 'not_a_withdraw',
  /** A commit of a withdraw that was refused. */
  withdrawRefused: 'withdraw_refused',
  balanceOverflow: 'balance_overflow',
  injected: 'injected_refusal',
} as const;

export interface Movement {
  reqId: string;
  userId: bigint;
  assetId: number;
  /** Minor units, 1..2^63-1. */
  amount: bigint;
}

export type LedgerAnswer =
  | { status: 'success'; state: string }
  | { status: 'failed'; reason: string }
  /** commit of a req_id this ledger has never seen: not definite, the withdraw may still be on its way. */
  | { status: 'not_found' }
  /** The withdraw is claimed but not applied yet (in flight elsewhere, or its caller died mid-way). */
  | { status: 'in_flight' };

export interface OpView {
  reqId: string;
  kind: ClaimKind;
  /** The definite outcome of the req_id's latest operation; `pending` while its withdraw/deposit is in flight. */
  status: 'success' | 'failed' | 'pending';
  state: string | null;
  reason: string | null;
  userId: bigint | null;
  assetId: number | null;
  amount: bigint | null;
}

export interface Balance {
  available: bigint;
  frozen: bigint;
}

/** Statement counts since start: how the docs' per-operation costs were measured. */
export interface StoreCounters {
  lwt: number;
  reads: number;
  serialReads: number;
  casRetries: number;
}

export interface LedgerStoreOptions {
  serialConsistency: number;
  assets: AssetSet;
  /** Bound on compare-and-set attempts of one operation against other processes writing the same account. */
  maxCasAttempts?: number;
  clock?: () => Date;
}

interface ClaimRow {
  kind: ClaimKind;
  userId: bigint | null;
  assetId: number | null;
  amount: bigint | null;
  reason: string | null;
}

interface AccountState {
  available: bigint;
  frozen: bigint;
  /** null: the account was never written. */
  version: bigint | null;
}

interface OpRow {
  kind: MovementKind;
  amount: bigint;
  state: string;
  reason: string | null;
}

const Q = {
  claim:
    'INSERT INTO ops (ledger, req_id, kind, user_id, asset_id, amount, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS',
  readClaim: 'SELECT kind, user_id, asset_id, amount, reason FROM ops WHERE ledger = ? AND req_id = ?',
  // LIMIT 1: the static columns come with any row of the partition.
  readAccount: 'SELECT available, frozen, version FROM accounts WHERE ledger = ? AND user_id = ? AND asset_id = ? LIMIT 1',
  // A full-primary-key read returns the static columns beside the row (and nothing when the row is absent).
  readOp:
    'SELECT available, frozen, version, kind, amount, state, reason FROM accounts WHERE ledger = ? AND user_id = ? AND asset_id = ? AND req_id = ?',
  insertOp:
    'INSERT INTO accounts (ledger, user_id, asset_id, req_id, kind, amount, state, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS',
  setBalance:
    'UPDATE accounts SET available = ?, frozen = ?, version = ? WHERE ledger = ? AND user_id = ? AND asset_id = ? IF version = ?',
  // Unconditional, but only ever inside a batch whose `IF version = ?` holds it to the state that was read.
  setState: 'UPDATE accounts SET state = ?, updated_at = ? WHERE ledger = ? AND user_id = ? AND asset_id = ? AND req_id = ?',
} as const;

const HELD_STATE: Record<LedgerName, string> = { funding: 'frozen', trading: 'debited' };
const WITHDRAW_STATES = new Set(['frozen', 'debited', 'committed', 'rolled_back', 'voided', 'refused']);
const CREDIT_STATES = new Set(['credited', 'refused']);
const CLAIM_KINDS = new Set<string>(['withdraw', 'deposit', 'credit', 'tombstone']);

const success = (state: string): LedgerAnswer => ({ status: 'success', state });
const refused = (reason: string): LedgerAnswer => ({ status: 'failed', reason });

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

export class LedgerStore {
  readonly counters: StoreCounters = { lwt: 0, reads: 0, serialReads: 0, casRetries: 0 };
  private readonly locks = new KeyedMutex();
  private readonly maxCasAttempts: number;
  private readonly clock: () => Date;

  constructor(
    private readonly client: cassandra.Client,
    private readonly opts: LedgerStoreOptions,
  ) {
    this.maxCasAttempts = opts.maxCasAttempts ?? 32;
    this.clock = opts.clock ?? (() => new Date());
  }

  // ---- statements -------------------------------------------------------------------------------------

  private async read(query: string, params: unknown[], serial = false): Promise<cassandra.types.ResultSet> {
    if (serial) this.counters.serialReads++;
    else this.counters.reads++;
    try {
      return await this.client.execute(query, params, {
        prepare: true,
        isIdempotent: true,
        ...(serial ? { consistency: this.opts.serialConsistency } : {}),
      });
    } catch (err) {
      throw new LedgerUnavailableError('cassandra: read failed', { cause: err });
    }
  }

  /** An LWT; errors are rethrown raw so the caller can tell "certainly not applied" from "unknown". */
  private async lwt(query: string, params: unknown[]): Promise<cassandra.types.ResultSet> {
    this.counters.lwt++;
    return this.client.execute(query, params, { prepare: true, isIdempotent: false });
  }

  private async lwtBatch(queries: { query: string; params: unknown[] }[]): Promise<cassandra.types.ResultSet> {
    this.counters.lwt++;
    return this.client.batch(queries, { prepare: true, isIdempotent: false, logged: true });
  }

  async ping(): Promise<void> {
    await this.read('SELECT release_version FROM system.local', []);
  }

  // ---- rows ---------------------------------------------------------------------------------------------

  private toClaim(reqId: string, row: cassandra.types.Row): ClaimRow {
    const kind = row.get('kind') as unknown;
    if (typeof kind !== 'string' || !CLAIM_KINDS.has(kind)) {
      throw new CorruptLedgerRowError(`ops row ${reqId} has unknown kind ${JSON.stringify(kind)}`);
    }
    return {
      kind: kind as ClaimKind,
      userId: (row.get('user_id') as bigint | null) ?? null,
      assetId: (row.get('asset_id') as number | null) ?? null,
      amount: (row.get('amount') as bigint | null) ?? null,
      reason: (row.get('reason') as string | null) ?? null,
    };
  }

  private toAccount(row: cassandra.types.Row | null | undefined): AccountState {
    return {
      available: (row?.get('available') as bigint | null) ?? 0n,
      frozen: (row?.get('frozen') as bigint | null) ?? 0n,
      version: (row?.get('version') as bigint | null) ?? null,
    };
  }

  private toOp(reqId: string, row: cassandra.types.Row): OpRow {
    const kind = row.get('kind') as unknown;
    const state = row.get('state') as unknown;
    const ok =
      (kind === 'withdraw' && typeof state === 'string' && WITHDRAW_STATES.has(state)) ||
      ((kind === 'deposit' || kind === 'credit') && typeof state === 'string' && CREDIT_STATES.has(state));
    if (!ok) throw new CorruptLedgerRowError(`account row ${reqId} has unknown kind/state ${String(kind)}/${String(state)}`);
    return {
      kind,
      amount: row.get('amount') as bigint,
      state,
      reason: (row.get('reason') as string | null) ?? null,
    };
  }

  private async readClaim(ledger: LedgerName, reqId: string, serial = false): Promise<ClaimRow | undefined> {
    const row = (await this.read(Q.readClaim, [ledger, reqId], serial)).first();
    return row ? this.toClaim(reqId, row) : undefined;
  }

  private async readAccount(ledger: LedgerName, userId: bigint, assetId: number, serial = false): Promise<AccountState> {
    return this.toAccount((await this.read(Q.readAccount, [ledger, userId, assetId], serial)).first());
  }

  /** The op row with the account's balance, or only the balance when the row does not exist. */
  private async readOp(
    ledger: LedgerName,
    key: { userId: bigint; assetId: number },
    reqId: string,
    opts: { serial?: boolean; withAccount?: boolean } = {},
  ): Promise<{ op: OpRow | undefined; account: AccountState | undefined }> {
    const serial = opts.serial ?? false;
    const [rs, account] = await Promise.all([
      this.read(Q.readOp, [ledger, key.userId, key.assetId, reqId], serial),
      // Only needed when the row turns out to be absent; read in parallel to save a round trip on retries.
      opts.withAccount ? this.readAccount(ledger, key.userId, key.assetId, serial) : Promise.resolve(undefined),
    ]);
    const row = rs.first();
    if (!row) return { op: undefined, account };
    return { op: this.toOp(reqId, row), account: this.toAccount(row) };
  }

  /**
   * Claims req_id for an operation (IF NOT EXISTS). Returns the claim that holds the req_id now: ours
   * (fresh) or the one that was there first.
   */
  private async claim(ledger: LedgerName, reqId: string, mine: ClaimRow): Promise<{ fresh: boolean; row: ClaimRow }> {
    try {
      const rs = await this.lwt(Q.claim, [
        ledger, reqId, mine.kind, mine.userId, mine.assetId, mine.amount, mine.reason, this.clock(),
      ]);
      if (rs.wasApplied()) return { fresh: true, row: mine };
      const existing = rs.first();
      // A failed IF NOT EXISTS returns the current row; read it by name, and re-read if it is not there.
      if (existing && existing.get('kind') != null) return { fresh: false, row: this.toClaim(reqId, existing) };
    } catch (err) {
      if (err instanceof CorruptLedgerRowError) throw err;
      if (definitelyNotApplied(err)) throw new LedgerUnavailableError('cassandra: claim failed', { cause: err });
      // Unknown outcome: the SERIAL read below finishes any in-flight round and shows who holds the req_id.
      // Even when it is our own claim we answer as for a replay (not fresh), which is always safe.
    }
    const row = await this.readClaim(ledger, reqId, true);
    if (!row) throw new LedgerUnavailableError(`claim of ${reqId} neither applied nor found`);
    return { fresh: false, row };
  }

  // ---- operations --------------------------------------------------------------------------------------

  /** withdraw (freeze on Funding, debit on Trading), deposit, or an admin credit. */
  async movement(
    ledger: LedgerName,
    kind: MovementKind,
    m: Movement,
    opts: { refuse?: string } = {},
  ): Promise<LedgerAnswer> {
    if (m.amount <= 0n || m.amount > MAX_AMOUNT) throw new RangeError('amount out of range');
    const upfront = !this.opts.assets.has(m.assetId) ? REASONS.unknownAsset : (opts.refuse ?? null);
    const mine: ClaimRow = { kind, userId: m.userId, assetId: m.assetId, amount: m.amount, reason: upfront };
    const { fresh, row: claim } = await this.claim(ledger, m.reqId, mine);
    if (claim.kind === 'tombstone') return refused(REASONS.rolledBack);
    if (claim.kind !== kind || claim.userId !== m.userId || claim.assetId !== m.assetId || claim.amount !== m.amount) {
      return refused(REASONS.conflict);
    }
    if (claim.reason !== null) return refused(claim.reason);

    return this.locks.run(accountKey(ledger, m), async () => {
      let account: AccountState;
      if (fresh) {
        // Our claim is new, so no row for this req_id can exist in the account yet.
        account = await this.readAccount(ledger, m.userId, m.assetId);
      } else {
        // A replay: the row, when there is one, is the answer, and the balance is not needed.
        const read = await this.readOp(ledger, m, m.reqId);
        if (read.op) return this.movementAnswer(kind, read.op);
        account = await this.readAccount(ledger, m.userId, m.assetId);
      }
      for (let attempt = 1; ; attempt++) {
        const outcome = await this.tryMovement(ledger, kind, m, account);
        if (outcome) return outcome;
        if (attempt >= this.maxCasAttempts) {
          throw new LedgerUnavailableError(`${ledger} ${kind} ${m.reqId}: account too contended`);
        }
        this.counters.casRetries++;
        await sleep(Math.random() * Math.min(2 * attempt, 20));
        // SERIAL: completes any Paxos round in flight, so the next attempt starts from the latest balance.
        const read = await this.readOp(ledger, m, m.reqId, { serial: true, withAccount: true });
        if (read.op) return this.movementAnswer(kind, read.op);
        account = read.account!;
      }
    });
  }

  /** One compare-and-set attempt. `undefined`: lost a race, read again and retry. */
  private async tryMovement(
    ledger: LedgerName,
    kind: MovementKind,
    m: Movement,
    account: AccountState,
  ): Promise<LedgerAnswer | undefined> {
    const now = this.clock();
    let available = account.available;
    let frozen = account.frozen;
    let state: string;
    let reason: string | null = null;
    if (kind === 'withdraw') {
      if (available < m.amount) {
        state = 'refused';
        reason = REASONS.insufficientFunds;
      } else {
        available -= m.amount;
        if (ledger === 'funding') frozen += m.amount;
        state = HELD_STATE[ledger];
      }
    } else if (account.available + account.frozen > MAX_AMOUNT - m.amount) {
      state = 'refused';
      reason = REASONS.balanceOverflow;
    } else {
      available += m.amount;
      state = 'credited';
    }
    const insert = {
      query: Q.insertOp,
      params: [ledger, m.userId, m.assetId, m.reqId, kind, m.amount, state, reason, now, now],
    };
    try {
      let rs: cassandra.types.ResultSet;
      if (state === 'refused') {
        // A refusal changes no balance: recording it once (IF NOT EXISTS) is enough to make it definite.
        rs = await this.lwt(insert.query, insert.params);
      } else {
        const version = account.version ?? 0n;
        rs = await this.lwtBatch([
          insert,
          { query: Q.setBalance, params: [available, frozen, version + 1n, ledger, m.userId, m.assetId, account.version] },
        ]);
      }
      if (rs.wasApplied()) return reason === null ? success(state) : refused(reason);
      return undefined;
    } catch (err) {
      if (err instanceof CorruptLedgerRowError) throw err;
      if (definitelyNotApplied(err)) throw new LedgerUnavailableError(`cassandra: ${kind} failed`, { cause: err });
      return this.settleMovement(ledger, kind, m, err);
    }
  }

  /** After a timeout of unknown outcome: whatever row the req_id has now is its answer (ours or a rival's). */
  private async settleMovement(ledger: LedgerName, kind: MovementKind, m: Movement, cause: unknown) {
    let op: OpRow | undefined;
    try {
      ({ op } = await this.readOp(ledger, m, m.reqId, { serial: true }));
    } catch (err) {
      throw new LedgerUnavailableError(`outcome of ${ledger} ${kind} ${m.reqId} is unknown`, { cause: [cause, err] });
    }
    return op ? this.movementAnswer(kind, op) : undefined;
  }

  private movementAnswer(kind: MovementKind, op: OpRow): LedgerAnswer {
    if (op.state === 'refused') return refused(op.reason ?? REASONS.insufficientFunds);
    // A rollback that arrived before the withdraw applied recorded a void row in its place.
    if (op.state === 'voided') return refused(REASONS.rolledBack);
    if (op.kind !== kind) return refused(REASONS.conflict);
    return success(op.state);
  }

  async commit(ledger: LedgerName, reqId: string): Promise<LedgerAnswer> {
    return this.finish(ledger, reqId, 'commit');
  }

  async rollback(ledger: LedgerName, reqId: string): Promise<LedgerAnswer> {
    return this.finish(ledger, reqId, 'rollback');
  }

  private async finish(ledger: LedgerName, reqId: string, action: 'commit' | 'rollback'): Promise<LedgerAnswer> {
    let claim = await this.readClaim(ledger, reqId);
    if (!claim) {
      if (action === 'commit') return { status: 'not_found' };
      // Never seen: claim the req_id with a tombstone, so a withdraw arriving later is refused.
      const c = await this.claim(ledger, reqId, { kind: 'tombstone', userId: null, assetId: null, amount: null, reason: null });
      if (c.fresh) return success('tombstone');
      claim = c.row;
    }
    if (claim.kind === 'tombstone') return action === 'rollback' ? success('tombstone') : refused(REASONS.rolledBack);
    if (claim.kind !== 'withdraw') return refused(REASONS.notAWithdraw);
    // Refused at claim time: nothing was frozen or debited.
    if (claim.reason !== null) return action === 'rollback' ? success('refused') : refused(REASONS.withdrawRefused);
    const key = { userId: claim.userId!, assetId: claim.assetId! };
    const amount = claim.amount!;

    return this.locks.run(accountKey(ledger, key), async () => {
      for (let attempt = 1; ; attempt++) {
        const serial = attempt > 1;
        const { op, account } = await this.readOp(ledger, key, reqId, { serial });
        const outcome = await this.tryFinish(ledger, reqId, action, key, amount, op, account);
        if (outcome) return outcome;
        if (attempt >= this.maxCasAttempts) {
          throw new LedgerUnavailableError(`${ledger} ${action} ${reqId}: account too contended`);
        }
        this.counters.casRetries++;
        await sleep(Math.random() * Math.min(2 * attempt, 20));
      }
    });
  }

  private async tryFinish(
    ledger: LedgerName,
    reqId: string,
    action: 'commit' | 'rollback',
    key: { userId: bigint; assetId: number },
    amount: bigint,
    op: OpRow | undefined,
    account: AccountState | undefined,
  ): Promise<LedgerAnswer | undefined> {
    const now = this.clock();
    const pk = [ledger, key.userId, key.assetId];
    if (!op) {
      if (action === 'commit') return { status: 'in_flight' };
      // The withdraw is claimed but not applied: void it, so it can never apply afterwards.
      const rs = await this.conditional(
        () => this.lwt(Q.insertOp, [...pk, reqId, 'withdraw', amount, 'voided', REASONS.rolledBack, now, now]),
        `${ledger} rollback ${reqId}`,
      );
      return rs === 'applied' ? success('voided') : undefined;
    }
    if (op.kind !== 'withdraw') return refused(REASONS.notAWithdraw);
    switch (op.state) {
      case 'frozen':
      case 'debited': {
        if (!account || account.version === null) {
          throw new CorruptLedgerRowError(`${ledger} withdraw ${reqId} is ${op.state} on an account without a version`);
        }
        let { available, frozen } = account;
        const twoPhase = op.state === 'frozen';
        if (twoPhase && frozen < op.amount) {
          throw new CorruptLedgerRowError(`${ledger} withdraw ${reqId}: frozen ${frozen} < ${op.amount}`);
        }
        if (action === 'commit') {
          if (twoPhase) frozen -= op.amount;
        } else {
          available += op.amount;
          if (twoPhase) frozen -= op.amount;
        }
        const next = action === 'commit' ? 'committed' : 'rolled_back';
        const rs = await this.conditional(
          () =>
            this.lwtBatch([
              { query: Q.setState, params: [next, now, ...pk, reqId] },
              { query: Q.setBalance, params: [available, frozen, account.version! + 1n, ...pk, account.version] },
            ]),
          `${ledger} ${action} ${reqId}`,
        );
        return rs === 'applied' ? success(next) : undefined;
      }
      case 'committed':
        return action === 'commit' ? success('committed') : refused(REASONS.alreadyCommitted);
      case 'rolled_back':
      case 'voided':
        return action === 'rollback' ? success(op.state) : refused(REASONS.rolledBack);
      case 'refused':
        return action === 'rollback' ? success('refused') : refused(REASONS.withdrawRefused);
      default:
        throw new CorruptLedgerRowError(`${ledger} withdraw ${reqId} has unknown state ${op.state}`);
    }
  }

  /**
   * Runs a conditional write. 'lost' (or an unknown outcome) sends the caller back to a SERIAL re-read,
   * which shows whether this write, a rival's, or none applied; the loop then answers from the row.
   */
  private async conditional(write: () => Promise<cassandra.types.ResultSet>, what: string): Promise<'applied' | 'lost'> {
    try {
      return (await write()).wasApplied() ? 'applied' : 'lost';
    } catch (err) {
      if (definitelyNotApplied(err)) throw new LedgerUnavailableError(`cassandra: ${what} failed`, { cause: err });
      return 'lost';
    }
  }

  async query(ledger: LedgerName, reqId: string): Promise<OpView | undefined> {
    const claim = await this.readClaim(ledger, reqId);
    if (!claim) return undefined;
    const view: OpView = {
      reqId,
      kind: claim.kind,
      status: 'success',
      state: null,
      reason: claim.reason,
      userId: claim.userId,
      assetId: claim.assetId,
      amount: claim.amount,
    };
    if (claim.kind === 'tombstone') return { ...view, state: 'tombstone' };
    if (claim.reason !== null) return { ...view, status: 'failed', state: 'refused' };
    const { op } = await this.readOp(ledger, { userId: claim.userId!, assetId: claim.assetId! }, reqId);
    if (!op) return { ...view, status: 'pending' };
    view.state = op.state;
    view.reason = op.reason;
    // The latest operation on a voided req_id is the rollback, which succeeded; the state says the rest.
    return op.state === 'refused' ? { ...view, status: 'failed' } : view;
  }

  async balance(ledger: LedgerName, userId: bigint, assetId: number): Promise<Balance> {
    const { available, frozen } = await this.readAccount(ledger, userId, assetId);
    return { available, frozen };
  }
}

function accountKey(ledger: LedgerName, k: { userId: bigint; assetId: number }): string {
  return `${ledger}:${k.userId}:${k.assetId}`;
}
