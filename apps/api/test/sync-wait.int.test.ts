// The synchronous wait of POST /transfer with a stand-in worker on the test's queue: a transfer that
// finishes inside the window is answered 200 with its outcome, also after the job went through delayed.
import { DelayedError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisConnection, TRANSFER_QUEUE, type TransferJobData } from '@it/queue';
import type { State } from '@it/fsm';
import { backdoor, call, newUserId, REDIS_URL, startTestApi, testConfig, tokenFor, transferBody, type TestApi } from './helpers.ts';

const config = testConfig({ SYNC_WAIT_MS: '5000' });
let api: TestApi;
let db: ReturnType<typeof backdoor>;
let worker: Worker<TransferJobData>;
const workerConnection = createRedisConnection(REDIS_URL, 'worker');
/** What the stand-in worker does per amount: finish in a state, or go through delayed once first. */
const plan = new Map<string, { to: State; error: string | null; delayOnce: boolean }>();

beforeAll(async () => {
  api = await startTestApi(config);
  db = backdoor(config);
  worker = new Worker<TransferJobData>(
    TRANSFER_QUEUE,
    async (job, token) => {
      const row = await db.store.get(job.data.reqId);
      if (!row || !token) throw new Error('no row');
      const p = plan.get(row.amount.toString());
      if (!p) throw new Error('unplanned amount');
      if (p.delayOnce && job.attemptsStarted <= 1) {
        await job.moveToDelayed(Date.now() + 150, token);
        throw new DelayedError();
      }
      await db.store.compareAndSet({ from: row, to: p.to, error: p.error, attempt: 1, nextAttemptAt: null });
      return p.to;
    },
    { connection: workerConnection, prefix: config.QUEUE_PREFIX, concurrency: 4 },
  );
  await worker.waitUntilReady();
});
afterAll(async () => {
  await worker?.close();
  workerConnection.disconnect();
  await api?.close();
  await db?.close();
});

describe('sync wait', () => {
  it.each([
    ['committed', '11', { to: 'committed', error: null, delayOnce: false }],
    ['rolled_back', '12', { to: 'rolled_back', error: 'target refused: insufficient_funds', delayOnce: false }],
    ['failed', '13', { to: 'failed', error: 'source refused: insufficient_funds', delayOnce: false }],
    ['committed after a delayed round', '14', { to: 'committed', error: null, delayOnce: true }],
  ] as const)('%s → 200 with the outcome, well before the window ends', async (_name, amount, p) => {
    plan.set(amount, p);
    const user = newUserId();
    const t0 = Date.now();
    const res = await call(`${api.url}/api/v1/transfer`, { token: await tokenFor(user), body: transferBody(user, { amount }) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ req_id: expect.any(String), status: p.to, message: p.error });
    expect(Date.now() - t0).toBeLessThan(2_500);
  });

  it('a job that fails (corrupt row, unrecoverable) ends the wait; the answer is the row, still pending', async () => {
    const user = newUserId();
    const t0 = Date.now();
    const res = await call(`${api.url}/api/v1/transfer`, { token: await tokenFor(user), body: transferBody(user, { amount: '99' }) });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'pending', message: null });
    expect(Date.now() - t0).toBeLessThan(2_500);
  });
});
