// The chaos run's invariant checker. While the load and the faults run: every transfer an API reported
// terminal is checked against both ledgers' records of its req_id (each leg applied, once, as its outcome
// says), and sampled accounts are read in one SERIAL read each (balance and operation rows together): never
// negative, and the balance is exactly what its operations add up to. Once faults are off and the fleet has
// drained: every transfer terminal within the bound; per user and asset, the balance is the initial amount
// plus the committed transfers and nothing is held; every ledger operation belongs to a transfer (or the
// initial credit) and agrees with its outcome (reconciliation over the run); exactly one transfer per
// Idempotency-Key and none that no client asked for; every outcome a client was told is the stored one.
import { serialConsistency, type CassandraClient } from '@it/cassandra';
import type { Account } from '@it/domain';
import { isTerminal, type TerminalState } from '@it/fsm';
import { checkLeg, reconcile, type LedgerReaders } from '@it/reconciliation';
import { sleep } from '@it/runtime';
import type { TransferRecord, TransferStore } from '@it/store';
import { ADMIN_TOKEN } from '../support/product.ts';
import { ASSET_ID, type KeyRecord } from './load.ts';
import type { Random } from './random.ts';

export interface Violation {
  invariant: string;
  detail: string;
}

/** What a user had on each ledger before the load. */
export interface Funding {
  user: string;
  funding: bigint;
  trading: bigint;
  /** The req_ids of the admin credits that put it there (their operations are no transfer's). */
  creditIds: string[];
}

const TERMINAL = new Set(['committed', 'rolled_back', 'failed']);
/** Continuous leg checks queued beyond this are left to the final reconciliation. */
const MAX_QUEUED_CHECKS = 2_000;
const SAMPLE_EVERY_MS = 500;
/** Violations kept with their details (all are counted). */
const KEEP_DETAILS = 50;

/** An account as its ledger's partition holds it: the stored balance and its operation rows. */
export interface Book {
  available: bigint;
  frozen: bigint;
  debited: bigint;
  ops: { reqId: string; kind: string; amount: bigint; state: string }[];
}

/** What the operation rows of an account add up to (apps/ledgers/src/rules.ts: each state's effect). */
export function derive(ledger: Account, ops: Book['ops']): { available: bigint; frozen: bigint; debited: bigint } {
  let available = 0n;
  let frozen = 0n;
  let debited = 0n;
  for (const op of ops) {
    if ((op.kind === 'credit' || op.kind === 'deposit') && op.state === 'credited') available += op.amount;
    if (op.kind !== 'withdraw') continue;
    if (op.state === 'committed') available -= op.amount;
    if (op.state === 'frozen' || op.state === 'debited') {
      available -= op.amount;
      if (ledger === 'funding') frozen += op.amount;
      else debited += op.amount;
    }
  }
  return { available, frozen, debited };
}

export class InvariantChecker {
  readonly violations: Violation[] = [];
  /** Checks done, by invariant: a clean run shows what was looked at, not only that nothing was found. */
  readonly checked = new Map<string, number>();
  private violationCount = 0;
  private readonly queue: string[] = [];
  private readonly verified = new Set<string>();
  private skippedChecks = 0;
  private running = false;
  private tasks: Promise<void>[] = [];

  constructor(
    private readonly deps: {
      store: Pick<TransferStore, 'get' | 'scanActive' | 'forEachCreated'>;
      /** The ledgers' query of one req_id (the contract's, as reconciliation reads it). */
      readers: LedgerReaders;
      /** An account's partition as of one moment (cassandraBooks). */
      readBook: (ledger: Account, user: string) => Promise<Book | undefined>;
      /** An account's balance as its ledger answers it (httpBalances). */
      readBalance: (ledger: Account, user: string) => Promise<{ available: bigint; frozen: bigint }>;
      funding: Funding[];
      random: Random;
      log: (line: string) => void;
    },
  ) {}

  get count(): number {
    return this.violationCount;
  }

  get skipped(): number {
    return this.skippedChecks;
  }

  violate(invariant: string, detail: string): void {
    this.violationCount++;
    if (this.violations.length < KEEP_DETAILS) this.violations.push({ invariant, detail });
    this.deps.log(`VIOLATION ${invariant}: ${detail}`);
  }

  private tick(invariant: string, n = 1): void {
    this.checked.set(invariant, (this.checked.get(invariant) ?? 0) + n);
  }

  // ---- continuous ----------------------------------------------------------------------------------------

  /** An API answered for a key: a terminal answer is checked against the ledgers while the run goes on. */
  onAnswer(record: KeyRecord): void {
    if (!TERMINAL.has(record.status) || this.verified.has(record.reqId)) return;
    if (this.queue.length >= MAX_QUEUED_CHECKS) this.skippedChecks++;
    else this.queue.push(record.reqId);
  }

  startContinuous(): void {
    this.running = true;
    this.tasks = [
      ...Array.from({ length: 4 }, () => this.verifyLoop()),
      this.sampleLoop(),
    ];
  }

  async stopContinuous(): Promise<void> {
    this.running = false;
    await Promise.all(this.tasks);
    this.skippedChecks += this.queue.length;
    this.queue.length = 0;
  }

  private async verifyLoop(): Promise<void> {
    while (this.running) {
      const reqId = this.queue.shift();
      if (!reqId) {
        await sleep(100);
        continue;
      }
      const done = await this.verifyLegs(reqId).catch(() => false);
      // A ledger under fault injection may not answer its query: ask again later.
      if (!done) this.queue.push(reqId);
      else this.verified.add(reqId);
      if (!done) await sleep(50);
    }
  }

  /** Both legs of a terminal transfer against its ledgers; false when a ledger could not tell. */
  private async verifyLegs(reqId: string): Promise<boolean> {
    const record = await this.deps.store.get(reqId);
    if (!record || !isTerminal(record.state)) {
      this.violate('terminal outcomes are final', `${reqId} was answered terminal, the store says ${record?.state ?? 'no row'}`);
      return true;
    }
    const t = record as TransferRecord & { state: TerminalState };
    const readers = this.deps.readers;
    const legs = await Promise.all([readers[t.source].lookup(reqId), readers[t.target].lookup(reqId)]);
    const checks = [checkLeg(t, 'source', readers[t.source].name, legs[0]), checkLeg(t, 'target', readers[t.target].name, legs[1])];
    if (checks.some((c) => c.kind === 'unverified')) return false;
    this.tick('each leg applied once, as the outcome says (live)');
    for (const c of checks) if (c.kind === 'mismatch') this.violate(`ledger records agree with the outcome (${c.mismatch.kind})`, `${reqId}: ${c.mismatch.detail}`);
    return true;
  }

  private async sampleLoop(): Promise<void> {
    const { funding, random } = this.deps;
    while (this.running) {
      await sleep(SAMPLE_EVERY_MS);
      const user = funding[random.int(funding.length)]!.user;
      for (const ledger of ['funding', 'trading'] as const) {
        const book = await this.deps.readBook(ledger, user).catch(() => undefined);
        if (book) this.checkBook(ledger, user, book, 'live');
      }
    }
  }

  private checkBook(ledger: Account, user: string, book: Book, when: 'live' | 'final'): void {
    const d = derive(ledger, book.ops);
    this.tick(`balances never negative, equal to their operations (${when})`);
    if (book.available < 0n || book.frozen < 0n) this.violate('balances never negative', `${ledger} ${user}: available ${book.available}, frozen ${book.frozen}`);
    if (d.available !== book.available || d.frozen !== book.frozen || d.debited !== book.debited) {
      this.violate(
        'balances equal their operations',
        `${ledger} ${user}: stored ${book.available}/${book.frozen}/${book.debited}, operations add up to ${d.available}/${d.frozen}/${d.debited} (available/frozen/debited)`,
      );
    }
  }

  // ---- after the drain ------------------------------------------------------------------------------------

  /**
   * Waits until nothing is active (the store's active index) and every req_id the clients hold is terminal.
   * Resolves with the seconds it took, or undefined (a violation) when the bound passed first.
   */
  async drain(keys: Map<string, KeyRecord>, boundS: number): Promise<number | undefined> {
    const started = Date.now();
    const deadline = started + boundS * 1000;
    for (;;) {
      const stats = await this.deps.store.scanActive(() => undefined).catch(() => undefined);
      if (stats && stats.active === 0) {
        const records = await Promise.all([...keys.values()].map((k) => this.deps.store.get(k.reqId).catch(() => undefined)));
        if (records.every((r) => !r || isTerminal(r.state))) return (Date.now() - started) / 1000;
      }
      if (Date.now() > deadline) break;
      await sleep(500);
    }
    const active: string[] = [];
    await this.deps.store.scanActive((r) => void active.push(`${r.reqId} (${r.state}, attempt ${r.attempt}, ${r.error ?? 'no error'})`));
    this.violate('every transfer terminal within the drain bound', `${active.length} still active ${boundS} s after faults stopped: ${active.slice(0, 10).join('; ')}`);
    return undefined;
  }

  /** Every invariant over the whole run, once everything is terminal; returns the transfers by req_id. */
  async finalCheck(keys: Map<string, KeyRecord>, since: Date, until: Date): Promise<Map<string, TransferRecord>> {
    const rows = new Map<string, TransferRecord>();
    await this.deps.store.forEachCreated(since, until, (page) => {
      for (const { reqId, record } of page) {
        if (record && !(record instanceof Error)) rows.set(reqId, record);
        else if (record instanceof Error) this.violate('rows readable', `${reqId}: ${record.message}`);
      }
      return Promise.resolve();
    });
    this.checkKeys(keys, rows);
    await this.checkBalances(rows);
    await this.checkBooks(rows);
    await this.reconcile(since, until);
    return rows;
  }

  private checkKeys(keys: Map<string, KeyRecord>, rows: Map<string, TransferRecord>): void {
    const claimed = new Set<string>();
    for (const [key, k] of keys) {
      const existing = [...k.reqIds].filter((id) => rows.has(id));
      this.tick('one transfer per Idempotency-Key');
      if (existing.length !== 1) this.violate('one transfer per Idempotency-Key', `key ${key}: ${existing.length} transfers (${[...k.reqIds].join(', ')})`);
      for (const id of existing) claimed.add(id);
      const row = rows.get(k.reqId);
      if (TERMINAL.has(k.status)) {
        this.tick('terminal outcomes are final');
        if (row?.state !== k.status) this.violate('terminal outcomes are final', `key ${key}: answered ${k.status}, stored ${row?.state ?? 'nothing'}`);
      }
    }
    for (const id of rows.keys()) {
      if (!claimed.has(id)) this.violate('no transfer that no client asked for', `${id} matches no Idempotency-Key a client used`);
    }
  }

  /** Per user: the initial amount plus the committed transfers, nothing frozen. */
  private async checkBalances(rows: Map<string, TransferRecord>): Promise<void> {
    const net = new Map<string, bigint>();
    for (const r of rows.values()) {
      if (r.state !== 'committed') continue;
      const user = r.userId.toString();
      net.set(user, (net.get(user) ?? 0n) + (r.source === 'funding' ? r.amount : -r.amount));
    }
    for (const f of this.deps.funding) {
      const toTrading = net.get(f.user) ?? 0n;
      const [fb, tb] = await Promise.all([this.deps.readBalance('funding', f.user), this.deps.readBalance('trading', f.user)]);
      this.tick('balance = initial + committed transfers, nothing frozen');
      const want = { funding: f.funding - toTrading, trading: f.trading + toTrading };
      if (fb.available !== want.funding || tb.available !== want.trading || fb.frozen !== 0n || tb.frozen !== 0n) {
        this.violate(
          'balance = initial + committed transfers, nothing frozen',
          `user ${f.user}: funding ${fb.available} (frozen ${fb.frozen}), trading ${tb.available} (frozen ${tb.frozen}); expected ${want.funding} and ${want.trading}`,
        );
      }
    }
  }

  /** Every account's books: balance = its operations, nothing held, each operation a transfer's or a credit's. */
  private async checkBooks(rows: Map<string, TransferRecord>): Promise<void> {
    for (const f of this.deps.funding) {
      const known = new Set(f.creditIds);
      for (const ledger of ['funding', 'trading'] as const) {
        const book = await this.deps.readBook(ledger, f.user);
        if (!book) continue;
        this.checkBook(ledger, f.user, book, 'final');
        for (const op of book.ops) {
          this.tick('every ledger operation belongs to a transfer');
          const t = rows.get(op.reqId);
          if (!known.has(op.reqId) && (!t || t.userId.toString() !== f.user)) {
            this.violate('every ledger operation belongs to a transfer', `${ledger} ${f.user}: ${op.kind} ${op.amount} (${op.state}) under ${op.reqId}`);
          }
          if (op.state === 'frozen' || op.state === 'debited') this.violate('nothing held once terminal', `${ledger} ${f.user}: ${op.reqId} still ${op.state}`);
        }
      }
    }
  }

  /** The reconciliation (packages/reconciliation) over the run: every finished transfer against both ledgers. */
  private async reconcile(since: Date, until: Date): Promise<void> {
    const summary = await reconcile({
      since, until, store: this.deps.store, ledgers: this.deps.readers,
      onMismatch: (m) => this.violate(`ledger records agree with the outcome (${m.kind})`, `${m.reqId} ${m.state ?? ''}: ${m.detail}`),
      onUnverified: (reqId, detail) => this.violate('every transfer verifiable against the ledgers', `${reqId}: ${detail}`),
    });
    this.tick('each leg applied once, as the outcome says (reconciliation)', summary.checked);
    if (summary.active) this.violate('every transfer terminal within the drain bound', `reconciliation found ${summary.active} still running`);
  }
}

/** An account's partition read at SERIAL from the ledgers' keyspace: its balance and every operation row at once. */
export function cassandraBooks(client: CassandraClient): (ledger: Account, user: string) => Promise<Book | undefined> {
  return async (ledger, user) => {
    const rs = await client.execute(
      'SELECT available, frozen, debited, req_id, kind, amount, state FROM accounts WHERE ledger = ? AND user_id = ? AND asset_id = ?',
      [ledger, BigInt(user), ASSET_ID],
      { prepare: true, consistency: serialConsistency({ serialConsistency: 'SERIAL' }), isIdempotent: true, fetchSize: 10_000 },
    );
    const first = rs.first();
    if (!first) return undefined;
    return {
      available: (first.get('available') as bigint | null) ?? 0n,
      frozen: (first.get('frozen') as bigint | null) ?? 0n,
      debited: (first.get('debited') as bigint | null) ?? 0n,
      ops: rs.rows
        .filter((r) => r.get('req_id') !== null)
        .map((r) => ({ reqId: String(r.get('req_id')), kind: r.get('kind') as string, amount: r.get('amount') as bigint, state: r.get('state') as string })),
    };
  };
}

/** A balance as the ledger answers it (`GET /v1/balances`, admin token). */
export function httpBalances(ledgerUrl: Record<Account, string>): (ledger: Account, user: string) => Promise<{ available: bigint; frozen: bigint }> {
  return async (ledger, user) => {
    const res = await fetch(`${ledgerUrl[ledger]}/v1/balances/${user}/${ASSET_ID}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    if (!res.ok) throw new Error(`balance of ${user} on ${ledger}: ${res.status}`);
    const b = (await res.json()) as { available: string; frozen: string };
    return { available: BigInt(b.available), frozen: BigInt(b.frozen) };
  };
}
