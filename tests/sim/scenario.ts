// A scenario is everything a run depends on: the seed, the workload's size and each fault's intensity. It is
// printed as a short token (`npm run sim -- --seed <token>` replays it) and generated and shrunk by fast-check.
import fc from 'fast-check';
import { Rng } from './rng.ts';

/** Fault kinds, by the letter the token uses. Each has an intensity 0 (off) to 3. */
export const FAULTS = {
  /** Workers, the ledgers and the API crash: stopped at any await, their in-memory state gone. */
  c: 'crash',
  /** Stop-the-world pauses: a worker resumes long after its job lock and its step lease ran out. */
  p: 'pause',
  /** Cassandra LWTs with unknown outcome: applied, not applied, or a Paxos round left in flight. */
  a: 'cas',
  /** Cassandra reads and writes that fail (timeouts, no host). */
  r: 'store',
  /** The ledgers answer 503 before applying, or 500. */
  e: 'ledger_error',
  /** The ledgers apply, then the connection is reset before the answer. */
  d: 'drop',
  /** The ledgers refuse new withdraws and deposits (a recorded, definite refusal). */
  f: 'refuse',
  /** Latency spikes past the adapter's timeout: requests that arrive long after their caller gave up. */
  l: 'latency',
  /** Lost jobs, a flushed queue, delayed jobs promoted late, stalled jobs delivered twice. */
  q: 'queue',
  /** Another client of a ledger gives up on withdraws and rolls them back (adapter contract, rule 4). */
  s: 'strays',
} as const;
export type FaultKey = keyof typeof FAULTS;
export const FAULT_KEYS = Object.keys(FAULTS) as FaultKey[];
export type Level = 0 | 1 | 2 | 3;

/** Bugs the simulator must find (tests/sim/planted.ts): each is off in every real run. */
export const BUGS = {
  /** An unknown deposit outcome is taken for a refusal, so the saga compensates. */
  'compensate-on-unknown': 'compensates on an unknown deposit outcome',
  /** The source's commit is not waited for, so `committed` is written before the source committed. */
  'commit-early': 'marks committed before the source commit',
  /** A compare-and-set with unknown outcome is sent again on the row as it reads now instead of settled. */
  'blind-cas-retry': 'retries a compare-and-set with unknown outcome blind',
  /** A ledger answers a rollback of a req_id it never saw without recording the tombstone. */
  'forget-tombstone': 'a ledger forgets its rollback tombstone',
  /** The sweeper's schedule never fires: a lost job strands its transfer (the liveness invariant's own check). */
  'no-sweeper': 'the sweeper never runs',
} as const;
export type Bug = keyof typeof BUGS;
export const BUG_NAMES = Object.keys(BUGS) as Bug[];

export interface Scenario {
  seed: number;
  transfers: number;
  users: number;
  workers: number;
  /** Jobs each worker runs at once. */
  concurrency: number;
  faults: Record<FaultKey, Level>;
  bug?: Bug;
}

export function encode(s: Scenario): string {
  const faults = FAULT_KEYS.map((k) => `${k}${s.faults[k]}`).join('');
  return `${s.seed}:t${s.transfers}u${s.users}w${s.workers}x${s.concurrency}:${faults}${s.bug ? `:${s.bug}` : ''}`;
}

const LIMITS = { transfers: [1, 200], users: [1, 50], workers: [1, 8], concurrency: [1, 16] } as const;

/** A token from `encode`, or a bare seed (the scenario is then drawn from the seed). */
export function decode(token: string): Scenario {
  const trimmed = token.trim();
  if (/^\d+$/.test(trimmed)) return fromSeed(Number(trimmed));
  const m = /^(\d+):t(\d+)u(\d+)w(\d+)x(\d+):((?:[a-z][0-3])+)(?::([a-z-]+))?$/.exec(trimmed);
  if (!m) throw new Error(`not a scenario token: ${token} (expected e.g. 42:t8u2w3x2:c1p1a2r1e1d1f1l1q1s1)`);
  const faults = Object.fromEntries(FAULT_KEYS.map((k) => [k, 0])) as Record<FaultKey, Level>;
  for (const [, k, v] of m[6]!.matchAll(/([a-z])([0-3])/g)) {
    if (!(k! in FAULTS)) throw new Error(`unknown fault '${k}' in ${token}`);
    faults[k as FaultKey] = Number(v) as Level;
  }
  const bug = m[7];
  if (bug !== undefined && !(bug in BUGS)) throw new Error(`unknown bug '${bug}' (known: ${BUG_NAMES.join(', ')})`);
  const s: Scenario = {
    seed: Number(m[1]) >>> 0,
    transfers: Number(m[2]),
    users: Number(m[3]),
    workers: Number(m[4]),
    concurrency: Number(m[5]),
    faults,
    ...(bug ? { bug: bug as Bug } : {}),
  };
  for (const [field, [lo, hi]] of Object.entries(LIMITS)) {
    const v = s[field as keyof typeof LIMITS];
    if (v < lo || v > hi) throw new Error(`${field} must be in ${lo}..${hi}`);
  }
  return s;
}

/** The scenario a bare seed names: sizes and fault levels drawn from it. */
export function fromSeed(seed: number): Scenario {
  const rng = new Rng(seed ^ 0x5eed);
  const faults = Object.fromEntries(FAULT_KEYS.map((k) => [k, rng.int(0, 3)])) as Record<FaultKey, Level>;
  return {
    seed: seed >>> 0,
    transfers: rng.int(1, 30),
    users: rng.int(1, 4),
    workers: rng.int(1, 4),
    concurrency: rng.int(1, 4),
    faults,
  };
}

const level = fc.constantFrom<Level>(0, 1, 2, 3);

/** fast-check's scenarios: small workloads on few accounts (contention), every fault at every intensity. */
export function scenarioArbitrary(opts: { maxTransfers?: number; bug?: Bug } = {}): fc.Arbitrary<Scenario> {
  return fc
    .record({
      seed: fc.integer({ min: 0, max: 0x7fffffff }),
      transfers: fc.integer({ min: 1, max: opts.maxTransfers ?? 24 }),
      users: fc.integer({ min: 1, max: 4 }),
      workers: fc.integer({ min: 1, max: 4 }),
      concurrency: fc.integer({ min: 1, max: 4 }),
      faults: fc.record(Object.fromEntries(FAULT_KEYS.map((k) => [k, level])) as Record<FaultKey, fc.Arbitrary<Level>>),
    })
    .map((s) => (opts.bug ? { ...s, bug: opts.bug } : s));
}
