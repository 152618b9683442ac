// A scenario's fault levels as probabilities and latencies. Faults stop at `faultsEndMs`: from then on the
// world is calm and every transfer must reach a terminal state (liveness).
import type { World } from './world.ts';
import type { Level, Scenario } from './scenario.ts';

const P = (table: readonly [number, number, number, number], level: Level) => table[level];

export class Knobs {
  /** New transfers arrive over this window. */
  readonly loadMs: number;
  /** No fault after this. */
  readonly faultsEndMs: number;

  private readonly cas: number;
  private readonly store: number;
  private readonly ledgerErr: number;
  private readonly dropRate: number;
  private readonly refuseRate: number;
  private readonly spike: number;
  private readonly crashRate: number;
  private readonly ledgerCrashRate: number;
  private readonly pauseRate: number;
  private readonly queueRate: number;

  constructor(
    private readonly world: World,
    readonly scenario: Scenario,
  ) {
    const f = scenario.faults;
    this.loadMs = 2_000 + 200 * scenario.transfers;
    this.faultsEndMs = this.loadMs + 30_000;
    this.cas = P([0, 0.02, 0.08, 0.2], f.a);
    this.store = P([0, 0.01, 0.04, 0.1], f.r);
    this.ledgerErr = P([0, 0.03, 0.1, 0.25], f.e);
    this.dropRate = P([0, 0.03, 0.1, 0.25], f.d);
    this.refuseRate = P([0, 0.03, 0.1, 0.3], f.f);
    this.spike = P([0, 0.02, 0.05, 0.12], f.l);
    this.crashRate = P([0, 0.001, 0.004, 0.012], f.c);
    this.ledgerCrashRate = P([0, 0.0003, 0.001, 0.003], f.c);
    this.pauseRate = P([0, 0.001, 0.003, 0.008], f.p);
    this.queueRate = P([0, 0.01, 0.03, 0.08], f.q);
  }

  private get on(): boolean {
    return this.world.now < this.faultsEndMs;
  }

  private rate(p: number): number {
    return this.on ? p : 0;
  }

  get casUnknown(): number {
    return this.rate(this.cas);
  }
  get storeFailure(): number {
    return this.rate(this.store);
  }
  get ledgerError(): number {
    return this.rate(this.ledgerErr);
  }
  get drop(): number {
    return this.rate(this.dropRate);
  }
  /** Business refusals are definite answers, not faults: they go on after the faults stop. */
  get refuse(): number {
    return this.refuseRate;
  }
  /** At each await a worker (or, less often, a ledger service) resumes at. */
  crash(worker: boolean): number {
    return this.rate(worker ? this.crashRate : this.ledgerCrashRate);
  }
  get pause(): number {
    return this.rate(this.pauseRate);
  }
  /** Per queue operation: a job lost, a promotion late, a lock lost. */
  get queue(): number {
    return this.rate(this.queueRate);
  }
  get crashLevel(): Level {
    return this.on ? this.scenario.faults.c : 0;
  }

  /** Cassandra round trip half. */
  dbLatency(): number {
    const r = this.world.rng;
    return this.on && r.chance(this.store / 2) ? r.int(200, 4_000) : 0.2 + r.float() * 2;
  }

  redisLatency(): number {
    return 0.1 + this.world.rng.float();
  }

  /** One way on the network between a worker and a ledger: now and then far past the adapter's timeout. */
  netLatency(): number {
    const r = this.world.rng;
    if (!r.chance(this.rate(this.spike))) return 0.3 + r.float() * 4;
    this.world.count('late network message');
    return r.int(1_000, 20_000);
  }

  /** A ledger's own work between its statements. */
  ledgerLatency(): number {
    const r = this.world.rng;
    return r.chance(this.rate(this.spike)) ? r.int(500, 8_000) : 0.2 + r.float() * 2;
  }

  /** A worker's pauses: mostly short, a third of them past the job lock and the step lease (30 s). A ledger's are short. */
  pauseMs(worker: boolean): number {
    const r = this.world.rng;
    if (!worker) return r.int(50, 3_000);
    return r.chance(0.35) ? r.int(30_000, 90_000) : r.int(50, 10_000);
  }

  restartMs(): number {
    return this.world.rng.int(100, 15_000);
  }
}
