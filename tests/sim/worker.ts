// A worker process in the simulated world: the production Coordinator, step processor and sweeper, wired as
// apps/worker/src/worker.ts wires them, over this process's clients of the simulated store, ledgers and queue.
// A crash throws all of it away; the restarted process builds everything anew, as a new pod would.
import { DelayedError, WaitingError } from 'bullmq';
import { createLogger, type Logger } from '@it/observability';
import { SWEEP_JOB } from '@it/queue';
import { Coordinator } from '../../apps/worker/src/coordinator.ts';
import { createStepProcessor, type StepJob } from '../../apps/worker/src/step-processor.ts';
import { sweep } from '../../apps/worker/src/sweeper.ts';
import { publishingStore } from '../../apps/worker/src/transition-publisher.ts';
import type { Knobs } from './knobs.ts';
import { type AdapterPlants, type LedgerService, type Network, SimLedgerAdapter } from './ledger.ts';
import { SimQueueClient, type QueueConsumer, type SimJob, type SimQueue } from './queue.ts';
import { SimTransferStore, type TransferDb } from './store.ts';
import type { Oracle } from './oracle.ts';
import { Proc, type World } from './world.ts';

/** Worker settings: packages/config defaults. */
export const SETTINGS = {
  backoff: { baseMs: 500, maxMs: 60_000 },
  leaseMs: 30_000,
  adapterTimeoutMs: 3_000,
  stuckAfterMs: 5 * 60_000,
} as const;

export interface WorldParts {
  world: World;
  knobs: Knobs;
  db: TransferDb;
  queue: SimQueue;
  net: Network;
  ledgers: { funding: LedgerService; trading: LedgerService };
  oracle: Oracle;
  plants: AdapterPlants & { blindCasRetry?: boolean };
}

/** Built once, outside any run: building a logger reads the real clock. */
const silent = createLogger('sim', 'silent');
/** Fields of a log line the trace leaves out: the real time among them. */
const NOISE = new Set(['msg', 'level', 'time', 'service', 'name']);

/** A logger whose lines go to the trace (replays), or nowhere. */
export function traceLogger(world: World, name: string): Logger {
  if (!world.trace) return silent;
  return createLogger(name, 'debug', {
    write(line: string) {
      const entry = JSON.parse(line) as Record<string, unknown>;
      const fields = Object.fromEntries(Object.entries(entry).filter(([k]) => !NOISE.has(k)));
      world.log(() => `  ${name}: ${String(entry.msg)} ${JSON.stringify(fields)}`);
    },
  });
}

export class SimWorker implements QueueConsumer {
  readonly proc: Proc;
  private busy = 0;
  private run!: ReturnType<typeof createStepProcessor>;
  private store!: SimTransferStore;
  private queueClient!: SimQueueClient;
  private logger!: Logger;
  /** Set by a graceful stop (SIGTERM): jobs in hand finish their step and are released, no new one is taken. */
  private closing = false;
  private exit: (() => void) | undefined;
  /** This incarnation's clock error: its leases, backoffs and sweeps are computed on a skewed clock. */
  private skewMs = 0;

  constructor(
    private readonly parts: WorldParts,
    name: string,
    private readonly concurrency: number,
  ) {
    this.proc = new Proc(name);
    this.boot();
  }

  /** Everything a worker process builds at start-up, for this incarnation. */
  boot(): void {
    const { world, db, knobs, queue, net, ledgers, plants } = this.parts;
    this.busy = 0;
    this.closing = false;
    this.exit = undefined;
    this.skewMs = world.rng.int(-500, 500);
    const now = () => world.epochMs() + this.skewMs;
    this.logger = traceLogger(world, this.proc.name);
    this.store = new SimTransferStore(world, db, knobs, this.proc, plants.blindCasRetry ?? false);
    this.queueClient = new SimQueueClient(world, queue, this.proc);
    const adapters = {
      funding: new SimLedgerAdapter(world, net, this.proc, ledgers.funding, SETTINGS.adapterTimeoutMs, plants),
      trading: new SimLedgerAdapter(world, net, this.proc, ledgers.trading, SETTINGS.adapterTimeoutMs, plants),
    };
    const random = () => world.rng.float();
    // Wrapped as worker.ts wraps it: each applied transition is announced (here, to the oracle and the trace).
    const announced = publishingStore(this.store, (record) => {
      world.log(() => `  ${this.proc.name}: announces ${record.reqId} ${record.state}#${record.version}`);
      this.parts.oracle.onAnnounced(record);
    });
    const coordinator = new Coordinator(announced, adapters, {
      backoff: SETTINGS.backoff,
      leaseMs: SETTINGS.leaseMs,
      logger: this.logger,
      clock: () => new Date(now()),
      random,
    });
    this.run = createStepProcessor({
      coordinator,
      backoff: SETTINGS.backoff,
      logger: this.logger,
      closing: () => this.closing,
      clock: now,
      random,
    });
  }

  freeSlots(): number {
    return this.closing ? 0 : this.concurrency - this.busy;
  }

  /** A graceful stop: the process exits (`exit`) once every job in hand is released. */
  drain(exit: () => void): void {
    if (this.closing) return;
    this.closing = true;
    this.exit = exit;
    this.parts.world.log(() => `STOP ${this.proc.name} (graceful: releases its jobs after their current step)`);
    if (this.busy === 0) exit();
  }

  start(job: SimJob, token: string): void {
    this.busy++;
    const { world, knobs } = this.parts;
    // The fetch's reply: the job reaches this process (or, if it crashed meanwhile, stalls in active).
    world.deliver(this.proc, knobs.redisLatency(), () => void this.process(job, token));
  }

  /** BullMQ's Worker around the processor: completes, leaves a moved job alone, or fails it. */
  private async process(job: SimJob, token: string): Promise<void> {
    const { queue, world } = this.parts;
    const q = <T,>(exec: () => T) => queue.command(this.proc, exec);
    try {
      if (job.name === SWEEP_JOB) {
        queue.sweepJobs++;
        const clock = () => new Date(world.epochMs() + this.skewMs);
        await sweep(this.store, this.queueClient, { stuckAfterMs: SETTINGS.stuckAfterMs, logger: this.logger, clock });
      } else {
        const view: StepJob = {
          data: { ...job.data },
          attemptsStarted: job.attemptsStarted,
          moveToDelayed: async (timestamp: number, t?: string) => {
            await q(() => queue.moveToDelayed(job.id, t ?? '', timestamp));
          },
          moveToWait: (t?: string) => q(() => queue.moveToWait(job.id, t ?? '')),
        };
        const outcome = await this.run(view, token);
        world.log(() => `  ${this.proc.name}: job ${job.id} finished: ${outcome}`);
      }
      await q(() => queue.complete(job.id, token));
    } catch (err) {
      if (!(err instanceof DelayedError) && !(err instanceof WaitingError)) {
        world.log(() => `  ${this.proc.name}: job ${job.id} threw ${(err as Error).message}`);
        await q(() => queue.fail(job.id, token)).catch(() => undefined);
      }
    } finally {
      queue.runEnded(job.id, token);
      this.busy--;
      if (this.closing && this.busy === 0) this.exit?.();
      queue.pump();
    }
  }
}
