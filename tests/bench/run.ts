// `npm run bench`: measures, in one run on this machine, (1) the synchronous happy path through the API
// (median, p99) and (2) the transfers per second one worker process sustains. Both are also expressed as
// ratios to a single Cassandra LWT measured in the same run, which is what the figures are made of.
// Needs the local stack up (npm run stack:up && npm run migrate).
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { jobIdFor, STEP_JOB, STEP_JOB_OPTIONS, type TransferJobData } from '@it/queue';
import { root } from '../support/processes.ts';
import { newUserId, Product, REDIS_URL, tokenFor } from '../support/product.ts';

const SYNC_N = Number(process.env.BENCH_SYNC ?? 200);
const THROUGHPUT_N = Number(process.env.BENCH_TRANSFERS ?? 1000);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function main() {
  const product = await new Product({
    basePort: 18480,
    workerEnv: { LOG_LEVEL: 'warn', SWEEPER_ENABLED: 'false' },
    apiEnv: { LOG_LEVEL: 'warn' },
  }).start();
  const { client: cassandra, store } = product.openStore();
  try {
    // Baseline: one LWT (compare-and-set) round trip, sequential.
    const lwt: number[] = [];
    const { record } = await store.create({
      reqId: randomUUID(), userId: 1n, assetId: 1, amount: 1n, source: 'funding', target: 'trading', nextAttemptAt: new Date(),
    });
    let current = record;
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      const r = await store.compareAndSet({ from: current, to: 'source_pending', error: null, attempt: i, nextAttemptAt: new Date() });
      lwt.push(performance.now() - t0);
      if (!r.applied) throw new Error('baseline CAS lost');
      current = r.record;
    }
    const lwtMedian = pct(lwt, 50);

    // 1. Synchronous happy path, one request at a time.
    const user = newUserId();
    const token = tokenFor(user);
    await product.credit('funding', user, 1, 10n ** 12n);
    const sync: number[] = [];
    for (let i = 0; i < SYNC_N; i++) {
      const t0 = performance.now();
      const res = await product.transfer({ from: 'funding', to: 'trading', user_id: user, asset_id: 1, amount: '1' }, { token });
      sync.push(performance.now() - t0);
      if (res.body.status !== 'committed') throw new Error(`sync transfer ended ${res.body.status}`);
    }

    // 2. One worker's throughput: N transfers created up front, enqueued at once, timed until the queue drains
    //    (no sweeper here, so the only delayed jobs would be transfers waiting for a retry).
    const users = Array.from({ length: 50 }, () => newUserId());
    for (const u of users) await product.credit('funding', u, 1, 10n ** 12n);
    const ids: string[] = [];
    for (let i = 0; i < THROUGHPUT_N; i++) {
      const reqId = randomUUID();
      ids.push(reqId);
      await store.create({
        reqId, userId: BigInt(users[i % users.length]!), assetId: 1, amount: 1n, source: 'funding', target: 'trading',
        nextAttemptAt: new Date(Date.now() + 600_000),
      });
    }
    const conn = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue<TransferJobData>('transfers', { connection: conn, prefix: product.prefix });
    const t0 = performance.now();
    await queue.addBulk(ids.map((reqId) => ({ name: STEP_JOB, data: { reqId }, opts: { ...STEP_JOB_OPTIONS, jobId: jobIdFor(reqId) } })));
    for (;;) {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (Object.values(c).every((n) => n === 0)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const seconds = (performance.now() - t0) / 1000;
    await queue.close();
    conn.disconnect();
    const states = await Promise.all(ids.map((id) => store.get(id)));
    const committed = states.filter((s) => s?.state === 'committed').length;
    if (committed !== ids.length) throw new Error(`only ${committed}/${ids.length} committed`);
    const tps = THROUGHPUT_N / seconds;

    const report = {
      date: new Date().toISOString(),
      machine: '2 cores; Cassandra 5.0.8 single node (paxos v2), Redis 7, all processes on the same machine',
      lwt_median_ms: +lwtMedian.toFixed(2),
      sync_happy_path: { n: SYNC_N, median_ms: +pct(sync, 50).toFixed(1), p99_ms: +pct(sync, 99).toFixed(1) },
      sync_median_in_lwts: +(pct(sync, 50) / lwtMedian).toFixed(1),
      one_worker: { concurrency: 16, transfers: THROUGHPUT_N, seconds: +seconds.toFixed(1), transfers_per_second: +tps.toFixed(1) },
      // A committed transfer costs 6 LWTs on the transfer row; this compares the worker's LWT rate with
      // what one strictly sequential client achieves.
      one_worker_lwt_rate_vs_sequential: +((tps * 6) / (1000 / lwtMedian)).toFixed(1),
    };
    console.log(JSON.stringify(report, null, 2));
    fs.mkdirSync(path.join(root, 'docs'), { recursive: true });
    fs.writeFileSync(path.join(root, 'docs/benchmark-latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await product.stop();
    await cassandra.shutdown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
