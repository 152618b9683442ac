import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_INDEX_LAYOUT, indexEntryOf, type TransferRecord, type TransferStore } from '../src/index.ts';

const MINUTE = 60_000;
import { newTransfer, pool, testStore } from './helpers.ts';

// The sweeper's view: every non-terminal transfer exactly once, terminal ones never, and a cost that
// does not grow with the number of finished transfers.

// A keyspace of our own, on a clock of our own.
let now = new Date(Date.UTC(2031, 0, 1));
const { client, store, keyspace, close } = await testStore({ clock: () => now });
afterAll(() => close());

/**
 * How many finished transfers the O(active) proof writes. Fewer are refused: with none the proof is a no-op,
 * and a small history hides the costs that show only at scale (pages of tombstones, tombstone thresholds).
 */
const MIN_HISTORY = 10_000;
function historySize(value = process.env.HISTORY_TRANSFERS): number {
  const n = Number(value ?? 100_000);
  if (!Number.isInteger(n) || n < MIN_HISTORY) {
    throw new Error(`HISTORY_TRANSFERS must be an integer of at least ${MIN_HISTORY} (got ${value}): fewer would prove nothing`);
  }
  return n;
}

async function drive(record: TransferRecord, states: Parameters<TransferStore['compareAndSet']>[0]['to'][]) {
  let r = record;
  for (const to of states) {
    const res = await store.compareAndSet({ from: r, to, error: null, attempt: 0, nextAttemptAt: new Date(now.getTime() + 60_000) });
    if (!res.applied) throw new Error('lost a race nobody runs');
    r = res.record;
  }
  return r;
}

async function scan() {
  const seen: TransferRecord[] = [];
  const stats = await store.scanActive((r) => void seen.push(r), { pageSize: 100 });
  return { seen, stats };
}

describe('active index', () => {
  it('returns exactly the non-terminal transfers, whatever their state', async () => {
    // Drain whatever earlier runs left in these epochs.
    now = new Date(now.getTime() + 10 * MINUTE);
    await scan();
    const base = new Set((await scan()).seen.map((r) => r.reqId));

    const active: string[] = [];
    const finished: string[] = [];
    const paths = [
      [], ['source_pending'], ['source_pending', 'source_done'], ['source_pending', 'source_done', 'target_pending'],
      ['source_pending', 'source_done', 'target_pending', 'finalizing'],
      ['source_pending', 'source_done', 'target_pending', 'compensating'],
    ] as const;
    const terminalPaths = [
      ['source_pending', 'failed'],
      ['source_pending', 'source_done', 'target_pending', 'finalizing', 'committed'],
      ['source_pending', 'source_done', 'target_pending', 'compensating', 'rolled_back'],
    ] as const;
    for (let i = 0; i < 3; i++) {
      for (const p of paths) {
        const { record } = await store.create(newTransfer());
        await drive(record, [...p]);
        active.push(record.reqId);
      }
      for (const p of terminalPaths) {
        const { record } = await store.create(newTransfer());
        await drive(record, [...p]);
        finished.push(record.reqId);
      }
      now = new Date(now.getTime() + MINUTE); // spread over epochs
    }
    const { seen } = await scan();
    const ids = seen.map((r) => r.reqId).filter((id) => !base.has(id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(active));
    for (const r of seen) expect(['committed', 'rolled_back', 'failed']).not.toContain(r.state);
  });

  it('reports a row with an unknown state and goes on with the others', async () => {
    now = new Date(now.getTime() + 10 * MINUTE);
    await scan();
    const { record: bad } = await store.create(newTransfer());
    const { record: good } = await store.create(newTransfer());
    await client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['teleported', bad.reqId, 'init'], { prepare: true });
    const { seen, stats } = await scan();
    expect(stats.corrupt).toContain(bad.reqId);
    expect(seen.map((r) => r.reqId)).toContain(good.reqId);
    expect(seen.map((r) => r.reqId)).not.toContain(bad.reqId);
    // Not cleaned away: it stays visible to operations until someone repairs it.
    expect((await scan()).stats.corrupt).toContain(bad.reqId);
    // Repair it so later tests see a clean index.
    await client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['failed', bad.reqId, 'teleported'], { prepare: true });
  });

  it('cleans entries a crash left behind for finished transfers', async () => {
    now = new Date(now.getTime() + 10 * MINUTE);
    const { record } = await store.create(newTransfer());
    const done = await drive(record, ['source_pending', 'failed']);
    // Put the entry back as if the post-terminal delete had been lost.
    await client.execute('INSERT INTO active_transfers (epoch, req_id) VALUES (?, ?)', [indexEntryOf(done.reqId, done.createdAt, DEFAULT_INDEX_LAYOUT).partition, done.reqId], { prepare: true });
    const first = await scan();
    expect(first.seen.map((r) => r.reqId)).not.toContain(done.reqId);
    expect(first.stats.cleaned).toBeGreaterThanOrEqual(1);
    const second = await scan();
    expect(second.stats.cleaned).toBe(0);
  });

  it('after 100 000 terminal transfers the scan reads no more rows than with none', async () => {
    now = new Date(now.getTime() + 100 * MINUTE);
    await scan();
    // A few long-running transfers that the sweeper must keep seeing.
    for (let i = 0; i < 5; i++) await store.create(newTransfer());
    const baseline = (await scan()).stats;
    expect(baseline.active).toBeGreaterThanOrEqual(5);

    // 100 000 transfers created over the last ~2 hours and finished (create + 2 LWTs each).
    const start = now.getTime() - 120 * MINUTE;
    const realNow = now;
    const n = historySize();
    const local = await testStore({ keyspace }); // real clock: createdAt is given per transfer below
    try {
      await pool(n, 64, async (i) => {
        const createdAt = new Date(start + Math.floor((i / n) * 120 * MINUTE));
        const { record } = await local.store.create(newTransfer({ createdAt }));
        const a = await local.store.compareAndSet({ from: record, to: 'source_pending', error: null, attempt: 0, nextAttemptAt: realNow });
        if (!a.applied) throw new Error('unexpected race');
        const b = await local.store.compareAndSet({ from: a.record, to: 'failed', error: 'insufficient_funds', attempt: 0, nextAttemptAt: null });
        if (!b.applied) throw new Error('unexpected race');
      });
    } finally {
      await local.close();
    }

    // Once the last of those minutes is two epochs old, one scan forgets the epochs that hold only
    // finished transfers (reading their tombstones one last time); from then on they cost nothing.
    now = new Date(now.getTime() + 2 * MINUTE);
    const first = (await scan()).stats;
    expect(first.active).toBe(baseline.active);
    const after = (await scan()).stats;
    expect(after.active).toBe(baseline.active);
    expect(after.rowsRead).toBe(baseline.rowsRead);
    expect(after.pages).toBe(baseline.pages);
    expect(after.epochs).toBe(baseline.epochs);
  }, 900_000);
});
