// The synchronous wait of POST /transfer with a stand-in worker on the test's queue: a transfer that
// finishes inside the window is answered 200 with its outcome, also after the job went through delayed; a
// job the real step processor fails (a corrupt row) ends the wait too.
import { DelayedError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '@it/domain';
import type { State } from '@it/fsm';
import { createLogger } from '@it/observability';
import { createRedisConnection, jobIdFor, TRANSFER_QUEUE, type TransferJobData } from '@it/queue';
import { Coordinator, createStepProcessor, type Adapters } from '@it/worker';
import { backdoor, call, newUserId, REDIS_URL, startTestApi, testConfig, tokenFor, transferBody, type TestApi } from './helpers.ts';

// The longest window the API allows; an answer within a third of it did not wait for the window to close.
const config = testConfig({ SYNC_WAIT_MS: '30000' });
const WELL_BEFORE_THE_WINDOW_ENDS_MS = 10_000;
let api: TestApi;
let db: ReturnType<typeof backdoor>;
let worker: Worker<TransferJobData>;
const workerConnection = createRedisConnection(REDIS_URL, 'worker');
/** What the stand-in worker does per amount: finish in a state, or go through delayed once first; or corrupt. */
type Plan = { to: State; error: string | null; delayOnce: boolean } | 'corrupt';
const plan = new Map<string, Plan>();
const CORRUPT_STATE = 'bogus';

/** A ledger the corrupt-row path must never reach. */
function untouchable(name: Account): Adapters[Account] {
  const refuse = () => Promise.reject(new Error(`${name} called for a corrupt row`));
  return { name, withdraw: refuse, deposit: refuse, commit: refuse, rollback: refuse, query: refuse, close: () => Promise.resolve() };
}

beforeAll(async () => {
  api = await startTestApi(config);
  db = backdoor(config);
  const logger = createLogger('sync-wait-worker', 'silent');
  // The worker's own processor, for the jobs whose row this test corrupts.
  const realSteps = createStepProcessor({
    coordinator: new Coordinator(db.store, { funding: untouchable('funding'), trading: untouchable('trading') }, {
      backoff: { baseMs: 1000, maxMs: 60_000 }, leaseMs: 30_000, logger,
    }),
    backoff: { baseMs: 1000, maxMs: 60_000 },
    logger,
    closing: () => false,
  });
  worker = new Worker<TransferJobData>(
    TRANSFER_QUEUE,
    async (job, token) => {
      const row = await db.store.get(job.data.reqId);
      if (!row || !token) throw new Error('no row');
      const p = plan.get(row.amount.toString());
      if (!p) throw new Error('unplanned amount');
      if (p === 'corrupt') {
        // A row this version cannot read (written by a newer one, or damaged).
        await db.client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', [CORRUPT_STATE, row.reqId, 'init'], { prepare: true });
        return realSteps(job, token);
      }
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
    const res = await call(`${api.url}/api/v1/transfer`, {
      token: await tokenFor(user), body: transferBody(user, { amount }), signal: AbortSignal.timeout(WELL_BEFORE_THE_WINDOW_ENDS_MS),
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ req_id: expect.any(String), status: p.to, message: p.error });
  });

  it('only a transfer answered pending counts against the open-transfers cap', async () => {
    plan.set('15', { to: 'committed', error: null, delayOnce: false });
    plan.set('16', 'corrupt');
    const redis = createRedisConnection(REDIS_URL, 'worker');
    const open = (user: string) => redis.zrange(`${config.QUEUE_PREFIX}:limits:open:${user}`, '0', '-1');
    let reqId: string | undefined;
    try {
      const fast = newUserId();
      const done = await call(`${api.url}/api/v1/transfer`, { token: await tokenFor(fast), body: transferBody(fast, { amount: '15' }) });
      expect(done.body).toMatchObject({ status: 'committed' });
      const slow = newUserId();
      const pending = await call(`${api.url}/api/v1/transfer`, { token: await tokenFor(slow), body: transferBody(slow, { amount: '16' }) });
      reqId = pending.body.req_id as string;
      expect(pending.body).toMatchObject({ status: 'pending' });
      // Sent before the answer, fire and forget; the fast one would have been sent first, on the same connection.
      await expect.poll(() => open(slow)).toEqual([reqId]);
      expect(await open(fast)).toEqual([]);
    } finally {
      redis.disconnect();
      if (reqId) await db.client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['failed', reqId, CORRUPT_STATE], { prepare: true });
    }
  });

  it('a job that fails (corrupt row, unrecoverable) ends the wait; the answer is the row, still pending', async () => {
    plan.set('99', 'corrupt');
    const user = newUserId();
    let reqId: string | undefined;
    try {
      const res = await call(`${api.url}/api/v1/transfer`, {
        token: await tokenFor(user), body: transferBody(user, { amount: '99' }), signal: AbortSignal.timeout(WELL_BEFORE_THE_WINDOW_ENDS_MS),
      });
      reqId = res.body.req_id as string;
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ req_id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'pending', message: null });
      // The failure is the worker's corrupt-row stop, not anything else.
      const job = await db.queue.getJob(jobIdFor(reqId));
      expect(await job?.getState()).toBe('failed');
      expect(job?.failedReason).toBe(`transfer ${reqId} has unknown state "${CORRUPT_STATE}"`);
      expect(job?.attemptsMade).toBe(1);
    } finally {
      // Repair the row so nothing else trips over it.
      if (reqId) await db.client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['failed', reqId, CORRUPT_STATE], { prepare: true });
    }
  });
});
