// The latest sweep, shared through Redis, is what every worker reports: a worker that swept long ago reports
// the newest sweep, not its own, and a slow sweep finishing late never replaces a newer one. A failing sweep
// counts as an error. Against the real Redis, on a prefix of its own.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { loadBaseConfig } from '@it/config';
import { createLogger, createWorkerMetrics, type SweepSnapshot } from '@it/observability';
import { createRedisConnection, createTransferQueue, deleteQueueKeys } from '@it/queue';
import type { TransferStore } from '@it/store';
import { readSweepSnapshot, saveSweepSnapshot, sweepReportKey } from '../src/sweep-report.ts';
import { sweep } from '../src/sweeper.ts';

const config = loadBaseConfig({ ...process.env, NODE_ENV: 'test' });
const logger = createLogger('sweep-report-test', 'silent');
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function setup() {
  const prefix = `{test-sweep-report-${randomUUID().slice(0, 8)}}`;
  const redis = createRedisConnection(config.REDIS_URL, 'worker');
  cleanups.push(async () => {
    await deleteQueueKeys(redis, prefix);
    redis.disconnect();
  });
  return { prefix, redis };
}

const snapshot = (at: number, stuck: number): SweepSnapshot => ({
  finishedAt: new Date(at), active: 10, stuck, overdue: 2, corrupt: 0, oldestActiveAgeSeconds: 301.25,
});

describe('the shared sweep report', () => {
  it('round-trips; none before the first sweep', async () => {
    const { prefix, redis } = setup();
    expect(await readSweepSnapshot(redis, prefix)).toBeUndefined();
    expect(await saveSweepSnapshot(redis, prefix, snapshot(1_700_000_000_000, 1))).toBe(true);
    expect(await readSweepSnapshot(redis, prefix)).toEqual(snapshot(1_700_000_000_000, 1));
  });

  it('a newer sweep replaces it; an older one finishing late does not', async () => {
    const { prefix, redis } = setup();
    await saveSweepSnapshot(redis, prefix, snapshot(2_000, 1));
    expect(await saveSweepSnapshot(redis, prefix, snapshot(1_000, 5))).toBe(false);
    expect(await readSweepSnapshot(redis, prefix)).toEqual(snapshot(2_000, 1));
    expect(await saveSweepSnapshot(redis, prefix, snapshot(3_000, 0))).toBe(true);
    expect(await readSweepSnapshot(redis, prefix)).toEqual(snapshot(3_000, 0));
  });

  it('a value this code did not write is no snapshot', async () => {
    const { prefix, redis } = setup();
    await redis.hset(sweepReportKey(prefix), 'finished_at', '1000', 'snapshot', JSON.stringify({ active: 'many' }));
    expect(await readSweepSnapshot(redis, prefix)).toBeUndefined();
  });

  it('two workers report the same, newest sweep, whichever of them ran it', async () => {
    const { prefix, redis } = setup();
    const workerA = createWorkerMetrics({ sweepSnapshot: () => readSweepSnapshot(redis, prefix) });
    const workerB = createWorkerMetrics({ sweepSnapshot: () => readSweepSnapshot(redis, prefix) });
    const stuckOf = async (m: typeof workerA) => /^internal_transfer_transfers_stuck\{app="worker"\} (\d+)$/m.exec(await m.registry.metrics())?.[1];
    await saveSweepSnapshot(redis, prefix, snapshot(Date.now() - 5_000, 3)); // A's sweep
    await saveSweepSnapshot(redis, prefix, snapshot(Date.now(), 0)); // B's, later: the transfers finished
    expect([await stuckOf(workerA), await stuckOf(workerB)]).toEqual(['0', '0']);
  });
});

describe('sweeper runs', () => {
  it('a sweep that fails is counted as an error and rethrown', async () => {
    const { prefix, redis } = setup();
    const queue = createTransferQueue(redis, prefix);
    cleanups.push(() => queue.close());
    const metrics = createWorkerMetrics();
    const store = { scanActive: () => Promise.reject(new Error('no host available')) } as unknown as TransferStore;
    await expect(sweep(store, queue, { stuckAfterMs: 60_000, logger, metrics })).rejects.toThrow('no host available');
    const runs = Object.fromEntries((await metrics.sweeperRuns.get()).values.map((v) => [v.labels.result, v.value]));
    expect(runs).toEqual({ ok: 0, error: 1 });
  });
});
