// The product on a 3-master Redis Cluster of the test's own (REDIS_CLUSTER_NODES): API, two workers and the
// ledgers as processes; transfers, live status through sharded pub/sub, the abuse limits, the master holding the
// queue restarted with transfers in flight, and the queue's keys lost on every master. The whole e2e suite runs
// on a cluster too: `REDIS_CLUSTER_NODES=… npm test -- --project e2e` (README, Redis Cluster).
import { watchTransfer, type TransferState } from '@it/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCluster } from '@it/queue';
import { eventually } from '../support/processes.ts';
import { newUserId, Product, tokenFor } from '../support/product.ts';
import { OwnRedis } from '../support/redis-cluster.ts';

const TERMINAL = ['committed', 'rolled_back', 'failed'];
const redis = new OwnRedis('cluster');
let product: Product;

beforeAll(async () => {
  await redis.start();
  product = new Product({
    basePort: 18880,
    workers: 2,
    redisClusterNodes: redis.env.REDIS_CLUSTER_NODES,
    // A heartbeat far beyond the test: a stream sees a change only if Redis carried it.
    apiEnv: { SSE_HEARTBEAT_MS: '60000', RATE_LIMIT_POSTS_PER_MINUTE: '5' },
    // Few jobs at a time: most transfers wait in the queue, so losing it really loses their jobs.
    workerEnv: { SWEEPER_CRON: '*/2 * * * * *', WORKER_CONCURRENCY: '4' },
  });
  await product.start();
}, 300_000);

afterAll(async () => {
  await product?.stop();
  await redis.stop();
});

async function funded(amount: bigint) {
  const user = newUserId();
  await product.credit('funding', user, 1, amount);
  await product.credit('trading', user, 1, amount);
  return { user, token: tokenFor(user) };
}

async function expectExact(user: string, fundingNet: bigint, initial: bigint) {
  expect(await product.balance('funding', user, 1)).toEqual({ available: initial - fundingNet, frozen: 0n });
  expect(await product.balance('trading', user, 1)).toEqual({ available: initial + fundingNet, frozen: 0n });
}

describe('on a Redis Cluster', () => {
  it('runs every process on the cluster: both directions commit, the queue on the one master owning its slot', async () => {
    const { user, token } = await funded(10_000n);
    const a = await product.transfer({ from: 'funding', to: 'trading', user_id: user, asset_id: 1, amount: '700' }, { token });
    const b = await product.transfer({ from: 'trading', to: 'funding', user_id: user, asset_id: 1, amount: '200' }, { token });
    expect([a.body.status, b.body.status]).toEqual(['committed', 'committed']);
    await expectExact(user, 500n, 10_000n);
    const conn = product.connectRedis();
    try {
      expect(isCluster(conn)).toBe(true);
      const owner = await redis.portOf(product.prefix);
      const holding: number[] = [];
      for (const port of redis.ports) {
        const node = new Redis(port, '127.0.0.1');
        if ((await node.keys(`${product.prefix}*`)).length) holding.push(port);
        node.disconnect();
      }
      expect(holding).toEqual([owner]);
    } finally {
      conn.disconnect();
    }
  });

  it('streams a transfer\'s every state change as the workers publish it (sharded pub/sub), to the final one', async () => {
    const { user, token } = await funded(10_000n);
    await product.setFaults('trading', { latency_ms: 600 });
    try {
      const res = await product.transfer(
        { from: 'funding', to: 'trading', user_id: user, asset_id: 1, amount: '300' },
        { token, headers: { prefer: 'respond-async' } },
      );
      expect(res.status).toBe(202);
      const states: TransferState[] = [];
      const started = Date.now();
      for await (const t of watchTransfer({ baseUrl: product.apiUrl, token }, res.body.req_id)) states.push(t.state);
      // Well within the 60 s heartbeat: only the transitions channel can have carried the changes.
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(states.at(-1)).toBe('committed');
      expect(new Set(states).size).toBeGreaterThanOrEqual(3);
    } finally {
      await product.setFaults('trading', {});
    }
    await expectExact(user, 300n, 10_000n);
  });

  it('applies the per-user rate limit through the cluster', async () => {
    const { user, token } = await funded(10_000n);
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) {
      codes.push((await product.transfer({ from: 'funding', to: 'trading', user_id: user, asset_id: 1, amount: '1' }, { token })).status);
    }
    expect(codes.slice(0, 5).every((c) => c === 200 || c === 202)).toBe(true);
    expect(codes[5]).toBe(429);
  });

  it.each(['restart of the master holding the queue', 'the queue\'s keys lost on every master'] as const)(
    '%s with transfers in flight: every transfer commits, money exact',
    async (fault) => {
      const users = await Promise.all(Array.from({ length: 8 }, () => funded(5_000n)));
      // Three calls of a second each: every transfer is still in flight when the fault hits.
      await product.setFaults('funding', { latency_ms: 1_000 });
      await product.setFaults('trading', { latency_ms: 1_000 });
      const posts = await Promise.all(
        users.flatMap(({ user, token }) => [
          product.transfer({ from: 'funding', to: 'trading', user_id: user, asset_id: 1, amount: '40' }, { token, headers: { prefer: 'respond-async' } }),
          product.transfer({ from: 'trading', to: 'funding', user_id: user, asset_id: 1, amount: '15' }, { token, headers: { prefer: 'respond-async' } }),
        ]),
      );
      expect(posts.every((p) => p.status === 202)).toBe(true);
      const { client: cassandra, store } = product.openStore();
      const recoveredBefore = await product.workerCounter('internal_transfer_sweeper_recovered_total');
      try {
        if (fault === 'the queue\'s keys lost on every master') expect(await product.dropQueue()).toBeGreaterThan(0);
        else await redis.restart(await redis.portOf(product.prefix), 1_000);
        const ids = posts.map((p) => p.body.req_id);
        // Read after the fault: a transfer not terminal now was in flight through it.
        const inFlight = (await Promise.all(ids.map((id) => store.get(id)))).filter((r) => !r || !TERMINAL.includes(r.state));
        expect(inFlight.length).toBeGreaterThan(0);
        await product.setFaults('funding', {});
        await product.setFaults('trading', {});
        await eventually('all terminal', async () => (await Promise.all(ids.map((id) => store.get(id)))).every((r) => r && TERMINAL.includes(r.state)), 120_000, 500);
        expect((await Promise.all(ids.map((id) => store.get(id)))).map((r) => r?.state)).toEqual(ids.map(() => 'committed'));
        // Lost jobs come back only through the sweeper; a restart keeps them (AOF).
        if (fault === 'the queue\'s keys lost on every master') {
          expect(await product.workerCounter('internal_transfer_sweeper_recovered_total')).toBeGreaterThan(recoveredBefore);
        }
      } finally {
        await cassandra.shutdown();
      }
      for (const { user } of users) await expectExact(user, 25n, 5_000n);
    },
    180_000,
  );
});
