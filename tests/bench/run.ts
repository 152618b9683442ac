// `npm run bench`: what a user gets from this machine, measured end to end through the API, against what the
// storage underneath could do, in one run (docs/performance.md explains the figures):
//   (a) the storage ceiling: raw conditional updates per second on this Cassandra, concurrency 64, distinct
//       partitions, after a warm-up; measured again after the run, the higher figure kept;
//   (b) the closed-loop peak: `--clients` clients posting transfers through the API (both directions,
//       Idempotency-Key, synchronous answer), counted until every transfer is terminal;
//   (c) p50/p99 of the synchronous answer under an open-loop (Poisson) load at half that peak;
//   (d) CPU milliseconds per transfer of every process (from /proc) and Cassandra reads, writes and LWTs per
//       transfer (Cassandra's own counters), over the peak phase.
// Each round repeats (b)–(d); the report gives every round and their medians. Ratios are the result: the
// absolute figures move with whatever else this shared machine runs.
//
// Runs the production bundles (built into reports/bench/dist, never over someone's dist/) unless
// --from-source. Runs on the Cassandra and Redis the environment names, else on the local stack's (started if
// it is not up, and left up).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createCassandraClient } from '@it/cassandra';
import { cassandraSettings, loadBaseConfig } from '@it/config';
import { cassandraUp, redisUp, SINGLE } from '../../scripts/stack.mjs';
import { root } from '../support/processes.ts';
import { newUserId, Product, REDIS_URL, tokenFor } from '../support/product.ts';
import { opsDelta, opsSnapshot, requestsByPort, requestsDelta, sumOps, type OpsSnapshot, type TableOps } from './cassandra-ops.ts';
import { measureCeiling, prepareCeilingTable, requestCosts } from './ceiling.ts';
import { outcomes, TransferLoad, unexpected, untilTerminal, type Answer, type BenchUser } from './load.ts';
import { cassandraBackgroundWork, cassandraGcPauses, cpuDelta, cpuSnapshot, jvmProperty, localPortsOf, pidListeningOn, readCassandraLog } from './proc.ts';
import { readProfile, summarise, type ProfileSummary } from './profile.ts';
import { commandsPerTransfer, commandStats } from './redis-ops.ts';
import { median, medianOf, percentile, round } from './stats.ts';

/** LWTs a transfer cost before issue 18 (transfer row 6, Idempotency-Key claim 1, ledgers 5): the targets' yardstick. */
const BASELINE_LWTS_PER_TRANSFER = 12;

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: process.env.BENCH_ROUNDS ?? '3' },
    transfers: { type: 'string', default: process.env.BENCH_TRANSFERS ?? '3000' },
    clients: { type: 'string', default: '64' },
    'open-seconds': { type: 'string', default: '15' },
    'ceiling-seconds': { type: 'string', default: '10' },
    'warmup-seconds': { type: 'string', default: '60' },
    users: { type: 'string', default: '1024' },
    workers: { type: 'string', default: '1' },
    'worker-concurrency': { type: 'string' },
    'from-source': { type: 'boolean', default: false },
    // Bundles built beforehand (a folder inside the repository), e.g. of an earlier commit: no build.
    bundles: { type: 'string' },
    profile: { type: 'boolean', default: false },
    // Cassandra's CPU per request by kind and concurrency: what bounds a transfer's storage cost.
    bounds: { type: 'boolean', default: false },
    // Where the report goes; --out '' prints it only.
    out: { type: 'string', default: 'docs/benchmark-latest.json' },
  },
});
const opt = {
  rounds: Number(args.rounds),
  transfers: Number(args.transfers),
  clients: Number(args.clients),
  openSeconds: Number(args['open-seconds']),
  ceilingSeconds: Number(args['ceiling-seconds']),
  warmupSeconds: Number(args['warmup-seconds']),
  users: Number(args.users),
  workers: Number(args.workers),
};

const CONCURRENCY = 64;
const ceilingKeyspace = process.env.BENCH_KEYSPACE ?? 'bench_ceiling';
// The reference ledgers' keyspace: the bench's own unless the environment names one.
process.env.CASSANDRA_LEDGER_KEYSPACE ??= 'bench_ledger';
const ledgerKeyspace = process.env.CASSANDRA_LEDGER_KEYSPACE;

const log = (...parts: unknown[]) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...parts);
const loadAverage = () => round(os.loadavg()[0]!, 2);

interface RoundFigures {
  load_average: number;
  peak: {
    transfers: number;
    seconds: number;
    transfers_per_second: number;
    answered_pending: number;
    outcomes: Record<string, number>;
    closed_loop_p50_ms: number;
    closed_loop_p99_ms: number;
  };
  latency: { rate: number; sent: number; p50_ms: number; p99_ms: number; max_ms: number; answered_pending: number };
  /** What slowed transfers down, over both phases (the workers' counters): each costs a delay or a backoff. */
  detours: Record<string, number>;
  /** Cassandra's GC pauses of 50 ms or more (its own log, gc_log_threshold), per phase: each stalls every request in flight. */
  cassandra_gc_pauses_ms: { peak: number[]; latency: number[] };
  /** Cassandra's memtable flushes forced by memory use and compactions of 1 s or more, per phase (its own log). */
  cassandra_background_work: { peak: string[]; latency: string[] };
  cpu_ms_per_transfer: Record<string, number>;
  /** Redis commands per transfer by name (INFO commandstats; a script's inner commands included). */
  redis_commands_per_transfer: Record<string, number>;
  /** Native-protocol requests each process sent Cassandra (Cassandra's count per client connection). */
  cassandra_requests_per_transfer: Record<string, number>;
  cassandra_per_transfer: {
    transfer: TableOps;
    ledger: TableOps;
    total: TableOps;
    by_table: Record<string, TableOps>;
    /** Requests on other keyspaces during the phase (other engineers' tests): how quiet the node was. */
    other_keyspaces: TableOps;
  };
}

async function main() {
  // The local stack unless the environment names servers: up if needed, and left up (a warm Cassandra measures
  // truer; `npm run stack:down` stops it).
  if (!process.env.REDIS_URL) await redisUp();
  if (!process.env.CASSANDRA_CONTACT_POINTS) await cassandraUp(SINGLE);
  const config = loadBaseConfig({ ...process.env, NODE_ENV: 'test' });
  const settings = cassandraSettings(config);
  const cassandra = createCassandraClient(settings);
  const cassandraPort = Number(/:(\d+)$/.exec(settings.contactPoints[0]!)?.[1] ?? 9042);
  const redisPort = Number(new URL(REDIS_URL).port || 6379);

  if (args.bundles) {
    process.env.PRODUCT_FROM_BUILD = '1';
    process.env.PRODUCT_BUILD_DIR = path.relative(root, path.resolve(args.bundles));
  } else if (!args['from-source']) {
    const outdir = path.join(root, 'reports/bench/dist');
    log('building the production bundles into', path.relative(root, outdir));
    execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--outdir', outdir], { stdio: ['ignore', 2, 2] });
    process.env.PRODUCT_FROM_BUILD = '1';
    process.env.PRODUCT_BUILD_DIR = path.relative(root, outdir);
  }

  try {
    if (opt.rounds === 0) {
      // --rounds 0 --profile: the profiles alone.
      if (args.profile) console.log(JSON.stringify(await profileProduct(), null, 2));
      return;
    }
    await prepareCeilingTable(cassandra, ceilingKeyspace);
    // A freshly started Cassandra does a fifth of its warm rate until its JIT has compiled the LWT path: warm up
    // in slices until a slice is within 10 % of the one before (at least --warmup-seconds, at most 120 s); it still
    // creeps up for minutes, which is why the ceiling is measured again after the rounds.
    log(`ceiling: warm-up, at least ${opt.warmupSeconds} s (load average ${loadAverage()})`);
    const warmupStart = performance.now();
    for (let previous = 0; ; ) {
      const { lwtPerSecond } = await measureCeiling(cassandra, ceilingKeyspace, { concurrency: CONCURRENCY, seconds: 5 });
      const elapsed = (performance.now() - warmupStart) / 1000;
      log(`  warm-up: ${lwtPerSecond.toFixed(0)} LWT/s`);
      if ((elapsed >= opt.warmupSeconds && Math.abs(lwtPerSecond - previous) <= 0.1 * previous) || elapsed >= 120) break;
      previous = lwtPerSecond;
    }
    // Cassandra's and the load generator's CPU during the measurement: what one LWT costs at the ceiling.
    const ceilingPids = { cassandra: pidListeningOn(cassandraPort) ?? 0, loadgen: process.pid };
    const measure = async () => {
      const cpu0 = cpuSnapshot(ceilingPids);
      const m = await measureCeiling(cassandra, ceilingKeyspace, { concurrency: CONCURRENCY, seconds: opt.ceilingSeconds });
      const cpu = cpuDelta(cpu0, cpuSnapshot(ceilingPids));
      return { ...m, cpuMsPerLwt: Object.fromEntries(Object.entries(cpu).map(([k, ms]) => [k, round(ms / m.lwts, 3)])) };
    };
    const before = await measure();
    log(`ceiling before: ${before.lwtPerSecond.toFixed(0)} LWT/s`);

    const measured = await measureProduct(cassandra, { cassandraPort, redisPort });

    const after = await measure();
    log(`ceiling after: ${after.lwtPerSecond.toFixed(0)} LWT/s`);
    const ceiling = Math.max(before.lwtPerSecond, after.lwtPerSecond);

    const profile = args.profile ? await profileProduct() : undefined;
    const bounds = args.bounds
      ? await requestCosts(cassandra, ceilingKeyspace, () => cpuSnapshot(ceilingPids).cassandra ?? 0, { concurrencies: [64, 16, 4], seconds: 6 })
      : undefined;

    const med = medianOf(measured.rounds);
    const ratios = measured.rounds.map((r) => r.peak.transfers_per_second / (ceiling / BASELINE_LWTS_PER_TRANSFER));
    const report = {
      date: new Date().toISOString(),
      machine: `${os.cpus().length} cores, everything on one machine: Cassandra (single node), Redis, API, ${opt.workers} worker(s), both reference ledgers, the load generator`,
      settings: {
        clients: opt.clients,
        transfers_per_round: opt.transfers,
        rounds: opt.rounds,
        users: opt.users,
        workers: opt.workers,
        worker_concurrency: args['worker-concurrency'] ?? 'default',
        processes: args['from-source'] ? 'sources (tsx)' : `production bundles (${process.env.PRODUCT_BUILD_DIR})`,
        log_level: 'info',
        directions: 'funding→trading and trading→funding alternating',
      },
      ceiling: {
        concurrency: CONCURRENCY,
        lwt_per_second_before: round(before.lwtPerSecond, 0),
        lwt_per_second_after: round(after.lwtPerSecond, 0),
        cpu_ms_per_lwt: (after.lwtPerSecond > before.lwtPerSecond ? after : before).cpuMsPerLwt,
        lwt_per_second: round(ceiling, 0),
        transfers_per_second_at_12_lwts: round(ceiling / BASELINE_LWTS_PER_TRANSFER, 1),
      },
      result: {
        peak_transfers_per_second: round(med.peak.transfers_per_second, 1),
        peak_over_ceiling: round(median(ratios), 3),
        latency_at_half_peak: {
          rate: round(med.latency.rate, 1),
          p50_ms: round(med.latency.p50_ms),
          p99_ms: round(med.latency.p99_ms),
          // Each of Cassandra's long GC pauses in a latency phase stalls every request in flight.
          cassandra_gc_pauses_ms: measured.rounds.flatMap((r) => r.cassandra_gc_pauses_ms.latency),
          // A forced flush of system.paxos and the compaction after it take both cores for seconds.
          cassandra_background_work: measured.rounds.map((r) => r.cassandra_background_work.latency),
        },
        cpu_ms_per_transfer: roundAll(med.cpu_ms_per_transfer, 2),
        cassandra_requests_per_transfer: roundAll(med.cassandra_requests_per_transfer, 2),
        redis_commands_per_transfer: roundAll(med.redis_commands_per_transfer, 2),
        cassandra_per_transfer: {
          transfer: roundAll(med.cassandra_per_transfer.transfer, 2),
          ledger: roundAll(med.cassandra_per_transfer.ledger, 2),
          total: roundAll(med.cassandra_per_transfer.total, 2),
        },
      },
      rounds: measured.rounds.map((r, i) => ({ ...r, peak_over_ceiling: round(ratios[i]!, 3) })),
      ...(profile ? { profile } : {}),
      ...(bounds ? { cassandra_cpu_per_request: bounds } : {}),
    };
    printSummary(report);
    for (const b of bounds ?? []) console.log(`Cassandra CPU/request  ${b.kind} at concurrency ${b.concurrency}: ${b.cassandraCpuMs} ms (${b.perSecond}/s)`);
    if (args.out) {
      fs.writeFileSync(path.resolve(root, args.out), `${JSON.stringify(report, null, 2)}\n`);
      log('written', args.out);
    }
  } finally {
    await cassandra.shutdown();
  }
}

function roundAll<T extends object>(o: T, digits: number): T {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? round(v, digits) : v])) as T;
}

function newProduct(extraEnv: Record<string, string> = {}) {
  const info = { LOG_LEVEL: 'info', ...extraEnv };
  return new Product({
    basePort: 18480,
    workers: opt.workers,
    workerEnv: { ...info, ...(args['worker-concurrency'] ? { WORKER_CONCURRENCY: args['worker-concurrency'] } : {}) },
    apiEnv: info,
    ledgerEnv: info,
  });
}

/** Users funded on both ledgers, so either direction always has the money. */
async function fundedUsers(product: Product, count: number): Promise<BenchUser[]> {
  const users = Array.from({ length: count }, () => {
    const id = newUserId();
    return { id, token: tokenFor(id) };
  });
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = next++; i < users.length; i = next++) {
        await product.credit('funding', users[i]!.id, 1, 10n ** 15n);
        await product.credit('trading', users[i]!.id, 1, 10n ** 15n);
      }
    }),
  );
  return users;
}

async function measureProduct(cassandra: ReturnType<typeof createCassandraClient>, ports: { cassandraPort: number; redisPort: number }) {
  const product = await newProduct().start();
  const { client: storeClient, store } = product.openStore();
  const load = new TransferLoad(product.apiUrl, opt.clients);
  const redis = new Redis(REDIS_URL);
  try {
    const pids: Record<string, number> = {
      api: product.api.child.pid!,
      ledgers: product.ledgers.child.pid!,
      loadgen: process.pid,
    };
    product.workers.forEach((w, i) => (pids[opt.workers === 1 ? 'worker' : `worker-${i}`] = w.child.pid!));
    const cassandraPid = pidListeningOn(ports.cassandraPort);
    const redisPid = pidListeningOn(ports.redisPort) ?? (await redisPidOf(REDIS_URL));
    if (cassandraPid) pids.cassandra = cassandraPid;
    const cassandraLogDir = cassandraPid ? jvmProperty(cassandraPid, 'cassandra.logdir') : undefined;
    if (redisPid) pids.redis = redisPid;
    log('processes', pids);

    log(`funding ${opt.users} users on both ledgers`);
    const users = await fundedUsers(product, opt.users);
    let first = 0;
    log('product warm-up');
    const warm = await load.closedLoop(users, { clients: opt.clients, count: Math.min(1000, opt.transfers), first });
    first += warm.answers.length;
    await untilTerminal(warm.answers, (id) => store.get(id));

    const mine = (ks: string) => ks === product.keyspace || ks === ledgerKeyspace;
    const foreign = (ks: string) => !mine(ks) && !ks.startsWith('system') && ks !== ceilingKeyspace;
    const rounds: RoundFigures[] = [];
    for (let r = 0; r < opt.rounds; r++) {
      const load_average = loadAverage();
      log(`round ${r + 1}/${opt.rounds}: closed loop, ${opt.clients} clients, ${opt.transfers} transfers (load average ${load_average})`);
      const detours0 = await detours(product);
      const peakFrom = new Date();
      const cpu0 = cpuSnapshot(pids);
      const ops0 = await opsSnapshot(cassandra);
      const req0 = await requestsByPort(cassandra);
      const redis0 = await commandStats(redis);
      const t0 = performance.now();
      const closed = await load.closedLoop(users, { clients: opt.clients, count: opt.transfers, first });
      first += closed.answers.length;
      const settled = await untilTerminal(closed.answers, (id) => store.get(id));
      const seconds = (performance.now() - t0) / 1000;
      const cpu1 = cpuSnapshot(pids);
      const ops1 = await opsSnapshot(cassandra);
      const req1 = await requestsByPort(cassandra);
      const redis1 = await commandStats(redis);
      const clientPorts = Object.fromEntries(
        Object.entries(pids).filter(([name]) => !['cassandra', 'redis', 'loadgen'].includes(name)).map(([name, pid]) => [name, localPortsOf(pid)]),
      );
      check(closed.answers, settled.states);
      const n = closed.answers.length;
      const cost = cassandraCost(ops0, ops1, n, { mine, foreign, transferKeyspace: product.keyspace, benchReads: settled.reads });
      const peak = n / seconds;
      log(`  peak ${peak.toFixed(1)} transfers/s`);

      const rate = peak / 2;
      log(`  open loop at ${rate.toFixed(1)}/s for ${opt.openSeconds} s`);
      const peakTo = new Date();
      const openFrom = new Date();
      const open = await load.openLoop(users, { rate, seconds: opt.openSeconds, first, seed: r + 1 });
      const openTo = new Date();
      first += open.sent;
      const openSettled = await untilTerminal(open.answers, (id) => store.get(id));
      check(open.answers, openSettled.states);
      const openMs = open.answers.map((a) => a.ms);
      // Cassandra's log of both phases, read once.
      const cassandraLog = readCassandraLog(cassandraLogDir);
      const openBackground = cassandraBackgroundWork(cassandraLog, openFrom, openTo);
      log(`  p50 ${percentile(openMs, 50).toFixed(1)} ms, p99 ${percentile(openMs, 99).toFixed(1)} ms; Cassandra meanwhile: ${openBackground.join(', ') || 'no forced flush or long compaction'}`);

      const detours1 = await detours(product);
      const closedMs = closed.answers.map((a) => a.ms);
      rounds.push({
        load_average,
        peak: {
          transfers: n,
          seconds: round(seconds, 2),
          transfers_per_second: round(peak, 1),
          answered_pending: closed.answers.filter((a) => a.outcome === 'pending').length,
          outcomes: settled.states,
          closed_loop_p50_ms: round(percentile(closedMs, 50)),
          closed_loop_p99_ms: round(percentile(closedMs, 99)),
        },
        latency: {
          rate: round(rate, 1),
          sent: open.sent,
          p50_ms: round(percentile(openMs, 50)),
          p99_ms: round(percentile(openMs, 99)),
          max_ms: round(Math.max(...openMs)),
          answered_pending: open.answers.filter((a) => a.outcome === 'pending').length,
        },
        detours: Object.fromEntries(Object.entries(detours1).map(([k, v]) => [k, v - (detours0[k] ?? 0)])),
        cassandra_gc_pauses_ms: { peak: cassandraGcPauses(cassandraLog, peakFrom, peakTo), latency: cassandraGcPauses(cassandraLog, openFrom, openTo) },
        cassandra_background_work: { peak: cassandraBackgroundWork(cassandraLog, peakFrom, peakTo), latency: openBackground },
        cpu_ms_per_transfer: Object.fromEntries(Object.entries(cpuDelta(cpu0, cpu1)).map(([k, ms]) => [k, round(ms / n, 2)])),
        redis_commands_per_transfer: commandsPerTransfer(redis0, redis1, n),
        cassandra_requests_per_transfer: Object.fromEntries(
          Object.entries(requestsDelta(req0, req1, clientPorts)).map(([k, count]) => [k, round(count / n, 2)]),
        ),
        cassandra_per_transfer: cost,
      });
    }
    return { rounds };
  } finally {
    redis.disconnect();
    await load.close();
    await storeClient.shutdown();
    await stopProduct(product);
  }
}

/** Stops the product; a keyspace drop that times out on a loaded node is logged, not worth the measurements. */
async function stopProduct(product: Product): Promise<void> {
  try {
    await product.stop();
  } catch (err) {
    log(`could not clean up after the product (keyspace ${product.keyspace} may be left): ${err instanceof Error ? err.message : String(err)}`);
  }
}

const DETOURS = {
  cas_conflicts: 'internal_transfer_cas_conflicts_total',
  adapter_pending: 'internal_transfer_adapter_pending_total',
  step_errors: 'internal_transfer_step_errors_total',
  jobs_stalled: 'internal_transfer_jobs_stalled_total',
  sweeper_recovered: 'internal_transfer_sweeper_recovered_total',
} as const;

async function detours(product: Product): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, metric] of Object.entries(DETOURS)) out[name] = await product.workerCounter(metric);
  return out;
}

/** Every answer a 200/202, every transfer committed: anything else is not a measurement of the happy path. */
function check(answers: readonly Answer[], states: Record<string, number>) {
  const bad = unexpected(answers);
  if (Object.keys(bad).length) throw new Error(`unexpected HTTP answers ${JSON.stringify(bad)}; outcomes ${JSON.stringify(outcomes(answers))}`);
  const notCommitted = Object.entries(states).filter(([s]) => s !== 'committed');
  if (notCommitted.length) throw new Error(`transfers ended ${JSON.stringify(states)}`);
}

function cassandraCost(
  before: OpsSnapshot,
  after: OpsSnapshot,
  n: number,
  o: { mine: (ks: string) => boolean; foreign: (ks: string) => boolean; transferKeyspace: string; benchReads: number },
): RoundFigures['cassandra_per_transfer'] {
  const tables = opsDelta(before, after, o.mine);
  // The bench's own reads of rows answered pending are not the product's.
  const rows = tables[`${o.transferKeyspace}.transfers`];
  if (rows) rows.reads -= o.benchReads;
  const per = (t: TableOps): TableOps => roundAll(Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v / n])) as unknown as TableOps, 3);
  const pick = (ks: string) => sumOps(Object.fromEntries(Object.entries(tables).filter(([k]) => k.startsWith(`${ks}.`))));
  const byTable = Object.fromEntries(Object.entries(tables).map(([k, t]) => [k.replace(o.transferKeyspace, 'transfer').replace(ledgerKeyspace, 'ledger'), per(t)]));
  return {
    transfer: per(pick(o.transferKeyspace)),
    ledger: per(pick(ledgerKeyspace)),
    total: per(sumOps(tables)),
    by_table: byTable,
    other_keyspaces: per(sumOps(opsDelta(before, after, o.foreign))),
  };
}

async function redisPidOf(url: string): Promise<number | undefined> {
  const redis = new Redis(url, { lazyConnect: true });
  try {
    await redis.connect();
    const info = await redis.info('server');
    const m = /process_id:(\d+)/.exec(info);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/**
 * A separate product whose API, worker and ledgers run under `node --cpu-prof`: the profiler's overhead must
 * not touch the measured rounds. One warm-up and one closed-loop run; the profiles are summarised.
 */
async function profileProduct(): Promise<Record<string, ProfileSummary & { busyMsPerTransfer: number }>> {
  const dir = path.join(root, 'reports/bench/profiles', new Date().toISOString().replaceAll(':', '-'));
  fs.mkdirSync(dir, { recursive: true });
  const nodeOptions = `--cpu-prof --cpu-prof-dir=${dir}`;
  log('profile: a product under --cpu-prof, profiles in', path.relative(root, dir));
  const product = newProduct({ NODE_OPTIONS: nodeOptions });
  await product.start();
  const { client, store } = product.openStore();
  const load = new TransferLoad(product.apiUrl, opt.clients);
  const pids: Record<number, string> = { [product.api.child.pid!]: 'api', [product.ledgers.child.pid!]: 'ledgers' };
  product.workers.forEach((w, i) => (pids[w.child.pid!] = opt.workers === 1 ? 'worker' : `worker-${i}`));
  let n: number;
  try {
    const users = await fundedUsers(product, opt.users);
    const warm = await load.closedLoop(users, { clients: opt.clients, count: 500 });
    await untilTerminal(warm.answers, (id) => store.get(id));
    const run = await load.closedLoop(users, { clients: opt.clients, count: opt.transfers, first: 500 });
    await untilTerminal(run.answers, (id) => store.get(id));
    n = 500 + run.answers.length;
  } finally {
    await load.close();
    await client.shutdown();
    await stopProduct(product);
  }
  const out: Record<string, ProfileSummary & { busyMsPerTransfer: number }> = {};
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    // CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile
    const pid = Number(file.split('.')[3]);
    const name = pids[pid];
    if (!name) continue;
    const summary = summarise(readProfile(path.join(dir, file)));
    out[name] = { ...summary, busyMsPerTransfer: round(summary.busyMs / n, 2) };
  }
  fs.writeFileSync(path.join(dir, 'summary.json'), `${JSON.stringify(out, null, 2)}\n`);
  return out;
}

function printSummary(report: {
  ceiling: { lwt_per_second: number; transfers_per_second_at_12_lwts: number };
  rounds: { latency: { p99_ms: number }; cassandra_background_work: { latency: string[] } }[];
  result: {
    peak_transfers_per_second: number;
    peak_over_ceiling: number;
    latency_at_half_peak: { rate: number; p50_ms: number; p99_ms: number; cassandra_gc_pauses_ms: number[] };
    cpu_ms_per_transfer: Record<string, number>;
    cassandra_requests_per_transfer: Record<string, number>;
    redis_commands_per_transfer: Record<string, number>;
    cassandra_per_transfer: { transfer: TableOps; ledger: TableOps; total: TableOps };
  };
}) {
  const r = report.result;
  const ops = (t: TableOps) => `${t.lwts} LWT, ${t.reads} reads, ${t.writes} writes`;
  console.log(
    [
      `storage ceiling        ${report.ceiling.lwt_per_second} conditional updates/s (= ${report.ceiling.transfers_per_second_at_12_lwts} transfers/s at 12 LWTs)`,
      `end-to-end peak        ${r.peak_transfers_per_second} transfers/s (median of rounds)`,
      `peak / ceiling         ${r.peak_over_ceiling}   (target ≥ 0.5)`,
      `latency at half peak   p50 ${r.latency_at_half_peak.p50_ms} ms, p99 ${r.latency_at_half_peak.p99_ms} ms at ${r.latency_at_half_peak.rate}/s   (target p99 ≤ 150 ms)` +
        `; Cassandra GC pauses ≥ 50 ms meanwhile: ${r.latency_at_half_peak.cassandra_gc_pauses_ms.join(', ') || 'none'}`,
      `p99 by round           ${report.rounds.map((x) => `${x.latency.p99_ms} ms (${x.cassandra_background_work.latency.join(', ') || 'no forced flush or long compaction'})`).join('; ')}`,
      `CPU ms per transfer    ${Object.entries(r.cpu_ms_per_transfer).map(([k, v]) => `${k} ${v}`).join(', ')}`,
      `Cassandra requests     ${Object.entries(r.cassandra_requests_per_transfer).map(([k, v]) => `${k} ${v}`).join(', ')} per transfer`,
      `Redis per transfer     ${Object.entries(r.redis_commands_per_transfer).map(([k, v]) => `${k} ${v}`).join(', ')}`,
      `Cassandra per transfer transfer store: ${ops(r.cassandra_per_transfer.transfer)}; ledgers: ${ops(r.cassandra_per_transfer.ledger)}; total: ${ops(r.cassandra_per_transfer.total)}`,
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
