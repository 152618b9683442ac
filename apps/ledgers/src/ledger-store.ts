// Durable balances of the reference ledgers (schema/ledger/001_ledger.cql). Every write is a lightweight
// transaction; an operation's record and its balance change are one conditional batch on the account's
// partition, so they apply together or not at all, and a req_id's first definite answer is stored forever.
// What to write and what to answer is decided by the pure rules (rules.ts); this file holds the statements
// and the compare-and-set retry loops.
import {
  CorruptRowError,
  StoreUnavailableError,
  conditionalWrite,
  storeError,
  type CassandraClient,
  type ResultSet,
  type Row,
} from '@it/cassandra';
import { MAX_AMOUNT, type Account, type Movement } from '@it/domain';
import { sleep } from '@it/runtime';
import type { AssetSet } from './assets.ts';
import { KeyedMutex } from './keyed-mutex.ts';
import {
  finishClaimAnswer, finishStep, isClaimKind, isKnownOp, movementClaimAnswer, movementReplay, planMovement, REASONS, success,
  type AccountState, type ClaimKind, type ClaimRow, type FinishAction, type LedgerAnswer, type LedgerWrite,
  type MovementKind, type OpRow, type Verdict,
} from './rules.ts';

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

/** Claims remembered by one process (a few hundred bytes each): a minute of withdraws at a few hundred a second. */
const REMEMBERED_CLAIMS = 20_000;

export interface LedgerStoreOptions {
  serialConsistency: number;
  assets: AssetSet;
  /** Bound on compare-and-set attempts of one operation against other processes writing the same account. */
  maxCasAttempts?: number;
  clock?: () => Date;
}

interface AccountKey {
  userId: bigint;
  assetId: number;
}

interface OpRead {
  op: OpRow | undefined;
  account: AccountState | undefined;
}

const Q = {
  claim:
    'INSERT INTO ops (ledger, req_id, kind, user_id, asset_id, amount, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS',
  readClaim: 'SELECT kind, user_id, asset_id, amount, reason FROM ops WHERE ledger = ? AND req_id = ?',
  // LIMIT 1: the static columns come with any row of the partition.
  readAccount: 'SELECT available, frozen, debited, version FROM accounts WHERE ledger = ? AND user_id = ? AND asset_id = ? LIMIT 1',
  // A full-primary-key read returns the static columns beside the row (and nothing when the row is absent).
  readOp:
    'SELECT available, frozen, debited, version, kind, amount, state, reason FROM accounts WHERE ledger = ? AND user_id = ? AND asset_id = ? AND req_id = ?',
  insertOp:
    'INSERT INTO accounts (ledger, user_id, asset_id, req_id, kind, amount, state, reason, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS',
  setBalance:
    'UPDATE accounts SET available = ?, frozen = ?, debited = ?, version = ? WHERE ledger = ? AND user_id = ? AND asset_id = ? IF version = ?',
  // Unconditional, but only ever inside a batch whose `IF version = ?` holds it to the state that was read.
  setState: 'UPDATE accounts SET state = ?, updated_at = ? WHERE ledger = ? AND user_id = ? AND asset_id = ? AND req_id = ?',
} as const;

/** A rule's answer; the corrupt row it found is an error, never an answer. */
function resolve(verdict: Verdict, what: string): LedgerAnswer {
  if (verdict.type === 'corrupt') throw new CorruptRowError(`${what}: ${verdict.problem}`);
  return verdict.answer;
}

export class LedgerStore {
  readonly counters: StoreCounters = { lwt: 0, reads: 0, serialReads: 0, casRetries: 0 };
  private readonly locks = new KeyedMutex();
  /**
   * Claims this process wrote or read, by ledger and req_id. A claim never changes once written (IF NOT
   * EXISTS, no TTL, never updated), so a commit or rollback following a withdraw this process handled finds
   * the account without reading the claim again. Bounded: the oldest is forgotten first.
   */
  private readonly claims = new Map<string, ClaimRow>();
  private readonly maxCasAttempts: number;
  private readonly clock: () => Date;

  constructor(
    private readonly client: CassandraClient,
    private readonly opts: LedgerStoreOptions,
  ) {
    this.maxCasAttempts = opts.maxCasAttempts ?? 32;
    this.clock = opts.clock ?? (() => new Date());
  }

  // ---- statements -------------------------------------------------------------------------------------

  private async read(query: string, params: unknown[], serial = false): Promise<ResultSet> {
    if (serial) this.counters.serialReads++;
    else this.counters.reads++;
    try {
      return await this.client.execute(query, params, {
        prepare: true,
        isIdempotent: true,
        ...(serial ? { consistency: this.opts.serialConsistency } : {}),
      });
    } catch (err) {
      throw storeError(err, 'read');
    }
  }

  /** An LWT; errors are rethrown raw so conditionalWrite can tell "certainly not applied" from "unknown". */
  private async lwt(query: string, params: unknown[]): Promise<ResultSet> {
    this.counters.lwt++;
    return this.client.execute(query, params, { prepare: true, isIdempotent: false });
  }

  private async lwtBatch(queries: { query: string; params: unknown[] }[]): Promise<ResultSet> {
    this.counters.lwt++;
    return this.client.batch(queries, { prepare: true, isIdempotent: false, logged: true });
  }

  /** The statements of a rule's write: the op row alone, or with the balance in one conditional batch. */
  private async write(ledger: Account, key: AccountKey, reqId: string, w: LedgerWrite): Promise<ResultSet> {
    const now = this.clock();
    const pk = [ledger, key.userId, key.assetId];
    const row =
      w.type === 'insert'
        ? { query: Q.insertOp, params: [...pk, reqId, w.kind, w.amount, w.state, w.reason, now, now] }
        : { query: Q.setState, params: [w.state, now, ...pk, reqId] };
    if (!w.balance) return this.lwt(row.query, row.params);
    const b = w.balance;
    return this.lwtBatch([row, { query: Q.setBalance, params: [b.available, b.frozen, b.debited, b.version, ...pk, b.ifVersion] }]);
  }

  async ping(): Promise<void> {
    await this.read('SELECT release_version FROM system.local', []);
  }

  // ---- rows ---------------------------------------------------------------------------------------------

  private toClaim(reqId: string, row: Row): ClaimRow {
    const kind = row.get('kind') as unknown;
    if (!isClaimKind(kind)) throw new CorruptRowError(`ops row ${reqId} has unknown kind ${JSON.stringify(kind)}`);
    return {
      kind,
      userId: (row.get('user_id') as bigint | null) ?? null,
      assetId: (row.get('asset_id') as number | null) ?? null,
      amount: (row.get('amount') as bigint | null) ?? null,
      reason: (row.get('reason') as string | null) ?? null,
    };
  }

  private toAccount(row: Row | null | undefined): AccountState {
    return {
      available: (row?.get('available') as bigint | null) ?? 0n,
      frozen: (row?.get('frozen') as bigint | null) ?? 0n,
      // Null on accounts written before debits were counted (schema/ledger/002).
      debited: (row?.get('debited') as bigint | null) ?? 0n,
      version: (row?.get('version') as bigint | null) ?? null,
    };
  }

  private toOp(reqId: string, row: Row): OpRow {
    const kind = row.get('kind') as unknown;
    const state = row.get('state') as unknown;
    if (!isKnownOp(kind, state)) {
      throw new CorruptRowError(`account row ${reqId} has unknown kind/state ${String(kind)}/${String(state)}`);
    }
    return {
      kind,
      amount: row.get('amount') as bigint,
      state: state as string,
      reason: (row.get('reason') as string | null) ?? null,
    };
  }

  private remember(ledger: Account, reqId: string, claim: ClaimRow): ClaimRow {
    const key = `${ledger}:${reqId}`;
    if (!this.claims.has(key)) {
      if (this.claims.size >= REMEMBERED_CLAIMS) this.claims.delete(this.claims.keys().next().value!);
      this.claims.set(key, claim);
    }
    return claim;
  }

  private async readClaim(ledger: Account, reqId: string, serial = false, remembered = true): Promise<ClaimRow | undefined> {
    const known = remembered ? this.claims.get(`${ledger}:${reqId}`) : undefined;
    if (known) return known;
    const row = (await this.read(Q.readClaim, [ledger, reqId], serial)).first();
    return row ? this.remember(ledger, reqId, this.toClaim(reqId, row)) : undefined;
  }

  private async readAccount(ledger: Account, key: AccountKey, serial = false): Promise<AccountState> {
    return this.toAccount((await this.read(Q.readAccount, [ledger, key.userId, key.assetId], serial)).first());
  }

  /** The op row with the account's balance, or only the balance (withAccount) when the row does not exist. */
  private async readOp(
    ledger: Account,
    key: AccountKey,
    reqId: string,
    opts: { serial?: boolean; withAccount?: boolean } = {},
  ): Promise<OpRead> {
    const serial = opts.serial ?? false;
    const [rs, account] = await Promise.all([
      this.read(Q.readOp, [ledger, key.userId, key.assetId, reqId], serial),
      // Only needed when the row turns out to be absent; read in parallel to save a round trip on retries.
      opts.withAccount ? this.readAccount(ledger, key, serial) : Promise.resolve(undefined),
    ]);
    const row = rs.first();
    if (!row) return { op: undefined, account };
    return { op: this.toOp(reqId, row), account: this.toAccount(row) };
  }

  /**
   * Claims req_id for an operation (IF NOT EXISTS). Returns the claim that holds the req_id now: ours
   * (fresh) or the one that was there first.
   */
  private async claim(ledger: Account, reqId: string, mine: ClaimRow): Promise<{ fresh: boolean; row: ClaimRow }> {
    const what = `${ledger} claim of ${reqId}`;
    const holder = async () => {
      const row = await this.readClaim(ledger, reqId, true);
      if (!row) throw new StoreUnavailableError(`${what}: neither applied nor found`);
      return row;
    };
    const r = await conditionalWrite(
      () => this.lwt(Q.claim, [ledger, reqId, mine.kind, mine.userId, mine.assetId, mine.amount, mine.reason, this.clock()]),
      holder,
      what,
    );
    // An unknown outcome settled: even when the holder is our own claim we answer as for a replay (not
    // fresh), which is always safe.
    if (r.settled) return { fresh: false, row: r.value };
    if (r.applied) return { fresh: true, row: this.remember(ledger, reqId, mine) };
    // A failed IF NOT EXISTS returns the current row; read it by name, and re-read if it is not there.
    const existing = r.rs.first();
    return {
      fresh: false,
      row: existing && existing.get('kind') != null ? this.remember(ledger, reqId, this.toClaim(reqId, existing)) : await holder(),
    };
  }

  /**
   * After a lost compare-and-set: throws once the attempts are spent, else pauses (jittered, growing) so the
   * rival's round can finish before the caller reads again.
   */
  private async backOff(attempt: number, what: string): Promise<void> {
    if (attempt >= this.maxCasAttempts) throw new StoreUnavailableError(`${what}: account too contended`);
    this.counters.casRetries++;
    await sleep(Math.random() * Math.min(2 * attempt, 20));
  }

  // ---- operations --------------------------------------------------------------------------------------

  /** withdraw (freeze on Funding, debit on Trading), deposit, or an admin credit. */
  async movement(ledger: Account, kind: MovementKind, m: Movement, opts: { refuse?: string } = {}): Promise<LedgerAnswer> {
    if (m.amount <= 0n || m.amount > MAX_AMOUNT) throw new RangeError('amount out of range');
    const upfront = !this.opts.assets.has(m.assetId) ? REASONS.unknownAsset : (opts.refuse ?? null);
    const mine: ClaimRow = { kind, userId: m.userId, assetId: m.assetId, amount: m.amount, reason: upfront };
    const { fresh, row: claim } = await this.claim(ledger, m.reqId, mine);
    const early = movementClaimAnswer(kind, m, claim);
    if (early) return early;

    const what = `${ledger} ${kind} ${m.reqId}`;
    return this.locks.run(accountKey(ledger, m), async () => {
      let account: AccountState;
      if (fresh) {
        // Our claim is new, so no row for this req_id can exist in the account yet.
        account = await this.readAccount(ledger, m);
      } else {
        // A replay: the row, when there is one, is the answer, and the balance is not needed.
        const { op } = await this.readOp(ledger, m, m.reqId);
        if (op) return resolve(movementReplay(kind, op), what);
        account = await this.readAccount(ledger, m);
      }
      for (let attempt = 1; ; attempt++) {
        const step = planMovement(ledger, kind, m.amount, account);
        const r = await conditionalWrite(
          () => this.write(ledger, m, m.reqId, step.write),
          // Unknown outcome: whatever row the req_id has now is its answer (ours or a rival's).
          () => this.readOp(ledger, m, m.reqId, { serial: true }),
          what,
        );
        if (r.settled && r.value.op) return resolve(movementReplay(kind, r.value.op), what);
        if (!r.settled && r.applied) return step.applied;
        await this.backOff(attempt, what);
        // SERIAL: completes any Paxos round in flight, so the next attempt starts from the latest balance.
        const read = await this.readOp(ledger, m, m.reqId, { serial: true, withAccount: true });
        if (read.op) return resolve(movementReplay(kind, read.op), what);
        account = read.account!;
      }
    });
  }

  async commit(ledger: Account, reqId: string): Promise<LedgerAnswer> {
    return this.finish(ledger, reqId, 'commit');
  }

  async rollback(ledger: Account, reqId: string): Promise<LedgerAnswer> {
    return this.finish(ledger, reqId, 'rollback');
  }

  private async finish(ledger: Account, reqId: string, action: FinishAction): Promise<LedgerAnswer> {
    let claim = await this.readClaim(ledger, reqId);
    if (!claim) {
      if (action === 'commit') return { status: 'not_found' };
      // Never seen: claim the req_id with a tombstone, so a withdraw arriving later is refused.
      const c = await this.claim(ledger, reqId, { kind: 'tombstone', userId: null, assetId: null, amount: null, reason: null });
      if (c.fresh) return success('tombstone');
      claim = c.row;
    }
    const early = finishClaimAnswer(action, claim);
    if (early) return early;
    const key = { userId: claim.userId!, assetId: claim.assetId! };
    const claimedAmount = claim.amount!;

    const what = `${ledger} ${action} ${reqId}`;
    return this.locks.run(accountKey(ledger, key), async () => {
      let read = await this.readOp(ledger, key, reqId);
      for (let attempt = 1; ; attempt++) {
        const step = finishStep(action, claimedAmount, read.op, read.account);
        if (step.type !== 'write') return resolve(step, what);
        const r = await conditionalWrite(
          () => this.write(ledger, key, reqId, step.write),
          () => this.readOp(ledger, key, reqId, { serial: true }),
          what,
        );
        if (!r.settled && r.applied) return step.applied;
        await this.backOff(attempt, what);
        // Lost: read again at SERIAL. Unknown outcome: the settling SERIAL read already shows the row as it is
        // now (finished by us or a rival, or still held), and the rules answer from it.
        read = r.settled ? r.value : await this.readOp(ledger, key, reqId, { serial: true });
      }
    });
  }

  async query(ledger: Account, reqId: string): Promise<OpView | undefined> {
    // The durable record, never this process's memory of it: reconciliation asks what the ledger holds.
    const claim = await this.readClaim(ledger, reqId, false, false);
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

  async balance(ledger: Account, userId: bigint, assetId: number): Promise<Balance> {
    const { available, frozen } = await this.readAccount(ledger, { userId, assetId });
    return { available, frozen };
  }
}

function accountKey(ledger: Account, k: AccountKey): string {
  return `${ledger}:${k.userId}:${k.assetId}`;
}
