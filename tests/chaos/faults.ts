// The chaos run's faults, on a schedule drawn from the seed: rounds in which every enabled kind occurs once in
// a seeded order, with seeded gaps, targets and durations. Process, Redis and kill-all faults run one after the
// other; ledger faults and a Cassandra node down last a while in the background, overlapping the others. A
// kill-all waits for those to end first, so its recovery time measures the product, not the ledgers' faults.
import type { Account } from '@it/domain';
import { sleep } from '@it/runtime';
import type { Fleet } from './fleet.ts';
import type { Random } from './random.ts';

export const FAULT_KINDS = [
  'kill-worker', 'kill-api', 'kill-all', 'redis-flushall', 'redis-restart', 'cassandra-node',
  'ledger-latency', 'ledger-errors', 'ledger-drop', 'ledger-refuse',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRecord {
  kind: FaultKind;
  /** Seconds since the run started. */
  at: number;
  /** When it was over (the process, node or ledger back to normal), seconds since the run started. */
  until: number;
  detail: string;
}

/** A kill-all: how many transfers were in flight, and how long after the restart the last became terminal. */
export interface Recovery {
  at: number;
  inFlight: number;
  /** From the restart (issued right after the kills) to the last of them terminal; undefined: not within the wait. */
  seconds: number | undefined;
  /** From the restart to every process ready again. */
  readySeconds: number;
}

export interface ScheduleOptions {
  kinds: readonly FaultKind[];
  /** Seconds between two faults, drawn uniformly in [min, max). */
  gap: [number, number];
  /** How long a kill-all's recovery is waited for at most (a longer one is not all terminal). */
  waitS: number;
}

export interface FaultHooks {
  /** req_ids of the transfers not terminal right now (from the store's active index). */
  activeNow(): Promise<Set<string>>;
  /** Resolves once every one of `reqIds` is terminal, or false after `timeoutMs`. */
  allTerminal(reqIds: Set<string>, timeoutMs: number): Promise<boolean>;
  /** Transfers the load has submitted so far. */
  submitted(): number;
  log(line: string): void;
}

/**
 * A ledger fault window lasts its drawn time and until this many transfers were submitted through it (at most
 * LEDGER_WINDOW_MAX_MS): a window the load did not pass through tests nothing, as when every client waits on a
 * transfer a FLUSHALL lost until the sweeper brings it back.
 */
const LEDGER_WINDOW_TRANSFERS = 60;
const LEDGER_WINDOW_MAX_MS = 60_000;

const LEDGERS: Account[] = ['funding', 'trading'];

export class FaultSchedule {
  readonly injected: FaultRecord[] = [];
  readonly recoveries: Recovery[] = [];
  private readonly background = new Set<Promise<void>>();
  private readonly busyLedgers = new Set<Account>();
  private cassandraBusy = false;
  private completedRounds = 0;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly fleet: Fleet,
    private readonly random: Random,
    private readonly opts: ScheduleOptions,
    private readonly hooks: FaultHooks,
    private readonly startedAt: number,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  /** Stops scheduling at once (the fault in hand still finishes). */
  halt(): void {
    this.stopping = true;
    this.wake?.();
  }

  /** Stops scheduling, lets the fault in hand and the background ones finish, and puts everything back up. */
  async stop(): Promise<void> {
    this.halt();
    await this.loop;
    await Promise.all(this.background);
    await Promise.all(LEDGERS.map((l) => this.fleet.setLedgerFaults(l, {})));
    await this.fleet.restartAll();
  }

  private now(): number {
    return (Date.now() - this.startedAt) / 1000;
  }

  /** Records a fault as it starts; the caller calls the returned function once it is over. */
  private record(kind: FaultKind, detail: string): () => void {
    const r: FaultRecord = { kind, at: this.now(), until: this.now(), detail };
    this.injected.push(r);
    this.hooks.log(`fault ${kind} at ${r.at.toFixed(1)} s: ${detail}`);
    return () => void (r.until = this.now());
  }

  /** Sleeps `ms`, or less when the run stops. */
  private async pause(ms: number): Promise<void> {
    await Promise.race([sleep(ms), new Promise<void>((r) => (this.wake = r))]);
  }

  /** Rounds completed: in each, every enabled kind was injected once. */
  get rounds(): number {
    return this.completedRounds;
  }

  private async run(): Promise<void> {
    const kinds = this.opts.kinds.filter((k) => k !== 'cassandra-node' || this.fleet.opts.cassandra === 'cluster');
    if (!kinds.length) return;
    while (!this.stopping) {
      for (const kind of this.random.shuffle(kinds)) {
        await this.pause(this.random.between(...this.opts.gap) * 1000);
        if (this.stopping) return;
        // A fault that could not be injected or undone (a process that would not start) is reported; stop()
        // brings every process up again before the final checks.
        await this.inject(kind).catch((err: unknown) => this.hooks.log(`fault ${kind} failed: ${String(err)}`));
      }
      // A round is complete once its ledger windows are over too: the load runs until then.
      await Promise.all(this.background);
      this.completedRounds++;
    }
  }

  private inBackground(task: () => Promise<void>): void {
    const p = task().catch((err: unknown) => this.hooks.log(`background fault failed: ${String(err)}`));
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  private async inject(kind: FaultKind): Promise<void> {
    const r = this.random;
    switch (kind) {
      case 'kill-worker':
      case 'kill-api': {
        const app = kind === 'kill-worker' ? 'worker' : 'api';
        const i = r.int(app === 'worker' ? this.fleet.workers : this.fleet.apis);
        const downMs = Math.round(r.between(200, 2_000));
        const over = this.record(kind, `SIGKILL ${app}-${i}, restarted after ${downMs} ms`);
        await this.fleet.kill(app, i);
        await sleep(downMs);
        await this.fleet.restart(app, i);
        over();
        return;
      }
      case 'kill-all':
        return this.killAll();
      case 'redis-flushall': {
        const over = this.record(kind, 'FLUSHALL on every Redis node');
        await this.fleet.flushRedis();
        over();
        return;
      }
      case 'redis-restart': {
        const downMs = Math.round(r.between(500, 3_000));
        const over = this.record(kind, `the Redis node holding the queue shut down for ${downMs} ms`);
        await this.fleet.restartRedis(downMs);
        over();
        return;
      }
      case 'cassandra-node': {
        const node = r.int(3);
        const downMs = Math.round(r.between(5_000, 15_000));
        // One node down at a time: a quorum of three must stay.
        while (this.cassandraBusy) await Promise.race(this.background);
        if (this.stopping) return;
        this.cassandraBusy = true;
        const over = this.record(kind, `SIGKILL cassandra node ${node + 1}, restarted after ${downMs} ms`);
        this.fleet.killCassandraNode(node);
        this.inBackground(async () => {
          try {
            await sleep(downMs);
            await this.fleet.restartCassandraNode(node);
            over();
            this.hooks.log(`cassandra node ${node + 1} back at ${this.now().toFixed(1)} s`);
          } finally {
            this.cassandraBusy = false;
          }
        });
        return;
      }
      case 'ledger-latency':
      case 'ledger-errors':
      case 'ledger-drop':
      case 'ledger-refuse': {
        let ledger = LEDGERS[r.int(2)]!;
        const windowMs = Math.round(r.between(3_000, 10_000));
        const faults: Record<string, number> = { seed: r.seedFor() };
        if (kind === 'ledger-latency') Object.assign(faults, { latency_ms: Math.round(r.between(100, 800)), latency_jitter_ms: 200 });
        if (kind === 'ledger-errors') faults.error_rate = Number(r.between(0.2, 0.6).toFixed(2));
        if (kind === 'ledger-drop') faults.drop_response_rate = Number(r.between(0.1, 0.4).toFixed(2));
        if (kind === 'ledger-refuse') faults.refuse_rate = Number(r.between(0.1, 0.3).toFixed(2));
        // One fault window per ledger at a time: the other ledger, or the first to be free again.
        while (this.busyLedgers.size === LEDGERS.length) await Promise.race(this.background);
        if (this.stopping) return;
        if (this.busyLedgers.has(ledger)) ledger = LEDGERS.find((l) => !this.busyLedgers.has(l))!;
        this.busyLedgers.add(ledger);
        const over = this.record(kind, `${ledger} ${JSON.stringify({ ...faults, seed: undefined })} for ${windowMs} ms and ${LEDGER_WINDOW_TRANSFERS} transfers`);
        await this.fleet.setLedgerFaults(ledger, faults);
        const submittedBefore = this.hooks.submitted();
        this.inBackground(async () => {
          try {
            await sleep(windowMs);
            const latest = Date.now() + LEDGER_WINDOW_MAX_MS - windowMs;
            while (!this.stopping && this.hooks.submitted() - submittedBefore < LEDGER_WINDOW_TRANSFERS && Date.now() < latest) await sleep(200);
            await this.fleet.setLedgerFaults(ledger, {});
            over();
          } finally {
            this.busyLedgers.delete(ledger);
          }
        });
        return;
      }
    }
  }

  /**
   * SIGKILL of every API and worker at once, all restarted at once; the transfers in flight at that moment
   * must all be terminal within the recovery bound (measured from the restart).
   */
  async killAll(): Promise<void> {
    await Promise.all(this.background);
    const inFlight = await this.hooks.activeNow();
    const over = this.record('kill-all', `SIGKILL every worker and API with ${inFlight.size} transfers in flight, all restarted at once`);
    const at = this.now();
    await this.fleet.killAll();
    const restartedAt = Date.now();
    await this.fleet.restartAll();
    over();
    const readySeconds = (Date.now() - restartedAt) / 1000;
    const within = await this.hooks.allTerminal(inFlight, this.opts.waitS * 1000 - (Date.now() - restartedAt));
    const seconds = (Date.now() - restartedAt) / 1000;
    this.recoveries.push({ at, inFlight: inFlight.size, seconds: within ? seconds : undefined, readySeconds });
    this.hooks.log(`kill-all recovery: ${inFlight.size} in flight, ${within ? `all terminal ${seconds.toFixed(1)} s after the restart` : 'NOT all terminal'}`);
  }
}
