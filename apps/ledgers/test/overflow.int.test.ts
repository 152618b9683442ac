// Compensation can never fail or wrap (issue 10, item 2), on the real Cassandra: a Trading rollback gives
// the debit back to available, so credits leave room for debits still held; and no bigint past 2^63-1 ever
// reaches the driver, which would wrap it into a negative balance.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCassandraClient, Int64RangeError } from '@it/cassandra';
import { cassandraSettings } from '@it/config';
import { MAX_AMOUNT } from '@it/domain';
import type { RunningLedgers } from '../src/index.ts';
import { newUserId, startTestLedgers, testConfig } from './helpers.ts';

let ledgers: RunningLedgers;
beforeAll(async () => {
  ledgers = await startTestLedgers();
});
afterAll(() => ledgers?.close());

const move = (userId: bigint, amount: bigint) => ({ reqId: randomUUID(), userId, assetId: 1, amount });

describe('a Trading rollback always fits', () => {
  it('a deposit may not use the room a held debit needs; the rollback then restores the balance exactly', async () => {
    const { store } = ledgers;
    const u = newUserId();
    expect(await store.movement('trading', 'credit', move(u, MAX_AMOUNT - 10n))).toEqual({ status: 'success', state: 'credited' });
    const debit = move(u, 10n);
    expect(await store.movement('trading', 'withdraw', debit)).toEqual({ status: 'success', state: 'debited' });
    // 20 would fit available alone, but not once the held 10 comes back: refused, for ever.
    expect(await store.movement('trading', 'deposit', move(u, 20n))).toEqual({ status: 'failed', reason: 'balance_overflow' });
    expect(await store.movement('trading', 'deposit', move(u, 10n))).toEqual({ status: 'success', state: 'credited' });
    expect(await store.balance('trading', u, 1)).toEqual({ available: MAX_AMOUNT - 10n, frozen: 0n });
    expect(await store.rollback('trading', debit.reqId)).toEqual({ status: 'success', state: 'rolled_back' });
    expect(await store.balance('trading', u, 1)).toEqual({ available: MAX_AMOUNT, frozen: 0n });
  });

  it('a committed debit frees its room again', async () => {
    const { store } = ledgers;
    const u = newUserId();
    await store.movement('trading', 'credit', move(u, MAX_AMOUNT - 10n));
    const debit = move(u, 10n);
    await store.movement('trading', 'withdraw', debit);
    expect(await store.commit('trading', debit.reqId)).toEqual({ status: 'success', state: 'committed' });
    expect(await store.movement('trading', 'deposit', move(u, 20n))).toEqual({ status: 'success', state: 'credited' });
    expect(await store.balance('trading', u, 1)).toEqual({ available: MAX_AMOUNT, frozen: 0n });
  });
});

describe('the driver never sees a bigint past 2^63-1', () => {
  it('a statement binding one is refused before it is sent', async () => {
    const config = testConfig();
    const client = createCassandraClient(cassandraSettings(config, config.CASSANDRA_LEDGER_KEYSPACE));
    try {
      const select = 'SELECT available FROM accounts WHERE ledger = ? AND user_id = ? AND asset_id = ? LIMIT 1';
      await expect(client.execute(select, ['trading', 2n ** 63n, 1], { prepare: true })).rejects.toBeInstanceOf(Int64RangeError);
      const update = 'UPDATE accounts SET available = ? WHERE ledger = ? AND user_id = ? AND asset_id = ? IF version = ?';
      await expect(client.batch([{ query: update, params: [MAX_AMOUNT + 5n, 'trading', 1n, 1, 1n] }], { prepare: true }))
        .rejects.toBeInstanceOf(Int64RangeError);
    } finally {
      await client.shutdown();
    }
  });
});
