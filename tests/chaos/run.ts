// A chaos run over real processes (tests/chaos/README in the project README, "Chaos"): start a fleet, fund the
// users, run the load while the seeded faults run, stop the faults, let the fleet drain, check every
// invariant, and summarise. `recovery` is the issue-16 measurement instead: every transfer posted at once
// against slow ledgers, every API and worker SIGKILLed and restarted at once, timed until all are terminal.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Account } from '@it/domain';
import { isTerminal } from '@it/fsm';
import { httpLedgerReaders } from '@it/reconciliation';
import { sleep } from '@it/runtime';
import { build } from '../../scripts/build.mjs';
import { root } from '../support/processes.ts';
import { ADMIN_TOKEN, SERVICE_TOKEN } from '../support/product.ts';
import { FaultSchedule, type FaultKind, type FaultRecord, type Recovery } from './faults.ts';
import { Fleet, type Topology } from './fleet.ts';
import { cassandraBooks, httpBalances, InvariantChecker, type Funding, type Violation } from './invariants.ts';
import { ASSET_ID, intents, LoadClient, type ClientStats } from './load.ts';
import { Random } from './random.ts';

export interface ChaosOptions {
  scenario: 'chaos' | 'recovery';
  /** Transfers to submit (at least: the load goes on until `faultRounds` rounds of faults are done). */
  transfers: number;
  /** Seconds the load lasts at least. */
  durationS: number;
  seed: number;
  cassandra: Topology;
  redis: Topology;
  workers: number;
  apis: number;
  users: number;
  /** Requests in flight at once; `rate` caps the new transfers per second (0: as fast as they are answered). */
  concurrency: number;
  rate: number;
  faults: readonly FaultKind[];
  faultRounds: number;
  /** Seconds between faults, drawn in [min, max). */
  gap: [number, number];
  drainBoundS: number;
  recoveryBoundS: number;
  /** Ledger latency during the recovery scenario. */
  recoveryLatencyMs: number;
  maxAmount: bigint;
  initialBalance: bigint;
  keep: boolean;
  /** Run production bundles built for the run (esbuild, as `npm run build`) instead of the sources under tsx. */
  fromBuild: boolean;
  workerEnv?: Record<string, string>;
  apiEnv?: Record<string, string>;
}

export const DEFAULTS: ChaosOptions = {
  scenario: 'chaos', transfers: 2_000, durationS: 0, seed: 1, cassandra: 'single', redis: 'single', workers: 2, apis: 2,
  users: 200, concurrency: 32, rate: 0,
  faults: ['kill-worker', 'kill-api', 'kill-all', 'redis-flushall', 'redis-restart', 'cassandra-node', 'ledger-latency', 'ledger-errors', 'ledger-drop', 'ledger-refuse'],
  faultRounds: 1, gap: [2, 6], drainBoundS: 60, recoveryBoundS: 10, recoveryLatencyMs: 400, maxAmount: 20_000n, initialBalance: 100_000n,
  keep: false, fromBuild: false,
};

export interface ChaosSummary {
  options: ChaosOptions;
  runId: string;
  outcomes: Record<string, number>;
  submitted: number;
  client: ClientStats;
  faults: FaultRecord[];
  recoveries: Recovery[];
  loadSeconds: number;
  /** From faults off to the last transfer terminal; undefined: not within the bound. */
  drainSeconds: number | undefined;
  /** Transfers finished per second, over the load and the drain. */
  throughput: number;
  /** For each fault, the transfers created while it lasted and how many of them committed. */
  during: { kind: FaultKind; at: number; until: number; created: number; committed: number }[];
  violations: Violation[];
  violationCount: number;
  checked: Record<string, number>;
  liveChecksSkipped: number;
  /** Jobs taken again after their worker lost the lock (BullMQ stalled), and compare-and-set races lost. */
  stalledJobs: number;
  casConflicts: number;
}

function metricSum(texts: string[], name: string): number {
  let sum = 0;
  for (const text of texts) {
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(' ').at(-1));
    }
  }
  return sum;
}

async function credit(url: string, user: string, amount: bigint, reqId: string): Promise<void> {
  const res = await fetch(`${url}/v1/admin/credit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ req_id: reqId, user_id: user, asset_id: ASSET_ID, amount: amount.toString() }),
  });
  if (!res.ok) throw new Error(`credit failed: ${res.status} ${await res.text()}`);
}

/** Runs `fn` over `items`, `n` at a time. */
async function inPool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/**
 * Builds the bundles into a folder of the run's own inside the repository (their packages resolve from its
 * node_modules) and has tests/support/processes.ts start them; the returned function undoes it.
 */
async function useBundles(log: (line: string) => void): Promise<() => void> {
  const outdir = path.join(root, '.stack', 'chaos-build', randomUUID().slice(0, 8));
  await build({ outdir });
  log(`production bundles built in ${path.relative(root, outdir)}`);
  const before = { from: process.env.PRODUCT_FROM_BUILD, dir: process.env.PRODUCT_BUILD_DIR };
  process.env.PRODUCT_FROM_BUILD = '1';
  process.env.PRODUCT_BUILD_DIR = outdir;
  return () => {
    for (const [k, v] of [['PRODUCT_FROM_BUILD', before.from], ['PRODUCT_BUILD_DIR', before.dir]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    fs.rmSync(outdir, { recursive: true, force: true });
  };
}

/**
 * Runs one chaos run. `signal` (Ctrl-C in `npm run chaos`) abandons it: the fleet is stopped and its keyspaces
 * dropped all the same, and the promise rejects.
 */
export async function runChaos(options: ChaosOptions, log: (line: string) => void, signal?: AbortSignal): Promise<ChaosSummary> {
  const o = options;
  const unbundle = o.fromBuild ? await useBundles(log) : () => undefined;
  const fleet = new Fleet({ cassandra: o.cassandra, redis: o.redis, workers: o.workers, apis: o.apis, workerEnv: o.workerEnv, apiEnv: o.apiEnv, log });
  const interrupted = new Promise<never>((_, reject) => {
    if (signal?.aborted) reject(new Error('interrupted'));
    signal?.addEventListener('abort', () => reject(new Error('interrupted')), { once: true });
  });
  const run = runOn(fleet, o, log, signal);
  // Abandoned on an interrupt: its processes are about to be killed under it.
  run.catch(() => undefined);
  try {
    return await Promise.race([run, interrupted]);
  } catch (err) {
    log(`run failed: ${String(err)}\n${fleet.output()}`);
    throw err;
  } finally {
    await fleet.stop(o.keep);
    unbundle();
  }
}

async function runOn(fleet: Fleet, o: ChaosOptions, log: (line: string) => void, signal: AbortSignal | undefined): Promise<ChaosSummary> {
  const random = new Random(o.seed);
  const startedAt = Date.now();
  const since = new Date(startedAt - 60_000);
  await fleet.start();
  const { client: cassandra, store } = fleet.openStore();
  const ledgerCassandra = fleet.openCassandra(fleet.ledgerKeyspace);
  const readers = httpLedgerReaders({
    fundingUrl: fleet.ledgerUrl.funding, tradingUrl: fleet.ledgerUrl.trading, fundingToken: SERVICE_TOKEN, tradingToken: SERVICE_TOKEN, timeoutMs: 3_000,
  });
  try {
    // Users unique to the run, funded on both ledgers with credits whose req_ids the checker knows.
    const base = BigInt(Date.now()) * 1_000n;
    const funding: Funding[] = Array.from({ length: o.users }, (_, i) => ({
      user: String(base + BigInt(i)), funding: o.initialBalance, trading: o.initialBalance, creditIds: [randomUUID(), randomUUID()],
    }));
    await inPool(funding, 16, async (f) => {
      await credit(fleet.ledgerUrl.funding, f.user, f.funding, f.creditIds[0]!);
      await credit(fleet.ledgerUrl.trading, f.user, f.trading, f.creditIds[1]!);
    });
    log(`${o.users} users funded with ${o.initialBalance} on each ledger`);

    const checker = new InvariantChecker({
      store, readers, readBook: cassandraBooks(ledgerCassandra), readBalance: httpBalances(fleet.ledgerUrl), funding, random: new Random(random.seedFor()), log,
    });
    const client = new LoadClient(fleet.apiUrls, (what) => checker.violate('only the answers a well-formed request may get', what), (k) => checker.onAnswer(k));
    const activeNow = async () => {
      const ids = new Set<string>();
      await store.scanActive((r) => void ids.add(r.reqId));
      return ids;
    };
    const allTerminal = async (ids: Set<string>, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      const left = new Set(ids);
      while (left.size) {
        if (Date.now() > deadline) return false;
        const rows = await Promise.all([...left].map((id) => store.get(id).catch(() => undefined)));
        for (const r of rows) if (r && isTerminal(r.state)) left.delete(r.reqId);
        if (left.size) await sleep(100);
      }
      return true;
    };
    const schedule = new FaultSchedule(
      fleet, new Random(random.seedFor()),
      { kinds: o.scenario === 'chaos' ? o.faults : [], gap: o.gap, waitS: Math.max(o.recoveryBoundS, o.drainBoundS) },
      { activeNow, allTerminal, submitted: () => submitted, log },
      startedAt,
    );
    checker.startContinuous();
    // Interrupted: no new fault and no new transfer (runChaos stops the fleet).
    signal?.addEventListener('abort', () => schedule.halt(), { once: true });

    if (o.scenario === 'recovery') {
      await Promise.all((['funding', 'trading'] as Account[]).map((l) => fleet.setLedgerFaults(l, { latency_ms: o.recoveryLatencyMs })));
    } else {
      schedule.start();
    }
    const next = intents(new Random(random.seedFor()), funding.map((f) => f.user), o.maxAmount);
    const loadStart = Date.now();
    let submitted = 0;
    const more = () =>
      !signal?.aborted &&
      (submitted < o.transfers || Date.now() - loadStart < o.durationS * 1000 || (o.scenario === 'chaos' && schedule.rounds < o.faultRounds));
    await Promise.all(Array.from({ length: o.scenario === 'recovery' ? o.transfers : o.concurrency }, async () => {
      while (more()) {
        if (o.rate > 0) {
          const due = loadStart + (submitted / o.rate) * 1000;
          if (due > Date.now()) await sleep(due - Date.now());
          if (!more()) return;
        }
        const n = ++submitted;
        const record = await client.submit(next());
        if (n % 500 === 0) log(`${n} transfers submitted`);
        // A client waits for its transfer's outcome before the next one (GET until terminal): the transfers in
        // flight stay bounded by the concurrency, whatever the fleet's pace under the faults.
        if (o.scenario === 'chaos') await client.settle(record, o.drainBoundS * 1000);
      }
    }));
    const loadSeconds = (Date.now() - loadStart) / 1000;
    log(`load done: ${submitted} transfers in ${loadSeconds.toFixed(1)} s`);

    if (o.scenario === 'recovery') {
      await schedule.killAll();
      await Promise.all((['funding', 'trading'] as Account[]).map((l) => fleet.setLedgerFaults(l, {})));
    }
    await schedule.stop();
    await checker.stopContinuous();
    const faultsOff = Date.now();
    log(`faults off at ${((faultsOff - startedAt) / 1000).toFixed(1)} s; draining`);

    // A pending answer from a create whose write had an unknown outcome may name a transfer that was never
    // written: the client asks again with the same key, as a real one would on a 404, and learns the real one.
    await inPool([...client.keys.values()].filter((k) => k.status === 'pending'), 16, async (k) => {
      if (!(await store.get(k.reqId))) await client.submit(k.intent);
    });
    const drainSeconds = await checker.drain(client.keys, o.drainBoundS);
    const finishedAt = Date.now();
    log(drainSeconds === undefined ? 'drain bound passed' : `all terminal ${drainSeconds.toFixed(1)} s after faults stopped`);
    // The recovery scenario holds a kill-all to the recovery bound. Amid the chaos a kill-all may follow a
    // FLUSHALL, whose lost jobs only the sweeper brings back (after STEP_LEASE_MS): there the drain bound holds.
    const bound = o.scenario === 'recovery' ? o.recoveryBoundS : o.drainBoundS;
    for (const r of schedule.recoveries) {
      if (r.seconds === undefined || r.seconds > bound) {
        checker.violate(
          'in-flight transfers terminal within the bound after a kill-all',
          `${r.inFlight} in flight at ${r.at.toFixed(1)} s: ${r.seconds === undefined ? 'not all terminal' : `${r.seconds.toFixed(1)} s`} (bound ${bound} s)`,
        );
      }
    }
    const rows = await checker.finalCheck(client.keys, since, new Date(Date.now() + 60_000));
    const outcomes: Record<string, number> = {};
    for (const r of rows.values()) outcomes[r.state] = (outcomes[r.state] ?? 0) + 1;
    const during = schedule.injected.map((f) => {
      const within = [...rows.values()].filter((r) => {
        const t = (r.createdAt.getTime() - startedAt) / 1000;
        return t >= f.at && t <= f.until;
      });
      return { kind: f.kind, at: f.at, until: f.until, created: within.length, committed: within.filter((r) => r.state === 'committed').length };
    });
    const metrics = await fleet.workerMetrics();
    return {
      options: o,
      runId: fleet.runId,
      outcomes,
      submitted,
      client: client.stats,
      faults: schedule.injected,
      recoveries: schedule.recoveries,
      loadSeconds,
      drainSeconds,
      throughput: rows.size / ((finishedAt - loadStart) / 1000),
      during,
      violations: checker.violations,
      violationCount: checker.count,
      checked: Object.fromEntries(checker.checked),
      liveChecksSkipped: checker.skipped,
      stalledJobs: metricSum(metrics, 'internal_transfer_jobs_stalled_total'),
      casConflicts: metricSum(metrics, 'internal_transfer_cas_conflicts_total'),
    };
  } finally {
    await Promise.all([readers.funding.close(), readers.trading.close()]);
    await ledgerCassandra.shutdown();
    await cassandra.shutdown();
  }
}

/** The summary for people: one table. */
export function formatSummary(s: ChaosSummary): string {
  const o = s.options;
  const rows: [string, string][] = [];
  const add = (k: string, v: string) => rows.push([k, v]);
  add('run', `${s.runId}  scenario ${o.scenario}  seed ${o.seed}`);
  add('topology', `cassandra ${o.cassandra}, redis ${o.redis}; ${o.apis} APIs, ${o.workers} workers (${o.fromBuild ? 'production bundles' : 'sources under tsx'}); ${o.users} users`);
  const outcomes = ['committed', 'rolled_back', 'failed'].map((k) => `${k} ${s.outcomes[k] ?? 0}`);
  const others = Object.entries(s.outcomes).filter(([k]) => !['committed', 'rolled_back', 'failed'].includes(k)).map(([k, n]) => `${k} ${n}`);
  add('transfers', `${s.submitted} submitted; ${[...outcomes, ...others].join(', ')}`);
  const statuses = [...s.client.byStatus.entries()].sort(([a], [b]) => a - b).map(([k, n]) => `${k}×${n}`).join(' ');
  add('client', `${s.client.requests} requests (${statuses}), ${s.client.connectionErrors} connection errors, ${s.client.retries} retries`);
  const byKind = new Map<string, number>();
  for (const f of s.faults) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
  add('faults', `${s.faults.length}: ${[...byKind.entries()].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`);
  for (const d of s.during.filter((f) => f.kind === 'cassandra-node')) {
    add('  node down', `${d.at.toFixed(1)}–${d.until.toFixed(1)} s: ${d.created} transfers created, ${d.committed} of them committed`);
  }
  for (const r of s.recoveries) {
    const ready = `processes ready after ${r.readySeconds.toFixed(1)} s`;
    add('recovery', `kill-all at ${r.at.toFixed(1)} s: ${r.inFlight} in flight, ${r.seconds === undefined ? 'NOT all terminal' : `all terminal ${r.seconds.toFixed(1)} s after the restart`} (${ready})`);
  }
  add('drain', s.drainSeconds === undefined ? `NOT all terminal within ${o.drainBoundS} s` : `all terminal ${s.drainSeconds.toFixed(1)} s after faults stopped (bound ${o.drainBoundS} s)`);
  add('throughput', `${(s.submitted / s.loadSeconds).toFixed(1)} submitted/s over ${s.loadSeconds.toFixed(1)} s of load; ${s.throughput.toFixed(1)} finished/s to the end of the drain`);
  add('jobs', `${s.stalledJobs} taken again after their worker lost the lock; ${s.casConflicts} compare-and-set races lost`);
  add('checks', Object.entries(s.checked).map(([k, n]) => `${k}: ${n}`).join('; ') + (s.liveChecksSkipped ? `; ${s.liveChecksSkipped} live leg checks left to the final reconciliation` : ''));
  add('violations', String(s.violationCount));
  for (const v of s.violations) add('  violation', `${v.invariant}: ${v.detail}`);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
