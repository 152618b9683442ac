// The active index at high throughput (issue 10, item 3), on the real Cassandra: 200 000 transfers created
// and finished within ONE bucket's time range while one transfer there stays active (it pins the bucket:
// every sweep must read it). In one partition per minute that is 200 000 tombstones per read, past
// Cassandra's tombstone_failure_threshold (100 000): the read fails, and the sweep with it. Sharded, each
// partition holds an eighth of them, and the sweep reads the same rows and pages as with no history at all.
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_INDEX_LAYOUT, indexEntryOf, type TransferRecord } from '../src/index.ts';
import { newTransfer, pool, testStore } from './helpers.ts';

const now = new Date(Date.UTC(2033, 0, 1, 12, 0, 0));
const { store, close } = await testStore({ clock: () => now });
afterAll(() => close());

/** At least 200 000, the bar; INDEX_SCALE_TRANSFERS may ask for more, never fewer. */
const MIN_TRANSFERS = 200_000;
function historySize(value = process.env.INDEX_SCALE_TRANSFERS): number {
  const n = Number(value ?? MIN_TRANSFERS);
  if (!Number.isInteger(n) || n < MIN_TRANSFERS) throw new Error(`INDEX_SCALE_TRANSFERS must be at least ${MIN_TRANSFERS} (got ${value})`);
  return n;
}

async function scan() {
  const seen: TransferRecord[] = [];
  const stats = await store.scanActive((r) => void seen.push(r));
  return { seen: seen.map((r) => r.reqId), stats };
}

describe('one pinned bucket after 200 000 finished transfers', () => {
  it('the sweep still succeeds and reads what it read with no history', async () => {
    const { bucketMs } = DEFAULT_INDEX_LAYOUT;
    const bucketStart = Math.floor((now.getTime() - 3 * bucketMs) / bucketMs) * bucketMs;
    const live = (await store.create(newTransfer({ createdAt: new Date(bucketStart + bucketMs / 2), nextAttemptAt: now }))).record;
    const baseline = await scan();
    expect(baseline.seen).toEqual([live.reqId]);

    const n = historySize();
    const perPartition = new Map<bigint, number>();
    await pool(n, 64, async (i) => {
      const createdAt = new Date(bucketStart + (i % bucketMs));
      const { record } = await store.create(newTransfer({ createdAt }));
      const done = await store.compareAndSet({ from: record, to: 'failed', error: 'insufficient_funds', attempt: 0, nextAttemptAt: null });
      if (!done.applied) throw new Error('lost a race nobody runs');
      const { partition } = indexEntryOf(record.reqId, createdAt, DEFAULT_INDEX_LAYOUT);
      perPartition.set(partition, (perPartition.get(partition) ?? 0) + 1);
    });
    // All of them went through the live transfer's bucket, spread over its shards: none near the threshold.
    expect(perPartition.size).toBe(DEFAULT_INDEX_LAYOUT.shards);
    expect(Math.max(...perPartition.values())).toBeLessThan(n / DEFAULT_INDEX_LAYOUT.shards + n / 50);

    for (let sweep = 0; sweep < 2; sweep++) {
      const after = await scan();
      expect(after.stats.failedEpochs).toEqual([]);
      expect(after.seen).toEqual([live.reqId]);
      expect(after.stats.rowsRead).toBe(baseline.stats.rowsRead);
      expect(after.stats.pages).toBe(baseline.stats.pages);
      expect(after.stats.epochs).toBe(baseline.stats.epochs);
    }
  }, 900_000);
});
