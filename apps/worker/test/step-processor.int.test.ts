// The worker's handling of each step result: a real BullMQ Worker on a queue prefix of its own runs
// createStepProcessor over a real Coordinator and store, with scripted in-process services standing in for
// Funding and Trading, so every outcome, and what happens while a call is in flight, can be chosen.
import { randomUUID } from 'node:crypto';
import { QueueEvents, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { LedgerAdapter } from '@it/adapters';
import type { Movement, Outcome } from '@it/domain';
import { createLogger, createWorkerMetrics } from '@it/observability';
import { createRedisConnection, createTransferQueue, deleteQueueKeys, enqueueTransfer, jobIdFor, TRANSFER_QUEUE, type TransferJobData } from '@it/queue';
import type { TransferRecord } from '@it/store';
import { newTransfer, testStore } from '../../../packages/store/test/helpers.ts';
import { Coordinator } from '../src/coordinator.ts';
import { createStepProcessor } from '../src/step-processor.ts';

const { client, store, config, close } = await testStore();
afterAll(() => close());
const logger = createLogger('step-processor-test', 'silent');
const BACKOFF = { baseMs: 400, maxMs: 400 };
/** Long enough for any job here to finish; a job still running by then is a failure, not a wait. */
const FINISH_WITHIN_MS = 15_000;

type Op = 'withdraw' | 'deposit' | 'commit' | 'rollback';

/** Idempotent by req_id like a real service; answers from a script, then `success`. */
class ScriptedService implements LedgerAdapter {
  readonly calls: { op: Op; reqId: string; row: TransferRecord | undefined }[] = [];
  private readonly script: Partial<Record<Op, Outcome[]>> = {};
  private readonly during: Partial<Record<Op, (reqId: string) => Promise<void> | void>> = {};
  constructor(readonly name: string) {}
  answer(op: Op, ...outcomes: Outcome[]) {
    (this.script[op] ??= []).push(...outcomes);
    return this;
  }
  /** Runs `fn` inside the next `op` call, while the step is in flight. */
  onCall(op: Op, fn: (reqId: string) => Promise<void> | void) {
    this.during[op] = fn;
    return this;
  }
  count(op: Op): number {
    return this.calls.filter((c) => c.op === op).length;
  }
  private async handle(op: Op, reqId: string): Promise<Outcome> {
    this.calls.push({ op, reqId, row: await store.get(reqId) });
    const during = this.during[op];
    delete this.during[op];
    await during?.(reqId);
    return this.script[op]?.shift() ?? { kind: 'success' };
  }
  withdraw = (op: Movement) => this.handle('withdraw', op.reqId);
  deposit = (op: Movement) => this.handle('deposit', op.reqId);
  commit = (reqId: string) => this.handle('commit', reqId);
  rollback = (reqId: string) => this.handle('rollback', reqId);
  query = () => Promise.resolve<Outcome>({ kind: 'pending', detail: 'not used' });
  close = () => Promise.resolve();
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A queue on a prefix of its own, its events, and workers running the step processor on it. */
async function setup() {
  const funding = new ScriptedService('funding');
  const trading = new ScriptedService('trading');
  const metrics = createWorkerMetrics();
  const coordinator = new Coordinator(store, { funding, trading }, {
    backoff: BACKOFF, leaseMs: 30_000, logger, metrics, random: () => 0,
  });
  const prefix = `{test-steps-${randomUUID().slice(0, 8)}}`;
  // BullMQ leaves connections it was given open: each is disconnected at the end.
  const connections: Redis[] = [];
  const connect = () => {
    const c = createRedisConnection(config.REDIS_URL, 'worker');
    connections.push(c);
    return c;
  };
  const connection = connect();
  const queue = createTransferQueue(connection, prefix);
  const events = new QueueEvents(TRANSFER_QUEUE, { connection: connect(), prefix });
  await events.waitUntilReady();
  const delays: { jobId: string; delay: number }[] = [];
  events.on('delayed', (e) => delays.push(e));
  const workers: Worker<TransferJobData>[] = [];
  cleanups.push(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await events.close();
    await queue.close();
    // Only this test's own keys: other tests share the Redis.
    await deleteQueueKeys(connection, prefix);
    for (const c of connections) c.disconnect();
  });

  /** Settles with the job's return value, or rejects with its failedReason; subscribed before the job exists. */
  function finishOf(jobId: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        events.off('completed', onCompleted);
        events.off('failed', onFailed);
      };
      const onCompleted = (e: { jobId: string; returnvalue: unknown }) => {
        if (e.jobId !== jobId) return;
        done();
        resolve(e.returnvalue);
      };
      const onFailed = (e: { jobId: string; failedReason: string }) => {
        if (e.jobId !== jobId) return;
        done();
        reject(new Error(e.failedReason));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`job ${jobId} did not finish within ${FINISH_WITHIN_MS} ms`));
      }, FINISH_WITHIN_MS);
      events.on('completed', onCompleted);
      events.on('failed', onFailed);
    });
  }

  const s = {
    funding, trading, metrics, queue,
    /** The times the transfer's job was moved to delayed until. */
    delaysOf: (reqId: string) => delays.filter((d) => d.jobId === jobIdFor(reqId)).map((d) => d.delay),
    startWorker() {
      let closing = false;
      const processor = createStepProcessor({ coordinator, backoff: BACKOFF, logger, closing: () => closing });
      const worker = new Worker<TransferJobData>(TRANSFER_QUEUE, (job, token) => processor(job, token!), {
        connection: connect(),
        prefix,
      });
      workers.push(worker);
      return {
        /** What the worker's own close() does: the job in hand finishes its step, then is released. */
        shutDown() {
          closing = true;
          return worker.close();
        },
      };
    },
    /** Enqueues the transfer's job; settles when that job finishes. */
    async run(reqId: string): Promise<unknown> {
      const finished = finishOf(jobIdFor(reqId));
      await enqueueTransfer(queue, reqId);
      return finished;
    },
  };
  return s;
}

async function created(): Promise<string> {
  const t = newTransfer({ amount: 250n });
  await store.create(t);
  return t.reqId;
}

describe('step processor in a BullMQ worker', () => {
  it('runs a transfer to its end in one job and returns the terminal state', async () => {
    const s = await setup();
    s.startWorker();
    const reqId = await created();
    expect(await s.run(reqId)).toBe('committed');
    expect(s.delaysOf(reqId)).toEqual([]);
    expect(s.funding.calls.map((c) => c.op)).toEqual(['withdraw', 'commit']);
    expect(s.trading.calls.map((c) => c.op)).toEqual(['deposit']);
    expect(await s.queue.getJobState(jobIdFor(reqId))).toBe('unknown');
  });

  it('completes a job for an already terminal transfer without calling anyone', async () => {
    const s = await setup();
    s.startWorker();
    s.funding.answer('withdraw', { kind: 'failed', reason: 'insufficient_funds' });
    const reqId = await created();
    expect(await s.run(reqId)).toBe('failed');
    expect(await s.run(reqId)).toBe('failed');
    expect(s.funding.calls.map((c) => c.op)).toEqual(['withdraw']);
    expect(s.trading.calls).toEqual([]);
  });

  it('completes a job for a transfer that does not exist as missing', async () => {
    const s = await setup();
    s.startWorker();
    expect(await s.run(randomUUID())).toBe('missing');
  });

  it('deferred: the job waits in delayed until the row says, then asks again, and only then finishes', async () => {
    const s = await setup();
    s.startWorker();
    s.trading.answer('deposit', { kind: 'pending', detail: 'timeout' });
    const reqId = await created();
    expect(await s.run(reqId)).toBe('committed');

    expect(s.trading.count('deposit')).toBe(2);
    // The second call was made on the row the deferral left: same state, one unknown outcome recorded.
    const retried = s.trading.calls[1]?.row;
    expect(retried).toMatchObject({ state: 'target_pending', attempt: 1, error: 'pending: timeout' });
    expect(s.delaysOf(reqId)).toEqual([retried?.nextAttemptAt?.getTime()]);
    expect(s.funding.calls.map((c) => c.op)).toEqual(['withdraw', 'commit']);
    expect(await store.get(reqId)).toMatchObject({ state: 'committed', attempt: 0 });
  });

  it('lost: another worker moved the row mid-step; the job looks again later and carries on from there', async () => {
    const s = await setup();
    s.startWorker();
    // While our withdraw is in flight, a rival worker records its success first.
    s.funding.onCall('withdraw', async (reqId) => {
      const row = await store.get(reqId);
      const r = await store.compareAndSet({ from: row!, to: 'source_done', error: null, attempt: 0, nextAttemptAt: new Date(Date.now() + 30_000) });
      expect(r.applied).toBe(true);
    });
    const reqId = await created();
    expect(await s.run(reqId)).toBe('committed');
    expect(s.delaysOf(reqId)).toHaveLength(1);
    expect((await s.metrics.casConflicts.get()).values[0]?.value).toBe(1);
    expect(s.funding.calls.map((c) => c.op)).toEqual(['withdraw', 'commit']);
    expect(s.trading.calls.map((c) => c.op)).toEqual(['deposit']);
  });

  it('corrupt: the job fails as unrecoverable, naming the row, and the row is left untouched', async () => {
    const s = await setup();
    s.startWorker();
    const reqId = await created();
    await client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['half_done', reqId, 'init'], { prepare: true });
    const raw = async () =>
      (await client.execute('SELECT * FROM transfers WHERE req_id = ?', [reqId], { prepare: true })).first().values() as unknown[];
    const before = await raw();

    await s.run(reqId).then(
      () => expect.fail('the job of a corrupt row completed'),
      () => undefined,
    );
    expect(await s.queue.getJobState(jobIdFor(reqId))).toBe('failed');
    const job = await s.queue.getJob(jobIdFor(reqId));
    expect(job?.failedReason).toContain(reqId);
    expect(job?.failedReason).toContain('half_done');
    expect(await raw()).toEqual(before);
    expect(s.funding.calls).toEqual([]);
    expect((await s.metrics.anomalies.get()).values.filter((v) => v.value > 0)).toEqual([expect.objectContaining({ labels: { kind: 'corrupt_row' }, value: 1 })]);
    // Repaired by hand, as an operator would.
    await client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['failed', reqId, 'half_done'], { prepare: true });
  });

  it('closing: the job in hand finishes its step, is released to the queue, and another worker finishes it', async () => {
    const s = await setup();
    const first = s.startWorker();
    // The shutdown signal arrives while the withdraw is in flight.
    const stopped = new Promise<void>((resolve) => s.funding.onCall('withdraw', () => resolve(first.shutDown())));
    const reqId = await created();
    await enqueueTransfer(s.queue, reqId);
    await stopped;

    expect(await s.queue.getJobState(jobIdFor(reqId))).toBe('waiting');
    // The withdraw's outcome was written with the deposit's intent; the deposit is the next worker's.
    expect((await store.get(reqId))?.state).toBe('target_pending');
    expect(s.trading.calls).toEqual([]);

    const finished = s.run(reqId);
    s.startWorker();
    expect(await finished).toBe('committed');
    expect(s.funding.calls.map((c) => c.op)).toEqual(['withdraw', 'commit']);
  });
});
