import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { transition, type State } from '@it/fsm';
import { CorruptRowError } from '@it/cassandra';
import { MAX_AMOUNT } from '@it/domain';
import { InvalidTransferError, type TransferRecord } from '../src/index.ts';
import { newTransfer, testStore } from './helpers.ts';

const { client, store, close } = await testStore();
afterAll(() => close());

describe('create and get', () => {
  it('talks to a real Cassandra 5.0', async () => {
    const rs = await client.execute('SELECT release_version FROM system.local');
    expect(String(rs.first().get('release_version'))).toMatch(/^5\.0\.\d+$/);
  });

  it('creates once; a second create with the same req_id returns the stored row', async () => {
    const t = newTransfer({ amount: MAX_AMOUNT });
    const first = await store.create(t);
    expect(first.created).toBe(true);
    const again = await store.create({ ...t, amount: 5n });
    expect(again.created).toBe(false);
    expect(again.record.amount).toBe(MAX_AMOUNT);
    const read = await store.get(t.reqId);
    expect(read).toMatchObject({ state: 'init', version: 1, amount: MAX_AMOUNT, userId: t.userId, attempt: 0 });
  });

  it('returns undefined for an unknown req_id', async () => {
    expect(await store.get(randomUUID())).toBeUndefined();
  });

  it.each([
    ['zero amount', { amount: 0n }],
    ['negative amount', { amount: -1n }],
    ['amount over 2^63-1', { amount: MAX_AMOUNT + 1n }],
    ['asset id 0', { assetId: 0 }],
    ['asset id over int32', { assetId: 2 ** 31 }],
    ['fractional asset id', { assetId: 1.5 }],
    ['user id 0', { userId: 0n }],
    ['same source and target', { target: 'funding' as const }],
  ])('refuses %s', async (_name, override) => {
    await expect(store.create(newTransfer(override))).rejects.toBeInstanceOf(InvalidTransferError);
  });

  it('treats an unknown stored state as an error, never a default', async () => {
    const t = newTransfer();
    await store.create(t);
    // Simulate a row written by a newer version of the service (through an LWT, like every write).
    await client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['teleported', t.reqId, 'init'], {
      prepare: true,
    });
    await expect(store.get(t.reqId)).rejects.toBeInstanceOf(CorruptRowError);
    await expect(store.get(t.reqId, { serial: true })).rejects.toBeInstanceOf(CorruptRowError);
    // Repaired by hand, as an operator would, so the sweeper in later tests sees a clean index.
    await client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['failed', t.reqId, 'teleported'], {
      prepare: true,
    });
  });
});

describe('compare-and-set', () => {
  async function step(record: TransferRecord, to: State) {
    return store.compareAndSet({ from: record, to, error: null, attempt: record.attempt, nextAttemptAt: new Date() });
  }

  it('50 concurrent contenders: exactly one wins each step, the losers see the winner', async () => {
    const { record: created } = await store.create(newTransfer());
    let current = created;
    const path: State[] = ['source_pending', 'source_done', 'target_pending', 'finalizing', 'committed'];
    const events = ['begin', 'success', 'begin', 'success', 'success'] as const;
    for (const [i, to] of path.entries()) {
      const t = transition(current.state, events[i]!);
      expect(t).toMatchObject({ ok: true, to });
      const results = await Promise.all(Array.from({ length: 50 }, () => step(current, to)));
      const winners = results.filter((r) => r.applied);
      expect(winners).toHaveLength(1);
      const winner = winners[0]!;
      if (!winner.applied) throw new Error('unreachable');
      for (const r of results) {
        if (r.applied) continue;
        expect(r.current?.state).toBe(to);
        expect(r.current?.version).toBe(current.version + 1);
        expect(r.current?.transitionId).toBe(winner.record.transitionId);
      }
      const stored = await store.get(current.reqId, { serial: true });
      expect(stored).toMatchObject({ state: to, version: current.version + 1, transitionId: winner.record.transitionId });
      current = winner.record;
    }
    expect(current.nextAttemptAt).toBeNull();
    expect((await store.get(current.reqId))?.nextAttemptAt).toBeNull();
  });

  it('a self-loop (pending outcome) still needs the current version: two retries cannot both record', async () => {
    const { record } = await store.create(newTransfer());
    const pendingRow = await step(record, 'source_pending');
    if (!pendingRow.applied) throw new Error('setup');
    const bump = (r: TransferRecord) =>
      store.compareAndSet({ from: r, to: 'source_pending', error: 'timeout', attempt: r.attempt + 1, nextAttemptAt: new Date() });
    const [a, b] = await Promise.all([bump(pendingRow.record), bump(pendingRow.record)]);
    expect([a.applied, b.applied].filter(Boolean)).toHaveLength(1);
    expect(await store.get(record.reqId)).toMatchObject({ attempt: 1, error: 'timeout', version: 3 });
  });

  it('a stale version loses even when the state matches', async () => {
    const { record } = await store.create(newTransfer());
    const moved = await step(record, 'source_pending');
    expect(moved.applied).toBe(true);
    const stale = await step({ ...record, state: 'source_pending' }, 'source_done');
    expect(stale.applied).toBe(false);
    if (!stale.applied) expect(stale.current?.state).toBe('source_pending');
  });
});
