// The active index at its edges (issue 10, items 3–5), on the real Cassandra and a clock of our own: a row
// missing a required column is corrupt, never a crash; a create not yet visible keeps its entry; a replay in a
// minute the sweeper dropped is found again; an unreadable partition does not stop the sweep of the others.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { CorruptRowError, serialConsistency } from '@it/cassandra';
import { cassandraSettings } from '@it/config';
import { DEFAULT_INDEX_LAYOUT, indexEntryOf, TransferStore, type TransferRecord } from '../src/index.ts';

const MINUTE = 60_000;
import { FaultyClient } from './faulty-client.ts';
import { newTransfer, testStore } from './helpers.ts';

let now = new Date(Date.UTC(2032, 5, 1, 12, 0, 30));
const { client, config, keyspace, close } = await testStore({ clock: () => now });
afterAll(() => close());
const SERIAL = serialConsistency(cassandraSettings(config, keyspace));

/**
 * Every test starts with an empty index, and a store (a process) that has registered no minute yet: what a
 * scan counts is this test's own.
 */
let store: TransferStore;
beforeEach(async () => {
  await client.execute('TRUNCATE active_transfers');
  await client.execute('TRUNCATE active_epochs');
  now = new Date(Date.UTC(2032, 5, 1, 12, 0, 30));
  store = new TransferStore(client, { serialConsistency: SERIAL, clock: () => now });
});

async function scan(s: TransferStore = store) {
  const seen: TransferRecord[] = [];
  const stats = await s.scanActive((r) => void seen.push(r));
  return { seen: seen.map((r) => r.reqId), stats };
}

const minutes = (n: number) => new Date(now.getTime() + n * MINUTE);

describe('a row with a null required column (item 5)', () => {
  it.each(['created_at', 'amount', 'user_id'])('no %s: get says corrupt; the sweep reports it and goes on', async (column) => {
    const healthy = (await store.create(newTransfer({ nextAttemptAt: now }))).record;
    const broken = (await store.create(newTransfer({ nextAttemptAt: now }))).record;
    await client.execute(`DELETE ${column} FROM transfers WHERE req_id = ?`, [broken.reqId], { prepare: true });
    await expect(store.get(broken.reqId)).rejects.toBeInstanceOf(CorruptRowError);
    const { seen, stats } = await scan();
    expect(seen).toEqual([healthy.reqId]);
    expect(stats.corrupt).toEqual([broken.reqId]);
    expect(stats.cleaned).toBe(0);
  });
});

describe('an entry whose row a plain read does not see yet (item 4)', () => {
  it('is read SERIAL before it is forgotten: a create accepted but not yet visible keeps its entry', async () => {
    const t = (await store.create(newTransfer({ createdAt: minutes(-10), nextAttemptAt: now }))).record;
    const faulty = new FaultyClient(client);
    // The plain read of the row finds nothing, as on a replica the create has not reached.
    faulty.failNext((q, o) => q.startsWith('SELECT req_id, user_id') && o.consistency !== SERIAL, 'reply without [applied]');
    const { seen, stats } = await scan(new TransferStore(faulty.asClient(), { serialConsistency: SERIAL, clock: () => now }));
    expect(faulty.idle).toBe(true);
    expect(seen).toEqual([t.reqId]);
    expect(stats.cleaned).toBe(0);
    expect((await scan()).seen).toEqual([t.reqId]);
  });

  it('a never-created entry is still forgotten once old enough', async () => {
    const reqId = randomUUID();
    const { bucket, partition } = indexEntryOf(reqId, minutes(-10), DEFAULT_INDEX_LAYOUT);
    await client.execute('INSERT INTO active_transfers (epoch, req_id) VALUES (?, ?)', [partition, reqId], { prepare: true });
    await client.execute('INSERT INTO active_epochs (shard, epoch, bucket_ms, shards) VALUES (0, ?, ?, ?)', [
      bucket.key, DEFAULT_INDEX_LAYOUT.bucketMs, DEFAULT_INDEX_LAYOUT.shards,
    ], { prepare: true });
    expect((await scan()).stats).toMatchObject({ cleaned: 1, active: 0 });
    expect((await scan()).stats).toMatchObject({ cleaned: 0, epochs: 0 });
  });
});

describe('a replay in a minute the sweeper already dropped (item 4)', () => {
  it('registers the minute again, although this process registered it before', async () => {
    const minuteStart = now;
    const first = (await store.create(newTransfer({ nextAttemptAt: now }))).record;
    await store.compareAndSet({ from: first, to: 'failed', error: 'test', attempt: 0, nextAttemptAt: null });
    now = minutes(3);
    expect((await scan()).stats.epochsDropped).toBe(1);
    // The replay writes its row with the original request's time, in the dropped minute.
    const replay = (await store.create(newTransfer({ createdAt: minuteStart, nextAttemptAt: now }))).record;
    expect((await scan()).seen).toEqual([replay.reqId]);
  });
});

describe('an unreadable partition (item 3)', () => {
  it('is reported and skipped; the other minutes are swept', async () => {
    // One partition per bucket, so the first partition read is one that holds a transfer.
    const oneShard = new TransferStore(client, { serialConsistency: SERIAL, clock: () => now, indexLayout: { bucketMs: 10_000, shards: 1 } });
    const a = (await oneShard.create(newTransfer({ createdAt: minutes(-3), nextAttemptAt: now }))).record;
    const b = (await oneShard.create(newTransfer({ createdAt: minutes(-2), nextAttemptAt: now }))).record;
    const faulty = new FaultyClient(client);
    faulty.failNext((q) => q.startsWith('SELECT req_id FROM active_transfers'), 'unavailable');
    const { seen, stats } = await scan(new TransferStore(faulty.asClient(), { serialConsistency: SERIAL, clock: () => now }));
    expect(faulty.idle).toBe(true);
    expect(stats.failedEpochs).toHaveLength(1);
    expect(seen).toHaveLength(1);
    expect([a.reqId, b.reqId]).toContain(seen[0]);
    // Nothing was lost: the next sweep reads both.
    expect((await scan()).seen.sort()).toEqual([a.reqId, b.reqId].sort());
  });
});

describe('layouts (item 3): each bucket is read with the layout it was written with', () => {
  it('a bucket from before layouts were recorded (one partition per minute) is swept, cleaned and dropped', async () => {
    const t = (await store.create(newTransfer({ createdAt: minutes(-4), nextAttemptAt: now }))).record;
    // Move its entry where the old layout kept it: the minute's number, a registry row without a layout.
    const minute = BigInt(Math.floor(t.createdAt.getTime() / MINUTE));
    await client.execute('TRUNCATE active_transfers');
    await client.execute('TRUNCATE active_epochs');
    await client.execute('INSERT INTO active_transfers (epoch, req_id) VALUES (?, ?)', [minute, t.reqId], { prepare: true });
    await client.execute('INSERT INTO active_epochs (shard, epoch) VALUES (0, ?)', [minute], { prepare: true });
    expect((await scan()).seen).toEqual([t.reqId]);
    await store.compareAndSet({ from: t, to: 'failed', error: 'test', attempt: 0, nextAttemptAt: null });
    const after = await scan();
    expect(after.stats).toMatchObject({ cleaned: 1, epochsDropped: 1 });
    expect((await scan()).stats.epochs).toBe(0);
  });

  it('a change of layout loses nothing written under the previous one', async () => {
    const before = (await store.create(newTransfer({ nextAttemptAt: now }))).record;
    const changed = new TransferStore(client, { serialConsistency: SERIAL, clock: () => now, indexLayout: { bucketMs: 60_000, shards: 3 } });
    const after = (await changed.create(newTransfer({ nextAttemptAt: now }))).record;
    for (const reader of [store, changed]) {
      expect((await scan(reader)).seen.sort()).toEqual([before.reqId, after.reqId].sort());
    }
    // Finished under the other layout than the one it was indexed with: the sweep still cleans it up.
    await changed.compareAndSet({ from: before, to: 'failed', error: 'test', attempt: 0, nextAttemptAt: null });
    const swept = await scan(changed);
    expect(swept.seen).toEqual([after.reqId]);
    expect(swept.stats.cleaned).toBe(1);
  });
});
