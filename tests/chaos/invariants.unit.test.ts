// The chaos run's invariant checker against a world of its own making: clean books pass, and each way money or
// identity can go wrong is reported under its invariant (a checker that cannot fail proves nothing).
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { LedgerLookup, LedgerReader } from '@it/adapters';
import type { Account } from '@it/domain';
import type { State } from '@it/fsm';
import type { ScanStats, TransferRecord, TransferStore } from '@it/store';
import { derive, InvariantChecker, type Book, type Funding } from './invariants.ts';
import type { KeyRecord } from './load.ts';
import { Random } from './random.ts';

interface Op {
  user: string;
  kind: string;
  amount: bigint;
  state: string;
}

const INITIAL = 1_000n;

class World {
  readonly rows = new Map<string, TransferRecord>();
  readonly ops: Record<Account, Map<string, Op>> = { funding: new Map(), trading: new Map() };
  readonly keys = new Map<string, KeyRecord>();
  readonly funding: Funding[] = [];
  /** Added to a ledger's stored balance behind its operations' back. */
  readonly tamper: Record<Account, bigint> = { funding: 0n, trading: 0n };

  user(): string {
    const user = String(1_000_000 + this.funding.length);
    const ids = [randomUUID(), randomUUID()];
    this.funding.push({ user, funding: INITIAL, trading: INITIAL, creditIds: ids });
    this.ops.funding.set(ids[0]!, { user, kind: 'credit', amount: INITIAL, state: 'credited' });
    this.ops.trading.set(ids[1]!, { user, kind: 'credit', amount: INITIAL, state: 'credited' });
    return user;
  }

  /** A transfer as the product leaves it: its row, each leg's operation, and the key a client used. */
  transfer(user: string, source: Account, amount: bigint, state: State): TransferRecord {
    const target: Account = source === 'funding' ? 'trading' : 'funding';
    const reqId = randomUUID();
    const now = new Date();
    const row = {
      reqId, userId: BigInt(user), assetId: 1, amount, source, target, state, version: 3, transitionId: randomUUID(), error: null,
      attempt: 0, nextAttemptAt: null, createdAt: now, updatedAt: now, retryRun: null, operatorRetry: null,
    } as TransferRecord;
    this.rows.set(reqId, row);
    const withdraw = { committed: 'committed', rolled_back: 'rolled_back', failed: 'refused' }[state as string];
    if (withdraw) this.ops[source].set(reqId, { user, kind: 'withdraw', amount, state: withdraw });
    if (state === 'committed') this.ops[target].set(reqId, { user, kind: 'deposit', amount, state: 'credited' });
    if (state === 'rolled_back') this.ops[target].set(reqId, { user, kind: 'deposit', amount, state: 'refused' });
    const key = randomUUID();
    this.keys.set(key, {
      intent: { key, user, source, target, amount }, reqIds: new Set([reqId]), status: state, reqId,
    });
    return row;
  }

  get store(): Pick<TransferStore, 'get' | 'scanActive' | 'forEachCreated'> {
    const rows = this.rows;
    return {
      get: (reqId: string) => Promise.resolve(rows.get(reqId)),
      scanActive: async (visit: (r: TransferRecord) => Promise<void> | void) => {
        const active = [...rows.values()].filter((r) => !['committed', 'rolled_back', 'failed'].includes(r.state));
        for (const r of active) await visit(r);
        return { active: active.length } as ScanStats;
      },
      forEachCreated: async (_since: Date, _until: Date, visit: (page: { reqId: string; record: TransferRecord }[]) => Promise<void>) => {
        await visit([...rows.values()].map((record) => ({ reqId: record.reqId, record })));
        return { pages: 1, rows: rows.size };
      },
    };
  }

  reader(ledger: Account): LedgerReader {
    return {
      name: ledger,
      close: () => Promise.resolve(),
      lookup: (reqId: string): Promise<LedgerLookup> => {
        const op = this.ops[ledger].get(reqId);
        if (!op) return Promise.resolve({ kind: 'not_found' });
        return Promise.resolve({
          kind: 'found',
          op: {
            opKind: op.kind, status: op.state === 'refused' ? 'failed' : 'success', state: op.state, reason: null,
            userId: BigInt(op.user), assetId: 1, amount: op.amount,
          },
        });
      },
    };
  }

  book(ledger: Account, user: string): Book {
    const ops = [...this.ops[ledger]].filter(([, op]) => op.user === user).map(([reqId, op]) => ({ reqId, kind: op.kind, amount: op.amount, state: op.state }));
    const d = derive(ledger, ops);
    return { ...d, available: d.available + this.tamper[ledger], ops };
  }

  checker(): { checker: InvariantChecker; logged: string[] } {
    const logged: string[] = [];
    const checker = new InvariantChecker({
      store: this.store,
      readers: { funding: this.reader('funding'), trading: this.reader('trading') },
      readBook: (ledger, user) => Promise.resolve(this.book(ledger, user)),
      readBalance: (ledger, user) => Promise.resolve(this.book(ledger, user)),
      funding: this.funding,
      random: new Random(1),
      log: (line) => logged.push(line),
    });
    return { checker, logged };
  }

  async check(): Promise<string[]> {
    const { checker } = this.checker();
    await checker.finalCheck(this.keys, new Date(0), new Date());
    return checker.violations.map((v) => v.invariant);
  }
}

/** Three users, transfers of every outcome in both directions. */
function cleanWorld(): World {
  const w = new World();
  const [a, b, c] = [w.user(), w.user(), w.user()];
  w.transfer(a, 'funding', 300n, 'committed');
  w.transfer(a, 'trading', 50n, 'committed');
  w.transfer(b, 'trading', 70n, 'rolled_back');
  w.transfer(b, 'funding', 5_000n, 'failed');
  w.transfer(c, 'funding', 10n, 'rolled_back');
  return w;
}

describe('derive: what an account\'s operations add up to', () => {
  it('counts credits, final and held withdraws; undone and refused ones move nothing', () => {
    const ops = (entries: [string, bigint, string][]) => entries.map(([kind, amount, state], i) => ({ reqId: String(i), kind, amount, state }));
    expect(derive('funding', ops([
      ['credit', 100n, 'credited'], ['deposit', 7n, 'credited'], ['deposit', 9n, 'refused'], ['withdraw', 10n, 'committed'],
      ['withdraw', 20n, 'frozen'], ['withdraw', 30n, 'rolled_back'], ['withdraw', 40n, 'voided'], ['withdraw', 50n, 'refused'],
    ]))).toEqual({ available: 77n, frozen: 20n, debited: 0n });
    expect(derive('trading', ops([['credit', 100n, 'credited'], ['withdraw', 20n, 'debited'], ['withdraw', 5n, 'committed']])))
      .toEqual({ available: 75n, frozen: 0n, debited: 20n });
  });
});

describe('the final check', () => {
  it('passes clean books, having looked at every key, balance, operation and leg', async () => {
    const w = cleanWorld();
    const { checker } = w.checker();
    await checker.finalCheck(w.keys, new Date(0), new Date());
    expect(checker.violations).toEqual([]);
    expect(Object.fromEntries(checker.checked)).toMatchObject({
      'one transfer per Idempotency-Key': 5,
      'terminal outcomes are final': 5,
      'balance = initial + committed transfers, nothing frozen': 3,
      'each leg applied once, as the outcome says (reconciliation)': 5,
      'every ledger operation belongs to a transfer': 6 + 9,
    });
  });

  it('a leg applied that the outcome denies: the ledger records disagree, and the balance is off', async () => {
    const w = cleanWorld();
    const [rolledBack] = [...w.rows.values()].filter((r) => r.state === 'rolled_back');
    // The target credited the deposit of a transfer reported rolled back: money created.
    w.ops[rolledBack!.target].set(rolledBack!.reqId, { user: rolledBack!.userId.toString(), kind: 'deposit', amount: rolledBack!.amount, state: 'credited' });
    expect(await w.check()).toEqual([
      'balance = initial + committed transfers, nothing frozen',
      'ledger records agree with the outcome (target_deposit_standing)',
    ]);
  });

  it('a committed transfer whose source still holds the withdraw: nothing may stay frozen', async () => {
    const w = cleanWorld();
    const committed = [...w.rows.values()].find((r) => r.state === 'committed' && r.source === 'funding')!;
    w.ops.funding.get(committed.reqId)!.state = 'frozen';
    expect(await w.check()).toEqual([
      'balance = initial + committed transfers, nothing frozen',
      'nothing held once terminal',
      'ledger records agree with the outcome (source_left_frozen)',
    ]);
  });

  it('a balance changed outside any operation', async () => {
    const w = cleanWorld();
    w.tamper.trading = 1n;
    const found = await w.check();
    expect(new Set(found)).toEqual(new Set(['balance = initial + committed transfers, nothing frozen', 'balances equal their operations']));
  });

  it('an operation no transfer made', async () => {
    const w = cleanWorld();
    w.ops.trading.set(randomUUID(), { user: w.funding[2]!.user, kind: 'deposit', amount: 1n, state: 'refused' });
    expect(await w.check()).toEqual(['every ledger operation belongs to a transfer']);
  });

  it('two transfers for one Idempotency-Key, and a transfer no client asked for', async () => {
    const w = cleanWorld();
    const [first, second] = [...w.keys.values()];
    // The second key's transfer is also answered for the first key: one key, two transfers; then nothing is left
    // that only the second key claims.
    first!.reqIds.add(second!.reqId);
    w.keys.delete(second!.intent.key);
    expect(await w.check()).toEqual(['one transfer per Idempotency-Key']);
    w.keys.clear();
    expect(await w.check()).toContain('no transfer that no client asked for');
  });

  it('an outcome a client was told that the store does not keep', async () => {
    const w = cleanWorld();
    const key = [...w.keys.values()].find((k) => k.status === 'failed')!;
    key.status = 'committed';
    expect(await w.check()).toEqual(['terminal outcomes are final']);
  });
});

describe('the drain', () => {
  it('resolves once nothing is active; a transfer still active after the bound is a violation naming it', async () => {
    const w = cleanWorld();
    const { checker } = w.checker();
    expect(await checker.drain(w.keys, 5)).toBeLessThan(1);
    const stuck = w.transfer(w.funding[0]!.user, 'funding', 1n, 'target_pending');
    expect(await checker.drain(w.keys, 0.01)).toBeUndefined();
    expect(checker.violations).toEqual([
      { invariant: 'every transfer terminal within the drain bound', detail: expect.stringContaining(stuck.reqId) },
    ]);
  });
});
