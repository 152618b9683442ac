// Crash tests with real processes: workers killed mid-call, the queue lost from Redis with transfers in
// flight, two workers handed the same transfer. Money is checked on the ledgers after each.
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deleteQueueKeys, enqueueTransfer, type TransferJobData } from '@it/queue';
import { eventually } from '../support/processes.ts';
import { newUserId, Product, tokenFor } from '../support/product.ts';

const TERMINAL = ['committed', 'rolled_back', 'failed'];
const product = new Product({
  basePort: 18280,
  // Short lock and lease so a dead worker's transfer is recovered in seconds, not minutes.
  workerEnv: { WORKER_LOCK_MS: '4000', STEP_LEASE_MS: '3000', SWEEPER_CRON: '*/2 * * * * *', ADAPTER_TIMEOUT_MS: '10000' },
});
const { client: cassandra, store } = product.openStore();

beforeAll(() => product.start().then(() => undefined));
afterAll(async () => {
  await product.stop();
  await cassandra.shutdown();
});
afterEach(async () => {
  await product.setFaults('funding', { latency_ms: 0 });
  await product.setFaults('trading', { latency_ms: 0 });
});

async function total(user: string) {
  const f = await product.balance('funding', user, 1);
  const t = await product.balance('trading', user, 1);
  return { funding: f, trading: t };
}

describe('crashes', () => {
  it('SIGKILL of a worker inside an adapter call: completes after restart, each leg applied once', async () => {
    const user = newUserId();
    const token = tokenFor(user);
    await product.credit('funding', user, 1, 10_000n);
    await product.setFaults('trading', { latency_ms: 3_000 });
    const res = await product.transfer({ from: 'funding', to: 'trading', user_id: user, asset_id: 1, amount: '777' }, { token });
    expect(res.status).toBe(202);
    const reqId = res.body.req_id;
    // The deposit call to Trading is in flight (intent persisted): kill the worker now.
    await eventually('target call in flight', async () => (await store.get(reqId))?.state === 'target_pending', 20_000, 50);
    const killed = product.workers.shift()!;
    await killed.kill('SIGKILL');
    await product.setFaults('trading', { latency_ms: 0 });
    await product.startWorker();
    await eventually('committed after restart', async () => (await store.get(reqId))?.state === 'committed', 60_000);
    expect(await total(user)).toEqual({
      funding: { available: 10_000n - 777n, frozen: 0n },
      trading: { available: 777n, frozen: 0n },
    });
  });

  it('queue lost (every key of its prefix deleted) with transfers in flight: the sweeper re-enqueues them, all commit, money conserved', async () => {
    const users = Array.from({ length: 20 }, () => newUserId());
    for (const u of users) {
      await product.credit('funding', u, 1, 5_000n);
      await product.credit('trading', u, 1, 5_000n);
    }
    // Each transfer makes three ledger calls, so with 1 s per call none can finish within the API's 2 s
    // sync wait: most are still waiting in the queue, or mid-saga, when the queue is lost.
    await product.setFaults('funding', { latency_ms: 1_000 });
    await product.setFaults('trading', { latency_ms: 1_000 });
    const recoveredBefore = await product.workerCounter('internal_transfer_sweeper_recovered_total');
    const posts = await Promise.all(
      Array.from({ length: 100 }, (_, i) => {
        const u = users[i % users.length]!;
        const from = i % 2 === 0 ? 'funding' : 'trading';
        return product.transfer(
          { from, to: from === 'funding' ? 'trading' : 'funding', user_id: u, asset_id: 1, amount: String(10 + i) },
          { token: tokenFor(u), headers: {} },
        );
      }),
    );
    expect(posts.every((p) => p.status === 202 || p.status === 200)).toBe(true);
    const ids = posts.map((p) => p.body.req_id);
    expect(await product.dropQueue()).toBeGreaterThan(0);
    // Read after the deletion: a transfer not terminal now was not terminal when its job was lost.
    const inFlight = (await Promise.all(ids.map((id) => store.get(id)))).filter((r) => !r || !TERMINAL.includes(r.state));
    expect(inFlight.length).toBeGreaterThan(0);
    await product.setFaults('funding', { latency_ms: 0 });
    await product.setFaults('trading', { latency_ms: 0 });
    // Jobs waiting in the lost queue come back only through the sweeper (after the API's 10 s grace).
    await eventually(
      'all 100 terminal',
      async () => (await Promise.all(ids.map((id) => store.get(id)))).every((r) => r && TERMINAL.includes(r.state)),
      120_000,
      1_000,
    );
    expect(await product.workerCounter('internal_transfer_sweeper_recovered_total')).toBeGreaterThan(recoveredBefore);
    const records = await Promise.all(ids.map((id) => store.get(id)));
    expect(records.every((r) => r?.state === 'committed')).toBe(true);
    let sum = 0n;
    for (const u of users) {
      const b = await total(u);
      expect(b.funding.frozen).toBe(0n);
      expect(b.trading.frozen).toBe(0n);
      sum += b.funding.available + b.trading.available;
      // Each user's net move is the committed transfers' amounts.
      const mine = records.filter((r) => r?.userId === BigInt(u));
      const net = mine.reduce((acc, r) => acc + (r!.source === 'funding' ? r!.amount : -r!.amount), 0n);
      expect(b.trading.available).toBe(5_000n + net);
      expect(b.funding.available).toBe(5_000n - net);
    }
    expect(sum).toBe(BigInt(users.length) * 10_000n);
  });

  it('two workers given the same transfer at once: each leg applied once', async () => {
    const user = newUserId();
    await product.credit('trading', user, 1, 1_000n);
    // The source answers 503 (nothing applied) until both workers have called it: both really ran this
    // transfer at the same time, whatever the machine's load, instead of hoping their runs overlap.
    await product.setFaults('trading', { error_rate: 1 });
    // A second worker on a queue of its own: both queues get the same transfer at the same moment.
    const otherPrefix = `{e2e-other-${randomUUID().slice(0, 8)}}`;
    const other = await product.startWorker({ QUEUE_PREFIX: otherPrefix, SWEEPER_ENABLED: 'false' });
    const reqId = randomUUID();
    await store.create({
      reqId, userId: BigInt(user), assetId: 1, amount: 250n, source: 'trading', target: 'funding',
      nextAttemptAt: new Date(Date.now() + 60_000),
    });
    const conn = product.connectRedis();
    const queues = [product.prefix, otherPrefix].map((prefix) => new Queue<TransferJobData>('transfers', { connection: conn, prefix }));
    const pendingWithdraws = async (w: { metricsPort: number }) => {
      const text = await (await fetch(`http://127.0.0.1:${w.metricsPort}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('internal_transfer_adapter_call_duration_seconds_count{')
        && ['service="trading"', 'operation="withdraw"', 'outcome="pending"'].every((label) => l.includes(label)));
      return Number(line?.split(' ').at(-1) ?? 0);
    };
    try {
      await Promise.all(queues.map((q) => enqueueTransfer(q, reqId)));
      await eventually('both workers calling the withdraw', async () => {
        const calls = await Promise.all([product.workers[0]!, other].map(pendingWithdraws));
        return calls.every((n) => n >= 1);
      }, 30_000);
      await product.setFaults('trading', {});
      await eventually('committed', async () => (await store.get(reqId))?.state === 'committed', 30_000);
    } finally {
      await Promise.all(queues.map((q) => q.close()));
      await deleteQueueKeys(conn, otherPrefix);
      conn.disconnect();
      await other.kill('SIGTERM');
      product.workers = product.workers.filter((w) => w !== other);
    }
    expect(await total(user)).toEqual({
      funding: { available: 250n, frozen: 0n },
      trading: { available: 750n, frozen: 0n },
    });
  });
});
