// `npm run chaos -- [options]`: a continuous chaos run over real processes with an invariant checker; prints
// a summary table and exits 1 on any violation (2 on bad options, 3 when the run itself failed, 130 on Ctrl-C).
// Options (defaults in tests/chaos/run.ts DEFAULTS):
//   --transfers N        transfers to submit (the load also lasts --duration and --fault-rounds at least)
//   --duration S         seconds the load lasts at least
//   --seed N             the seed of the fault schedule and the load (default: random, printed)
//   --topology T         single (the local Cassandra node, one Redis) | cluster (3-node Cassandra, Redis Cluster)
//   --cassandra T, --redis T   either side alone: single | cluster
//   --workers N, --apis N, --users N, --concurrency N, --rate N (new transfers/s, 0: unpaced)
//   --faults a,b,…       fault kinds (tests/chaos/faults.ts FAULT_KINDS); --no-faults for none
//   --fault-rounds N     rounds of faults (every kind once each) the load lasts at least
//   --gap MIN,MAX        seconds between faults
//   --drain-bound S, --recovery-bound S
//   --scenario recovery  instead of chaos: every transfer posted at once to ledgers answering in
//                        --recovery-latency ms, every API and worker SIGKILLed and restarted at once
//   --from-build         run production bundles (built for the run, as `npm run build` does) instead of tsx
//   --keep               keep the run's keyspaces;  --json  the summary as JSON too
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { cassandraDown, cassandraUp, SINGLE } from '../../scripts/stack.mjs';
import { FAULT_KINDS, type FaultKind } from './faults.ts';
import { DEFAULTS, formatSummary, runChaos, type ChaosOptions } from './run.ts';
import type { Topology } from './fleet.ts';

class UsageError extends Error {}

function count(name: string, v: string | undefined, fallback: number, min = 0): number {
  if (v === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) < min) throw new UsageError(`--${name} must be a number ≥ ${min}`);
  return Number(v);
}

function topology(name: string, v: string | undefined, fallback: Topology): Topology {
  if (v === undefined) return fallback;
  if (v !== 'single' && v !== 'cluster') throw new UsageError(`--${name} must be single or cluster`);
  return v;
}

export function parseOptions(argv: string[]): ChaosOptions & { json: boolean } {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      transfers: { type: 'string' }, duration: { type: 'string' }, seed: { type: 'string' }, topology: { type: 'string' },
      cassandra: { type: 'string' }, redis: { type: 'string' }, workers: { type: 'string' }, apis: { type: 'string' },
      users: { type: 'string' }, concurrency: { type: 'string' }, rate: { type: 'string' }, faults: { type: 'string' },
      'no-faults': { type: 'boolean' }, 'fault-rounds': { type: 'string' }, gap: { type: 'string' }, 'drain-bound': { type: 'string' },
      'recovery-bound': { type: 'string' }, 'recovery-latency': { type: 'string' }, scenario: { type: 'string' }, keep: { type: 'boolean' },
      json: { type: 'boolean' }, 'from-build': { type: 'boolean' },
    },
  });
  const scenario = v.scenario ?? 'chaos';
  if (scenario !== 'chaos' && scenario !== 'recovery') throw new UsageError('--scenario must be chaos or recovery');
  const topo = topology('topology', v.topology, 'single');
  const faults = v['no-faults'] ? [] : v.faults === undefined ? DEFAULTS.faults : v.faults.split(',').map((f) => f.trim());
  const unknown = faults.filter((f) => !(FAULT_KINDS as readonly string[]).includes(f));
  if (unknown.length) throw new UsageError(`unknown fault kinds ${unknown.join(', ')}: known are ${FAULT_KINDS.join(', ')}`);
  const gap = (v.gap ?? DEFAULTS.gap.join(',')).split(',').map((g) => count('gap', g, 0));
  if (gap.length !== 2 || gap[0]! > gap[1]!) throw new UsageError('--gap must be MIN,MAX seconds');
  const recovery = scenario === 'recovery';
  return {
    scenario,
    transfers: count('transfers', v.transfers, recovery ? 200 : DEFAULTS.transfers, 1),
    durationS: count('duration', v.duration, DEFAULTS.durationS),
    seed: count('seed', v.seed, Math.floor(Math.random() * 2 ** 31)),
    cassandra: topology('cassandra', v.cassandra, topo),
    redis: topology('redis', v.redis, topo),
    workers: count('workers', v.workers, recovery ? 2 : topo === 'cluster' ? 3 : DEFAULTS.workers, 1),
    apis: count('apis', v.apis, recovery ? 1 : DEFAULTS.apis, 1),
    users: count('users', v.users, DEFAULTS.users, 1),
    concurrency: count('concurrency', v.concurrency, DEFAULTS.concurrency, 1),
    rate: count('rate', v.rate, DEFAULTS.rate),
    faults: faults as FaultKind[],
    faultRounds: count('fault-rounds', v['fault-rounds'], faults.length ? DEFAULTS.faultRounds : 0),
    gap: [gap[0]!, gap[1]!],
    drainBoundS: count('drain-bound', v['drain-bound'], DEFAULTS.drainBoundS, 1),
    recoveryBoundS: count('recovery-bound', v['recovery-bound'], DEFAULTS.recoveryBoundS, 1),
    recoveryLatencyMs: count('recovery-latency', v['recovery-latency'], DEFAULTS.recoveryLatencyMs),
    maxAmount: DEFAULTS.maxAmount,
    initialBalance: DEFAULTS.initialBalance,
    keep: v.keep ?? false,
    json: v.json ?? false,
    fromBuild: v['from-build'] ?? false,
  };
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\nsee the options at the top of tests/chaos/main.ts`);
    return 2;
  }
  const { json, ...o } = options;
  const log = (line: string) => console.log(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`);
  log(`seed ${o.seed} (replay with --seed ${o.seed})`);
  // The single topology runs on the local Cassandra node unless the environment names one: up if needed.
  const ownNode = o.cassandra === 'single' && !process.env.CASSANDRA_CONTACT_POINTS ? await cassandraUp(SINGLE) : false;
  // Ctrl-C stops the fleet and drops the run's keyspaces before exiting.
  const interrupt = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => interrupt.abort());
  try {
    const summary = await runChaos(o, log, interrupt.signal);
    console.log(`\n${formatSummary(summary)}`);
    if (json) {
      const plain = (_k: string, val: unknown): unknown => (typeof val === 'bigint' ? val.toString() : val instanceof Map ? Object.fromEntries(val) : val);
      console.log(JSON.stringify(summary, plain));
    }
    return summary.violationCount > 0 ? 1 : 0;
  } catch (err) {
    if (interrupt.signal.aborted) {
      log('interrupted: the fleet is stopped and the run\'s keyspaces dropped');
      return 130;
    }
    throw err;
  } finally {
    if (ownNode) await cassandraDown(SINGLE);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main()
    .then((code) => process.exit(code))
    .catch((err: unknown) => {
      console.error('[chaos] failed:', err);
      process.exit(3);
    });
}
