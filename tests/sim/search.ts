// The property-based driver: fast-check generates scenarios (workload sizes, fault intensities, the seed),
// each is simulated, and a failing one is shrunk to a small scenario whose token replays it exactly.
import fc from 'fast-check';
import { runScenario, type RunResult } from './run.ts';
import { scenarioArbitrary, type Bug } from './scenario.ts';

export interface SearchStats {
  scenarios: number;
  /** How often each kind of adversity happened, over every scenario. */
  coverage: Map<string, number>;
  transfers: number;
  events: number;
  simulatedMs: number;
  wallMs: number;
}

export interface Failure {
  /** The smallest failing scenario found: `npm run sim -- --seed <token>` replays it. */
  token: string;
  violations: string[];
  /** The first failing scenario, before shrinking. */
  firstToken: string;
  /** What it took to find the first failure. */
  foundAfter: SearchStats;
  shrinks: number;
}

export interface SearchResult {
  /** fast-check's seed of the first batch: the same seed searches the same scenarios. */
  seed: number;
  stats: SearchStats;
  failure?: Failure;
}

export interface SearchOptions {
  budgetMs: number;
  /** Time for shrinking a failure, beyond the budget. */
  shrinkMs?: number;
  bug?: Bug;
  seed?: number;
  maxScenarios?: number;
  maxTransfers?: number;
  onProgress?: (stats: SearchStats) => void;
}

const BATCH = 20;

export async function search(opts: SearchOptions): Promise<SearchResult> {
  const t0 = performance.now();
  const seed = opts.seed ?? (Date.now() ^ (process.pid << 16)) >>> 0;
  const stats: SearchStats = { scenarios: 0, coverage: new Map(), transfers: 0, events: 0, simulatedMs: 0, wallMs: 0 };
  let first: { result: RunResult; at: SearchStats } | undefined;
  let smallest: RunResult | undefined;
  let shrinkDeadline = Infinity;
  let lastProgress = t0;

  const property = fc.asyncProperty(scenarioArbitrary({ maxTransfers: opts.maxTransfers, bug: opts.bug }), async (s) => {
    // Out of shrinking time: every further candidate "passes", so fast-check stops at the smallest so far.
    if (performance.now() > shrinkDeadline) return true;
    const r = await runScenario(s);
    stats.scenarios++;
    stats.transfers += r.transfers;
    stats.events += r.events;
    stats.simulatedMs += r.simulatedMs;
    for (const [k, v] of r.coverage) stats.coverage.set(k, (stats.coverage.get(k) ?? 0) + v);
    stats.wallMs = performance.now() - t0;
    if (opts.onProgress && performance.now() - lastProgress > 5_000) {
      lastProgress = performance.now();
      opts.onProgress({ ...stats });
    }
    if (!r.violations.length) return true;
    if (!first) {
      first = { result: r, at: { ...stats, coverage: new Map(stats.coverage) } };
      shrinkDeadline = performance.now() + (opts.shrinkMs ?? 10_000);
    }
    smallest = r;
    return false;
  });

  let batchSeed = seed;
  let shrinks = 0;
  while (!first && performance.now() - t0 < opts.budgetMs && stats.scenarios < (opts.maxScenarios ?? Infinity)) {
    const details = await fc.check(property, { numRuns: BATCH, seed: batchSeed, endOnFailure: false });
    if (details.failed) shrinks = details.numShrinks;
    batchSeed = (batchSeed + 0x9e3779b9) >>> 0;
  }
  stats.wallMs = performance.now() - t0;
  if (!first || !smallest) return { seed, stats };
  return {
    seed,
    stats,
    failure: {
      token: smallest.token,
      violations: smallest.violations,
      firstToken: first.result.token,
      foundAfter: first.at,
      shrinks,
    },
  };
}

export function describeCoverage(s: SearchStats): string {
  return [...s.coverage].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}: ${v}`).join('\n');
}

export function describeStats(s: SearchStats): string {
  const secs = s.wallMs / 1000;
  return (
    `${s.scenarios} scenarios, ${s.transfers} transfers, ${s.events} events in ${secs.toFixed(1)} s ` +
    `(${Math.round(s.events / secs)} events/s, ${Math.round(s.transfers / secs)} transfers/s, ` +
    `${(s.simulatedMs / 3_600_000).toFixed(1)} h simulated)`
  );
}
