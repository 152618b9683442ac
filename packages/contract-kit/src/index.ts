// The adapter contract test kit (SPEC §5): registers vitest suites that check any LedgerAdapter — ours or an
// exchange's own service behind the HTTP adapter — for idempotency by req_id and the two-phase /
// single-phase semantics, by balances before and after. See docs/adapter-contract.md.
import { randomInt, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerAdapter, LedgerLookup, LedgerReader } from '@it/adapters';
import type { Movement, Outcome } from '@it/domain';
import { sleep } from '@it/runtime';

/** Funding-like (withdraw freezes, commit finalizes) or Trading-like (withdraw debits, commit is a no-op). */
export type LedgerKind = 'two-phase' | 'single-phase';

export interface Balances {
  available: bigint;
  frozen: bigint;
}

export interface AdapterContractOptions {
  /** Names the describe block. */
  name: string;
  kind: LedgerKind;
  /** Called once in the suite's beforeAll, so it may use servers the caller's own beforeAll started. */
  makeAdapter(): LedgerAdapter | Promise<LedgerAdapter>;
  /** The query read in full, for reconciliation (`LedgerReader`): given, its answers are checked too. */
  makeReader?(): LedgerReader | Promise<LedgerReader>;
  /** Funds an account out of band (an admin endpoint, a fixture). Must be exactly-once per call. */
  credit(userId: bigint, assetId: number, amount: bigint): Promise<void>;
  /** Reads an account out of band; an account never written reads 0/0. */
  balance(userId: bigint, assetId: number): Promise<Balances>;
  /**
   * Faults are being injected: `pending` is expected, and each call is repeated with the same req_id until
   * it is definite, like the coordinator does. Off: a `pending` answer fails the test.
   */
  faults?: boolean;
  /** A known asset to move. Default 1. */
  assetId?: number;
  /** An asset the service refuses; enables the unknown-asset check. */
  unknownAssetId?: number;
  /** A fresh, unused user id per test, so tests never share an account. Default: random. */
  newUserId?: () => bigint;
  /** Attempts per call while faults are on. Default 60. */
  maxAttempts?: number;
  /** Base delay between attempts while faults are on. Default 10 ms. */
  retryDelayMs?: number;
}

type Definite = Exclude<Outcome, { kind: 'pending' }>;

let userSeq = 0n;
/** Random, unique in this process, and < 2^63: millisecond clock × 10^6 + a random/sequence tail. */
function randomUserId(): bigint {
  userSeq = (userSeq + 1n) % 1000n;
  return BigInt(Date.now()) * 1_000_000n + BigInt(randomInt(1000)) * 1000n + userSeq;
}

export function defineAdapterContract(opts: AdapterContractOptions): void {
  const assetId = opts.assetId ?? 1;
  const retryPending = opts.faults ?? false;
  const maxAttempts = opts.maxAttempts ?? 60;
  const retryDelayMs = opts.retryDelayMs ?? 10;
  const newUserId = opts.newUserId ?? randomUserId;
  const twoPhase = opts.kind === 'two-phase';

  describe(`adapter contract: ${opts.name} (${opts.kind}, faults ${retryPending ? 'on' : 'off'})`, () => {
    let adapter: LedgerAdapter;
    /** Pending answers retried: with faults on, none at all would mean the faults never reached the adapter. */
    let pendingRetried = 0;
    beforeAll(async () => {
      adapter = await opts.makeAdapter();
    });
    afterAll(async () => {
      await adapter?.close();
    });

    /** One logical call: repeated with the same arguments (same req_id) while the answer is pending. */
    async function definite(what: string, call: () => Promise<Outcome>): Promise<Definite> {
      let last = '';
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        const out = await call();
        if (out.kind !== 'pending') return out;
        if (!retryPending) throw new Error(`${what}: pending with faults off: ${out.detail}`);
        last = out.detail;
        pendingRetried++;
        await sleep(retryDelayMs * (1 + Math.random() * Math.min(attempt, 5)));
      }
      throw new Error(`${what}: still pending after ${maxAttempts} attempts: ${last}`);
    }

    const op = (userId: bigint, amount: bigint, reqId: string = randomUUID(), asset = assetId): Movement => ({
      reqId,
      userId,
      assetId: asset,
      amount,
    });
    const withdraw = (o: Movement) => definite(`withdraw ${o.reqId}`, () => adapter.withdraw(o));
    const deposit = (o: Movement) => definite(`deposit ${o.reqId}`, () => adapter.deposit(o));
    const commit = (reqId: string) => definite(`commit ${reqId}`, () => adapter.commit(reqId));
    const rollback = (reqId: string) => definite(`rollback ${reqId}`, () => adapter.rollback(reqId));
    const query = (reqId: string) => definite(`query ${reqId}`, () => adapter.query(reqId));

    const ok = { kind: 'success' } as const;
    const refused = { kind: 'failed', reason: expect.any(String) as unknown };

    async function account(amount: bigint): Promise<bigint> {
      const userId = newUserId();
      if (amount > 0n) await opts.credit(userId, assetId, amount);
      await expectBalance(userId, amount, 0n);
      return userId;
    }

    async function expectBalance(userId: bigint, available: bigint, frozen: bigint) {
      expect(await opts.balance(userId, assetId)).toEqual({ available, frozen });
    }

    /** Balance right after a successful withdraw of `amount` from `start`. */
    const afterWithdraw = (start: bigint, amount: bigint): [bigint, bigint] =>
      twoPhase ? [start - amount, amount] : [start - amount, 0n];

    it('a withdraw moves the amount once (two-phase: freezes; single-phase: debits)', async () => {
      const u = await account(1_000n);
      expect(await withdraw(op(u, 300n))).toEqual(ok);
      await expectBalance(u, ...afterWithdraw(1_000n, 300n));
    });

    it('the same withdraw again gets the same answer and has no second effect', async () => {
      const u = await account(1_000n);
      const w = op(u, 250n);
      for (let i = 0; i < 4; i++) expect(await withdraw(w)).toEqual(ok);
      await expectBalance(u, ...afterWithdraw(1_000n, 250n));
    });

    it('the same withdraw sent concurrently applies once', async () => {
      const u = await account(1_000n);
      const w = op(u, 400n);
      const answers = await Promise.all(Array.from({ length: 8 }, () => withdraw(w)));
      expect(answers).toEqual(Array.from({ length: 8 }, () => ok));
      await expectBalance(u, ...afterWithdraw(1_000n, 400n));
    });

    it('commit finalizes the withdraw, repeatably, leaving nothing frozen', async () => {
      const u = await account(1_000n);
      const w = op(u, 300n);
      expect(await withdraw(w)).toEqual(ok);
      expect(await commit(w.reqId)).toEqual(ok);
      expect(await commit(w.reqId)).toEqual(ok);
      await expectBalance(u, 700n, 0n);
      expect(await query(w.reqId)).toEqual(ok);
      // A replayed withdraw still answers its first answer, and moves nothing more.
      expect(await withdraw(w)).toEqual(ok);
      await expectBalance(u, 700n, 0n);
    });

    it('rollback restores the funds exactly once', async () => {
      const u = await account(1_000n);
      const w = op(u, 300n);
      expect(await withdraw(w)).toEqual(ok);
      expect(await rollback(w.reqId)).toEqual(ok);
      expect(await rollback(w.reqId)).toEqual(ok);
      await expectBalance(u, 1_000n, 0n);
      expect(await withdraw(w)).toEqual(ok);
      await expectBalance(u, 1_000n, 0n);
    });

    it('concurrent commits and rollbacks of one withdraw: one wins, the other is refused, balances agree', async () => {
      const u = await account(1_000n);
      const w = op(u, 300n);
      expect(await withdraw(w)).toEqual(ok);
      const [c, r] = await Promise.all([commit(w.reqId), rollback(w.reqId)]);
      expect([c.kind, r.kind].sort()).toEqual(['failed', 'success']);
      if (c.kind === 'success') await expectBalance(u, 700n, 0n);
      else await expectBalance(u, 1_000n, 0n);
    });

    it('rollback of a never-seen req_id succeeds, and a later withdraw with it is refused', async () => {
      const u = await account(1_000n);
      const w = op(u, 100n);
      expect(await rollback(w.reqId)).toEqual(ok);
      expect(await withdraw(w)).toMatchObject(refused);
      expect(await withdraw(w)).toMatchObject(refused);
      expect(await rollback(w.reqId)).toEqual(ok);
      expect(await commit(w.reqId)).toMatchObject(refused);
      await expectBalance(u, 1_000n, 0n);
    });

    it('a rollback racing its withdraw: either the withdraw is undone or it never applies', async () => {
      const u = await account(1_000n);
      const w = op(u, 100n);
      const [wd, rb] = await Promise.all([withdraw(w), rollback(w.reqId)]);
      expect(rb).toEqual(ok);
      expect(['success', 'failed']).toContain(wd.kind);
      await expectBalance(u, 1_000n, 0n);
    });

    it('insufficient funds is refused, and stays refused after the account is funded', async () => {
      const u = await account(100n);
      const w = op(u, 101n);
      expect(await withdraw(w)).toMatchObject(refused);
      await expectBalance(u, 100n, 0n);
      await opts.credit(u, assetId, 1_000n);
      expect(await withdraw(w)).toMatchObject(refused);
      await expectBalance(u, 1_100n, 0n);
      // Nothing was moved, so there is nothing to commit; a rollback is a harmless no-op.
      expect(await commit(w.reqId)).toMatchObject(refused);
      expect(await rollback(w.reqId)).toEqual(ok);
      await expectBalance(u, 1_100n, 0n);
      expect(await query(w.reqId)).toMatchObject(refused);
    });

    it('commit after rollback and rollback after commit are refused', async () => {
      const u = await account(1_000n);
      const w1 = op(u, 100n);
      const w2 = op(u, 200n);
      expect(await withdraw(w1)).toEqual(ok);
      expect(await withdraw(w2)).toEqual(ok);
      expect(await rollback(w1.reqId)).toEqual(ok);
      expect(await commit(w1.reqId)).toMatchObject(refused);
      expect(await commit(w2.reqId)).toEqual(ok);
      expect(await rollback(w2.reqId)).toMatchObject(refused);
      await expectBalance(u, 800n, 0n);
    });

    it('a deposit credits once, also when repeated and sent concurrently', async () => {
      const u = await account(0n);
      const d = op(u, 500n);
      const answers = await Promise.all(Array.from({ length: 6 }, () => deposit(d)));
      expect(answers).toEqual(Array.from({ length: 6 }, () => ok));
      expect(await deposit(d)).toEqual(ok);
      await expectBalance(u, 500n, 0n);
      expect(await query(d.reqId)).toEqual(ok);
    });

    it('a req_id reused with other parameters is refused', async () => {
      const u = await account(1_000n);
      const w = op(u, 100n);
      expect(await withdraw(w)).toEqual(ok);
      expect(await withdraw({ ...w, amount: 200n })).toMatchObject(refused);
      expect(await deposit(w)).toMatchObject(refused);
      const other = await account(1_000n);
      expect(await withdraw({ ...w, userId: other })).toMatchObject(refused);
      await expectBalance(u, ...afterWithdraw(1_000n, 100n));
      await expectBalance(other, 1_000n, 0n);
    });

    it('concurrent withdraws on one account never overdraw it', async () => {
      const u = await account(1_000n);
      const ws = Array.from({ length: 16 }, () => op(u, 100n));
      const answers = await Promise.all(ws.map((w) => withdraw(w)));
      expect(answers.filter((a) => a.kind === 'success')).toHaveLength(10);
      expect(answers.filter((a) => a.kind === 'failed')).toHaveLength(6);
      await expectBalance(u, ...afterWithdraw(1_000n, 1_000n));
      // Roll every one back (refused ones included): all funds return, nothing stays frozen.
      const rollbacks = await Promise.all(ws.map((w) => rollback(w.reqId)));
      expect(rollbacks.every((r) => r.kind === 'success')).toBe(true);
      await expectBalance(u, 1_000n, 0n);
    });

    it('query: pending for an unknown req_id, else the latest definite outcome', async () => {
      const u = await account(1_000n);
      const unknown = randomUUID();
      expect((await adapter.query(unknown)).kind).toBe('pending');
      const w = op(u, 100n);
      expect(await withdraw(w)).toEqual(ok);
      expect(await query(w.reqId)).toEqual(ok);
      const tooMuch = op(u, 5_000n);
      expect(await withdraw(tooMuch)).toMatchObject(refused);
      expect(await query(tooMuch.reqId)).toMatchObject(refused);
      expect(await rollback(w.reqId)).toEqual(ok);
      expect(await query(w.reqId)).toEqual(ok);
      await expectBalance(u, 1_000n, 0n);
    });

    if (opts.makeReader) {
      it('the query read in full (reconciliation): each operation\'s kind, state and movement', async () => {
        const reader = await opts.makeReader!();
        /** A lookup repeated while the service gives no answer (faults), like reconciliation never does. */
        const lookup = async (reqId: string): Promise<LedgerLookup> => {
          for (let attempt = 1; attempt <= maxAttempts; attempt++) {
            const l = await reader.lookup(reqId);
            if (l.kind !== 'unknown') return l;
            if (!retryPending) throw new Error(`lookup ${reqId}: no answer with faults off: ${l.detail}`);
            pendingRetried++;
            await sleep(retryDelayMs);
          }
          throw new Error(`lookup ${reqId}: no answer after ${maxAttempts} attempts`);
        };
        const found = (opKind: string, status: string, state: string, movement: Movement | null) => ({
          kind: 'found',
          op: {
            opKind, status, state, reason: status === 'failed' ? (expect.any(String) as unknown) : null,
            userId: movement?.userId ?? null, assetId: movement?.assetId ?? null, amount: movement?.amount ?? null,
          },
        });
        try {
          const u = await account(1_000n);
          expect(await lookup(randomUUID())).toEqual({ kind: 'not_found' });
          const w = op(u, 300n);
          expect(await withdraw(w)).toEqual(ok);
          expect(await lookup(w.reqId)).toEqual(found('withdraw', 'success', twoPhase ? 'frozen' : 'debited', w));
          expect(await commit(w.reqId)).toEqual(ok);
          expect(await lookup(w.reqId)).toEqual(found('withdraw', 'success', 'committed', w));
          const undone = op(u, 100n);
          expect(await withdraw(undone)).toEqual(ok);
          expect(await rollback(undone.reqId)).toEqual(ok);
          expect(await lookup(undone.reqId)).toEqual(found('withdraw', 'success', 'rolled_back', undone));
          const tooMuch = op(u, 5_000n);
          expect(await withdraw(tooMuch)).toMatchObject(refused);
          expect(await lookup(tooMuch.reqId)).toEqual(found('withdraw', 'failed', 'refused', tooMuch));
          const d = op(u, 50n);
          expect(await deposit(d)).toEqual(ok);
          expect(await lookup(d.reqId)).toEqual(found('deposit', 'success', 'credited', d));
          const never = randomUUID();
          expect(await rollback(never)).toEqual(ok);
          expect(await lookup(never)).toEqual(found('tombstone', 'success', 'tombstone', null));
        } finally {
          await reader.close();
        }
      });
    }

    if (opts.unknownAssetId !== undefined) {
      const unknownAsset = opts.unknownAssetId;
      it('an unknown asset is refused, for withdraws and deposits', async () => {
        const u = await account(1_000n);
        expect(await withdraw(op(u, 1n, randomUUID(), unknownAsset))).toMatchObject(refused);
        expect(await deposit(op(u, 1n, randomUUID(), unknownAsset))).toMatchObject(refused);
        expect(await opts.balance(u, unknownAsset)).toEqual({ available: 0n, frozen: 0n });
        await expectBalance(u, 1_000n, 0n);
      });
    }

    if (retryPending) {
      // Last, after every other test of the suite has run (vitest runs a file's tests in order).
      it('faults were really injected: pending answers were seen and retried to a definite one', () => {
        expect(pendingRetried).toBeGreaterThan(0);
      });
    }
  });
}
