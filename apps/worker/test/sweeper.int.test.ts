// The sweeper against the real store and a real BullMQ queue. Each test gets a keyspace and a queue prefix of
// its own, so every count it asserts is exactly its own transfers. Rows are made overdue or stuck through
// their nextAttemptAt / createdAt values, never by waiting.
import { randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, createWorkerMetrics, type WorkerMetrics } from '@it/observability';
import { createRedisConnection, createTransferQueue, deleteQueueKeys, enqueueTransfer, jobIdFor, STEP_JOB, STEP_JOB_OPTIONS, TRANSFER_QUEUE } from '@it/queue';
import { DEFAULT_INDEX_LAYOUT, indexEntryOf, type NewTransfer, type TransferStore } from '@it/store';
import { newTransfer, testStore } from '../../../packages/store/test/helpers.ts';
import { snapshotOf, sweep } from '../src/sweeper.ts';

const logger = createLogger('sweeper-test', 'silent');
const STUCK_AFTER_MS = 5 * 60_000;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup() {
  const db = await testStore();
  cleanups.push(db.close);
  const prefix = `{test-sweeper-${randomUUID().slice(0, 8)}}`;
  const connection = createRedisConnection(db.config.REDIS_URL, 'worker');
  const queue = createTransferQueue(connection, prefix);
  cleanups.push(async () => {
    await queue.close();
    // Only this test's own keys: other tests share the Redis.
    await deleteQueueKeys(connection, prefix);
    connection.disconnect();
  });
  const metrics = createWorkerMetrics();
  return {
    ...db,
    prefix,
    queue,
    metrics,
    run: () => sweep(db.store, queue, { stuckAfterMs: STUCK_AFTER_MS, logger, metrics }),
    jobState: (reqId: string) => queue.getJobState(jobIdFor(reqId)),
  };
}

const ago = (ms: number) => new Date(Date.now() - ms);
const ahead = (ms: number) => new Date(Date.now() + ms);

async function created(store: TransferStore, over: Partial<NewTransfer>): Promise<string> {
  const t = newTransfer(over);
  await store.create(t);
  return t.reqId;
}

async function value(metric: WorkerMetrics['sweeperRecovered']): Promise<number | undefined> {
  return (await metric.get()).values[0]?.value;
}

async function runs(metrics: WorkerMetrics): Promise<Record<string, number>> {
  const { values } = await metrics.sweeperRuns.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.result), v.value]));
}

describe('sweep', () => {
  it('enqueues an overdue transfer that has no job, and leaves a not-yet-due one alone', async () => {
    const s = await setup();
    const overdue = await created(s.store, { nextAttemptAt: ago(1_000) });
    const notDue = await created(s.store, { nextAttemptAt: ahead(60_000) });

    const report = await s.run();
    expect(report).toMatchObject({ active: 2, overdue: 1, enqueued: 1, stuck: [], corrupt: [] });
    expect(await s.jobState(overdue)).toBe('waiting');
    const job = await s.queue.getJob(jobIdFor(overdue));
    expect({ name: job?.name, data: job?.data }).toEqual({ name: STEP_JOB, data: { reqId: overdue } });
    expect(await s.jobState(notDue)).toBe('unknown');
    expect(await value(s.metrics.sweeperRecovered)).toBe(1);
    expect(await runs(s.metrics)).toEqual({ ok: 1, error: 0 });
  });

  it('adds no second job while a live one (waiting or delayed) carries the transfer', async () => {
    const s = await setup();
    const waiting = await created(s.store, { nextAttemptAt: ago(1_000) });
    const delayed = await created(s.store, { nextAttemptAt: ago(1_000) });
    await enqueueTransfer(s.queue, waiting);
    await s.queue.add(STEP_JOB, { reqId: delayed }, { ...STEP_JOB_OPTIONS, jobId: jobIdFor(delayed), delay: 60_000 });
    const before = await s.queue.getJobs(['waiting', 'delayed']);

    const report = await s.run();
    expect(report).toMatchObject({ active: 2, overdue: 2, enqueued: 0 });
    expect(await s.jobState(waiting)).toBe('waiting');
    expect(await s.jobState(delayed)).toBe('delayed');
    const after = await s.queue.getJobs(['waiting', 'delayed']);
    expect(after.map((j) => [j.id, j.timestamp]).sort()).toEqual(before.map((j) => [j.id, j.timestamp]).sort());
    expect(await value(s.metrics.sweeperRecovered)).toBe(0);
  });

  it('retries the failed job of an overdue transfer (its id would block a new one)', async () => {
    const s = await setup();
    const reqId = await created(s.store, { nextAttemptAt: ago(1_000) });
    await enqueueTransfer(s.queue, reqId);
    // A worker that takes the job and fails it, as one that stalled too often would.
    const connection = createRedisConnection(s.config.REDIS_URL, 'worker');
    const taker = new Worker(TRANSFER_QUEUE, null, { connection, prefix: s.prefix });
    try {
      const token = randomUUID();
      const job = await taker.getNextJob(token);
      expect(job?.id).toBe(jobIdFor(reqId));
      await job?.moveToFailed(new Error('job stalled more than allowable limit'), token);
    } finally {
      await taker.close();
      connection.disconnect();
    }
    expect(await s.jobState(reqId)).toBe('failed');

    const report = await s.run();
    expect(report).toMatchObject({ overdue: 1, enqueued: 1 });
    expect(await s.jobState(reqId)).toBe('waiting');
    expect(await value(s.metrics.sweeperRecovered)).toBe(1);
  });

  it('counts transfers older than stuckAfterMs as stuck, due or not', async () => {
    const s = await setup();
    const stuck = await created(s.store, { createdAt: ago(STUCK_AFTER_MS + 60_000), nextAttemptAt: ahead(60_000) });
    await created(s.store, { createdAt: ago(STUCK_AFTER_MS - 60_000), nextAttemptAt: ahead(60_000) });

    const report = await s.run();
    expect(report).toMatchObject({ active: 2, overdue: 0, enqueued: 0, stuck: [stuck] });
    // The oldest active transfer's age is the stuck one's (created 6 minutes ago).
    expect(report.oldestActiveAgeMs).toBeGreaterThanOrEqual(STUCK_AFTER_MS + 60_000);
    expect(report.oldestActiveAgeMs).toBeLessThan(STUCK_AFTER_MS + 120_000);
    const at = new Date();
    expect(snapshotOf(report, at)).toEqual({
      finishedAt: at, active: 2, stuck: 1, overdue: 0, corrupt: 0, oldestActiveAgeSeconds: report.oldestActiveAgeMs / 1000,
    });
  });

  it('reports a corrupt row, never enqueues or changes it, and still sweeps the others', async () => {
    const s = await setup();
    const corrupt = await created(s.store, { nextAttemptAt: ago(1_000) });
    const healthy = await created(s.store, { nextAttemptAt: ago(1_000) });
    // A state this version does not know, as a newer version might write (through an LWT, like every write).
    await s.client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['half_done', corrupt, 'init'], {
      prepare: true,
    });
    const raw = async () =>
      (await s.client.execute('SELECT * FROM transfers WHERE req_id = ?', [corrupt], { prepare: true })).first().values() as unknown[];
    const rowBefore = await raw();

    const report = await s.run();
    expect(report).toMatchObject({ active: 1, overdue: 1, enqueued: 1, corrupt: [corrupt] });
    expect(await s.jobState(corrupt)).toBe('unknown');
    expect(await s.jobState(healthy)).toBe('waiting');
    expect(await raw()).toEqual(rowBefore);
    expect(snapshotOf(report, new Date())).toMatchObject({ active: 1, overdue: 1, corrupt: 1, stuck: 0 });
    // Its index entry was kept: the next sweep reports it again.
    expect((await s.run()).corrupt).toEqual([corrupt]);
  });

  it('never enqueues a terminal transfer, even one whose index entry a crash left behind', async () => {
    const s = await setup();
    const reqId = await created(s.store, { nextAttemptAt: ago(1_000) });
    const record = await s.store.get(reqId);
    const done = await s.store.compareAndSet({ from: record!, to: 'committed', error: null, attempt: 0, nextAttemptAt: null });
    expect(done.applied).toBe(true);
    // The crash: the entry is still there, and the row still says when it was due.
    await s.client.execute(
      'INSERT INTO active_transfers (epoch, req_id) VALUES (?, ?)',
      [indexEntryOf(reqId, record!.createdAt, DEFAULT_INDEX_LAYOUT).partition, reqId],
      { prepare: true },
    );
    await s.client.execute('UPDATE transfers SET next_attempt_at = ? WHERE req_id = ? IF state = ?', [ago(1_000), reqId, 'committed'], {
      prepare: true,
    });

    const report = await s.run();
    expect(report).toMatchObject({ active: 0, overdue: 0, enqueued: 0, cleaned: 1 });
    expect(await s.jobState(reqId)).toBe('unknown');
    expect(report.oldestActiveAgeMs).toBe(0);
  });
});
