// The store's conditional writes when Cassandra's reply is lost, on the real Cassandra: a client wrapper
// loses the reply of a write that applied, loses a request before it is sent, reports Unavailable (an
// unknown outcome on Paxos v1), or finds no host to send to (certainly not applied). Each operation must
// still answer exactly once and move the balance exactly once.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  errors,
  StoreUnavailableError,
  UnknownOutcomeError,
  createCassandraClient,
  serialConsistency,
  type CassandraClient,
  type ResultSet,
} from '@it/cassandra';
import { cassandraSettings } from '@it/config';
import type { Account } from '@it/domain';
import { LedgerStore, parseAssetSet } from '../src/index.ts';
import { ensureLedgerSchema, newUserId, testConfig } from './helpers.ts';

type Fault = 'reply lost' | 'request lost' | 'unavailable' | 'not sent';

/**
 * The two calls the store makes, passed through to Cassandra, except the next statement matching each
 * queued fault.
 */
class LossyClient {
  private readonly pending: { match: RegExp; fault: Fault }[] = [];

  constructor(private readonly real: CassandraClient) {}

  failNext(match: RegExp, fault: Fault): void {
    this.pending.push({ match, fault });
  }

  get idle(): boolean {
    return this.pending.length === 0;
  }

  execute(query: string, params: unknown[], options: object): Promise<ResultSet> {
    return this.run(query, () => this.real.execute(query, params, options));
  }

  batch(queries: { query: string; params: unknown[] }[], options: object): Promise<ResultSet> {
    return this.run(queries.map((q) => q.query).join('; '), () => this.real.batch(queries, options));
  }

  private async run<T>(cql: string, send: () => Promise<T>): Promise<T> {
    const i = this.pending.findIndex((p) => p.match.test(cql));
    if (i < 0) return send();
    const { fault } = this.pending.splice(i, 1)[0]!;
    if (fault === 'request lost') throw new Error('connection reset before the request was written (simulated)');
    // The native protocol's Unavailable (0x1000).
    if (fault === 'unavailable') throw Object.assign(new Error('not enough replicas (simulated)'), { code: 0x1000 });
    if (fault === 'not sent') {
      const inner = Object.assign(new Error('no connection available (simulated)'), { requestNotWritten: true });
      throw new errors.NoHostAvailableError({ '127.0.0.1:9042': inner });
    }
    await send();
    throw new Error('client timeout: the write was sent, its reply never came (simulated)');
  }
}

const CLAIM = /^INSERT INTO ops/;
const MOVEMENT_BATCH = /^INSERT INTO accounts .*; UPDATE accounts SET available/;
const VOID_ROW = /^INSERT INTO accounts [^;]*$/;
const FINISH_BATCH = /^UPDATE accounts SET state/;
const OP_READ = /^SELECT available, frozen, debited, version, kind/;

const config = testConfig();
const settings = cassandraSettings(config, config.CASSANDRA_LEDGER_KEYSPACE);
const real = createCassandraClient(settings);
const lossy = new LossyClient(real);
const store = new LedgerStore(lossy as unknown as CassandraClient, {
  serialConsistency: serialConsistency(settings),
  assets: parseAssetSet('1-10'),
});
const LEDGER: Account = 'funding';

beforeAll(async () => {
  await ensureLedgerSchema(config);
  await real.connect();
});
afterEach(() => {
  // Every fault a test queued was met: the path it names really ran.
  expect(lossy.idle).toBe(true);
});
afterAll(async () => {
  await real.shutdown();
});

async function funded(amount: bigint): Promise<bigint> {
  const userId = newUserId();
  await store.movement(LEDGER, 'credit', { reqId: randomUUID(), userId, assetId: 1, amount });
  return userId;
}

const withdrawal = (userId: bigint) => ({ reqId: randomUUID(), userId, assetId: 1, amount: 40n });

describe('withdraw', () => {
  it('applied, reply lost: the SERIAL read finds our row, which answers', async () => {
    const m = withdrawal(await funded(100n));
    lossy.failNext(MOVEMENT_BATCH, 'reply lost');
    expect(await store.movement(LEDGER, 'withdraw', m)).toEqual({ status: 'success', state: 'frozen' });
    expect(await store.balance(LEDGER, m.userId, 1)).toEqual({ available: 60n, frozen: 40n });
  });

  it('lost before it was sent: the SERIAL read finds no row, so it is sent again, once', async () => {
    const m = withdrawal(await funded(100n));
    lossy.failNext(MOVEMENT_BATCH, 'request lost');
    expect(await store.movement(LEDGER, 'withdraw', m)).toEqual({ status: 'success', state: 'frozen' });
    expect(await store.balance(LEDGER, m.userId, 1)).toEqual({ available: 60n, frozen: 40n });
  });

  it('Unavailable: settled by a SERIAL read that finds no row, so sent again: applied once', async () => {
    const m = withdrawal(await funded(100n));
    lossy.failNext(MOVEMENT_BATCH, 'unavailable');
    expect(await store.movement(LEDGER, 'withdraw', m)).toEqual({ status: 'success', state: 'frozen' });
    expect(await store.balance(LEDGER, m.userId, 1)).toEqual({ available: 60n, frozen: 40n });
  });

  it('no host took it: certainly not applied, so unavailable at once; the replay applies it', async () => {
    const m = withdrawal(await funded(100n));
    lossy.failNext(MOVEMENT_BATCH, 'not sent');
    const err = await store.movement(LEDGER, 'withdraw', m).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err).not.toBeInstanceOf(UnknownOutcomeError);
    expect(await store.balance(LEDGER, m.userId, 1)).toEqual({ available: 100n, frozen: 0n });
    expect(await store.movement(LEDGER, 'withdraw', m)).toEqual({ status: 'success', state: 'frozen' });
    expect(await store.balance(LEDGER, m.userId, 1)).toEqual({ available: 60n, frozen: 40n });
  });

  it('reply lost and the SERIAL read fails too: unknown outcome; the replay answers from the row', async () => {
    const m = withdrawal(await funded(100n));
    lossy.failNext(MOVEMENT_BATCH, 'reply lost');
    lossy.failNext(OP_READ, 'unavailable');
    await expect(store.movement(LEDGER, 'withdraw', m)).rejects.toBeInstanceOf(UnknownOutcomeError);
    expect(await store.movement(LEDGER, 'withdraw', m)).toEqual({ status: 'success', state: 'frozen' });
    expect(await store.balance(LEDGER, m.userId, 1)).toEqual({ available: 60n, frozen: 40n });
  });

  it('claim applied, reply lost: the claim found is ours, and the withdraw goes on as a replay', async () => {
    const m = withdrawal(await funded(100n));
    lossy.failNext(CLAIM, 'reply lost');
    expect(await store.movement(LEDGER, 'withdraw', m)).toEqual({ status: 'success', state: 'frozen' });
    expect(await store.balance(LEDGER, m.userId, 1)).toEqual({ available: 60n, frozen: 40n });
  });

  it('claim not sent: unavailable, nothing claimed', async () => {
    const m = withdrawal(await funded(100n));
    lossy.failNext(CLAIM, 'not sent');
    await expect(store.movement(LEDGER, 'withdraw', m)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await store.query(LEDGER, m.reqId)).toBeUndefined();
  });
});

describe('commit and rollback', () => {
  it('commit applied, reply lost: the row read back says committed', async () => {
    const m = withdrawal(await funded(100n));
    await store.movement(LEDGER, 'withdraw', m);
    lossy.failNext(FINISH_BATCH, 'reply lost');
    expect(await store.commit(LEDGER, m.reqId)).toEqual({ status: 'success', state: 'committed' });
    expect(await store.balance(LEDGER, m.userId, 1)).toEqual({ available: 60n, frozen: 0n });
  });

  it('rollback lost before it was sent: still frozen when read back, so it is sent again, once', async () => {
    const m = withdrawal(await funded(100n));
    await store.movement(LEDGER, 'withdraw', m);
    lossy.failNext(FINISH_BATCH, 'request lost');
    expect(await store.rollback(LEDGER, m.reqId)).toEqual({ status: 'success', state: 'rolled_back' });
    expect(await store.balance(LEDGER, m.userId, 1)).toEqual({ available: 100n, frozen: 0n });
  });

  it('void of a claimed, never applied withdraw, reply lost: answered voided, and the withdraw never applies', async () => {
    const m = withdrawal(await funded(100n));
    // The withdraw claims its req_id, then "dies" before its batch is sent.
    lossy.failNext(MOVEMENT_BATCH, 'not sent');
    await expect(store.movement(LEDGER, 'withdraw', m)).rejects.toBeInstanceOf(StoreUnavailableError);
    lossy.failNext(VOID_ROW, 'reply lost');
    expect(await store.rollback(LEDGER, m.reqId)).toEqual({ status: 'success', state: 'voided' });
    expect(await store.movement(LEDGER, 'withdraw', m)).toEqual({ status: 'failed', reason: 'rolled_back' });
    expect(await store.balance(LEDGER, m.userId, 1)).toEqual({ available: 100n, frozen: 0n });
  });
});
