// BullMQ's semantics in memory, as the saga meets them: one live job per job id (an add while it exists is
// ignored), waiting → active under a lock token → delayed / waiting / completed (removed) / failed; a delayed
// job is promoted when due; a job whose worker stopped renewing its lock (crashed, or paused past the lock) is
// moved back to waiting by the stalled check and delivered again, while the paused worker may still run it;
// an operation with a token that no longer holds the job is refused ("Missing lock"). Faults: lost jobs, a
// flushed queue (the sweeper's schedule too, until a worker re-asserts it), late promotions, lost locks.
import type { JobState } from 'bullmq';
import { SWEEP_JOB, type TransferJobData } from '@it/queue';
import type { SweeperQueue } from '../../apps/worker/src/sweeper.ts';
import type { Knobs } from './knobs.ts';
import type { Proc, World } from './world.ts';

/** Worker settings (packages/config defaults): lock and stalled check, stalls tolerated before failing. */
export const LOCK_MS = 30_000;
export const STALLED_INTERVAL_MS = 30_000;
const MAX_STALLED_COUNT = 10;
/** The sweeper's cron (every 5 s) and how often a worker re-asserts the schedule (sweeper-schedule.ts). */
export const SWEEP_EVERY_MS = 5_000;
const SCHEDULE_REASSERT_MS = 10_000;

export interface SimJob {
  id: string;
  name: string;
  data: TransferJobData;
  state: 'waiting' | 'delayed' | 'active' | 'failed';
  token: string | null;
  holder: QueueConsumer | null;
  holderIncarnation: number;
  dueAt: number;
  attemptsStarted: number;
  stalledCount: number;
  /** When its worker stopped renewing the lock though the job is still active (its run ended, moves failed). */
  lapsedAt: number | null;
}

/** A worker process as the queue sees it: slots to fill, and a way to hand it a job. */
export interface QueueConsumer {
  readonly proc: Proc;
  freeSlots(): number;
  start(job: SimJob, token: string): void;
}

export class MissingLockError extends Error {}

export class SimQueue {
  readonly jobs = new Map<string, SimJob>();
  private waiting: string[] = [];
  private consumers: QueueConsumer[] = [];
  private dispatchScheduled = false;
  private tokens = 0;
  private sweeps = 0;
  schedulerPresent = true;
  /** Sweeps started, for the run's figures. */
  sweepJobs = 0;

  constructor(
    private readonly world: World,
    private readonly knobs: Knobs,
    /** Planted bug `no-sweeper`: the sweeper's schedule never fires. */
    private readonly noSweeper = false,
  ) {}

  addConsumer(c: QueueConsumer): void {
    this.consumers.push(c);
  }

  /** Periodic machinery: the sweeper's schedule, its re-assertion, the stalled check, queue-level faults. */
  startTimers(): void {
    const w = this.world;
    const sweepTick = () => {
      if (this.schedulerPresent && !this.noSweeper) this.add(SWEEP_JOB, { reqId: '' }, `repeat:${SWEEP_JOB}:${++this.sweeps}`);
      w.at(SWEEP_EVERY_MS, sweepTick);
    };
    w.at(w.rng.int(0, SWEEP_EVERY_MS), sweepTick);
    const reassert = () => {
      if (this.consumers.some((c) => c.proc.alive)) this.schedulerPresent = true;
      w.at(SCHEDULE_REASSERT_MS, reassert);
    };
    w.at(w.rng.int(0, SCHEDULE_REASSERT_MS), reassert);
    const stalledCheck = () => {
      this.checkStalled();
      w.at(STALLED_INTERVAL_MS, stalledCheck);
    };
    w.at(w.rng.int(0, STALLED_INTERVAL_MS), stalledCheck);
    const chaos = () => {
      if (w.rng.chance(this.knobs.queue / 10)) this.flush();
      if (w.now < this.knobs.faultsEndMs) w.at(1_000, chaos);
    };
    w.at(1_000, chaos);
  }

  /**
   * A Redis command from `proc`: runs on arrival, its reply (or error) delivered back to `proc`. Under queue
   * faults a command can fail before it reaches Redis (a dropped connection): nothing applied.
   */
  command<T>(proc: Proc, exec: () => T): Promise<T> {
    const w = this.world;
    const sender = proc.incarnation;
    if (w.rng.chance(this.knobs.queue / 2)) {
      w.count('redis command failed');
      return Promise.reject(new Error('Connection is closed. (simulated)'));
    }
    w.inFlight++;
    return new Promise<T>((resolve, reject) => {
      w.at(this.knobs.redisLatency(), () => {
        w.inFlight--;
        try {
          const value = exec();
          w.deliver(proc, this.knobs.redisLatency(), () => resolve(value), sender);
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err));
          w.deliver(proc, this.knobs.redisLatency(), () => reject(error), sender);
        }
      });
    });
  }

  // ---- server side: what each command does in Redis ------------------------------------------------------

  /** BullMQ's add: ignored (false) while a job with this id exists. */
  add(name: string, data: TransferJobData, jobId: string): boolean {
    if (this.jobs.has(jobId)) return false;
    this.jobs.set(jobId, {
      id: jobId, name, data: { ...data }, state: 'waiting', token: null, holder: null, holderIncarnation: 0, dueAt: 0,
      attemptsStarted: 0, stalledCount: 0, lapsedAt: null,
    });
    this.world.log(() => `  queue: add ${jobId}`);
    this.toWaiting(jobId);
    return true;
  }

  state(jobId: string): JobState | 'unknown' {
    const job = this.jobs.get(jobId);
    if (!job) return 'unknown';
    return job.state === 'waiting' ? 'waiting' : job.state;
  }

  retryFailed(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (!job || job.state !== 'failed') throw new Error(`job ${jobId} is not failed`);
    job.state = 'waiting';
    this.toWaiting(jobId);
  }

  private held(jobId: string, token: string): SimJob {
    const job = this.jobs.get(jobId);
    if (!job || job.state !== 'active' || job.token !== token) throw new MissingLockError(`Missing lock for job ${jobId}`);
    return job;
  }

  moveToDelayed(jobId: string, token: string, timestamp: number): void {
    const job = this.held(jobId, token);
    job.state = 'delayed';
    job.token = null;
    job.holder = null;
    job.dueAt = timestamp;
    const late = this.world.rng.chance(this.knobs.queue) ? this.world.rng.int(1_000, 30_000) : 0;
    if (late) this.world.count('delayed job promoted late');
    this.world.log(() => `  queue: ${jobId} delayed ${Math.round(timestamp - this.world.epochMs())} ms${late ? ` (promoted ${late} ms late)` : ''}`);
    this.world.at(Math.max(0, timestamp - this.world.epochMs()) + late, () => {
      const j = this.jobs.get(jobId);
      if (j === job && j.state === 'delayed' && j.dueAt === timestamp) this.toWaiting(jobId);
    });
  }

  moveToWait(jobId: string, token: string): number {
    const job = this.held(jobId, token);
    job.state = 'waiting';
    this.toWaiting(jobId);
    return 0;
  }

  complete(jobId: string, token: string): void {
    this.held(jobId, token);
    this.jobs.delete(jobId);
    this.world.log(() => `  queue: ${jobId} completed`);
  }

  fail(jobId: string, token: string): void {
    const job = this.held(jobId, token);
    job.state = 'failed';
    job.token = null;
    job.holder = null;
    this.world.log(() => `  queue: ${jobId} failed`);
  }

  /** The queue's Redis keys are gone: every job, and the sweeper's schedule until it is re-asserted. */
  flush(): void {
    this.jobs.clear();
    this.waiting = [];
    this.schedulerPresent = false;
    this.world.count('queue flushed');
    this.world.log(() => 'QUEUE FLUSHED: every job and the sweeper schedule are gone');
  }

  private toWaiting(jobId: string): void {
    const job = this.jobs.get(jobId)!;
    job.state = 'waiting';
    job.token = null;
    job.holder = null;
    if (this.world.rng.chance(this.knobs.queue)) {
      this.jobs.delete(jobId);
      this.world.count('job lost');
      this.world.log(() => `QUEUE LOST job ${jobId}`);
      return;
    }
    this.waiting.push(jobId);
    this.pump();
  }

  /** Hands waiting jobs to workers with a free slot, as their blocking fetches would. */
  pump(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    this.world.at(this.knobs.redisLatency(), () => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    const w = this.world;
    while (this.waiting.length) {
      const ready = this.consumers.filter((c) => c.proc.alive && !w.paused(c.proc) && c.freeSlots() > 0);
      if (!ready.length) return;
      const jobId = this.waiting.shift()!;
      const job = this.jobs.get(jobId);
      if (!job || job.state !== 'waiting') continue;
      const consumer = w.rng.pick(ready);
      job.state = 'active';
      job.lapsedAt = null;
      job.token = `tok-${++this.tokens}`;
      job.holder = consumer;
      job.holderIncarnation = consumer.proc.incarnation;
      job.attemptsStarted++;
      w.log(() => `  queue: ${jobId} → ${consumer.proc.name} (attempt ${job.attemptsStarted}, ${job.token})`);
      consumer.start(job, job.token);
    }
  }

  /**
   * A worker's run of the job ended (the processor returned or threw): it no longer renews the lock. If the
   * job is still active under that token (every move failed), the lock lapses and the stalled check takes it.
   */
  runEnded(jobId: string, token: string): void {
    const job = this.jobs.get(jobId);
    if (job && job.state === 'active' && job.token === token) job.lapsedAt = this.world.now;
  }

  /** Jobs whose lock lapsed (holder crashed or paused past half the lock, or a lost lock) go back to waiting. */
  private checkStalled(): void {
    const w = this.world;
    for (const job of this.jobs.values()) {
      if (job.state !== 'active' || !job.holder) continue;
      const p = job.holder.proc;
      const gone = p.incarnation !== job.holderIncarnation && w.now - p.crashedAt >= LOCK_MS / 2;
      const stuck = w.paused(p) && w.now - p.pausedAt >= LOCK_MS / 2;
      const lapsed = job.lapsedAt !== null && w.now - job.lapsedAt >= LOCK_MS / 2;
      const lockLost = w.rng.chance(this.knobs.queue * 2);
      if (!gone && !stuck && !lapsed && !lockLost) continue;
      const why = gone ? 'holder crashed' : stuck ? 'holder paused, still running it' : lapsed ? 'left active by its run' : 'lock lost';
      job.stalledCount++;
      this.world.count(`stalled job redelivered (${why})`);
      w.log(() => `  queue: ${job.id} stalled (${why}), count ${job.stalledCount}`);
      if (job.stalledCount > MAX_STALLED_COUNT) {
        job.state = 'failed';
        job.token = null;
        job.holder = null;
      } else {
        this.toWaiting(job.id);
      }
    }
    this.pump();
  }
}

/** A process's view of the queue: what the sweeper is given (BullMQ's Queue in production). */
export class SimQueueClient implements SweeperQueue {
  constructor(
    private readonly world: World,
    private readonly queue: SimQueue,
    private readonly proc: Proc,
  ) {}

  add(name: string, data: TransferJobData, opts: { jobId?: string }): Promise<unknown> {
    const jobId = opts.jobId;
    if (!jobId) return Promise.reject(new Error('the saga always names its jobs'));
    return this.queue.command(this.proc, () => {
      // The API adds each job once; any other add is the sweeper re-enqueueing an overdue transfer.
      if (this.queue.add(name, data, jobId) && this.proc.name !== 'api') this.world.count('sweeper re-enqueued a transfer');
    });
  }

  getJobState(jobId: string): Promise<JobState | 'unknown'> {
    return this.queue.command(this.proc, () => this.queue.state(jobId));
  }

  getJob(jobId: string): Promise<{ retry(state: 'failed'): Promise<void> } | undefined> {
    return this.queue.command(this.proc, () =>
      this.queue.jobs.has(jobId)
        ? {
            retry: () =>
              this.queue.command(this.proc, () => {
                this.queue.retryFailed(jobId);
                this.world.count('sweeper retried a failed job');
              }),
          }
        : undefined,
    );
  }
}
