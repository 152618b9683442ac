// The synchronous wait of POST /transfer: one QueueEvents per process (one blocking XREAD connection), two
// listeners (`completed`, `failed`) dispatching to the requests waiting on that job id. An event says "look
// now", with what the job returned: the terminal state it found the transfer in, or nothing.
import type { QueueEvents } from 'bullmq';

export type WaitResult =
  /** The job ended; `returned` is its return value (a step job's: the transfer's terminal state), if it completed. */
  | { kind: 'finished'; returned: unknown }
  | { kind: 'timeout' };

export interface Watch {
  /** Resolves when the job finished or `ms` passed, whichever comes first; never rejects. */
  wait(ms: number): Promise<WaitResult>;
  cancel(): void;
}

type Notify = (returned: unknown) => void;

export class OutcomeWaiter {
  private readonly waiting = new Map<string, Set<Notify>>();
  /** Kept alongside the map: read on every POST (SYNC_WAIT_MAX_WAITING), so it must not walk the map. */
  private count = 0;
  private readonly onFinished = ({ jobId, returnvalue }: { jobId: string; returnvalue?: unknown }) => {
    const set = this.waiting.get(jobId);
    if (!set) return;
    this.waiting.delete(jobId);
    this.count -= set.size;
    for (const notify of set) notify(returnvalue);
  };

  constructor(private readonly events: QueueEvents) {
    events.on('completed', this.onFinished);
    events.on('failed', this.onFinished);
  }

  /** Requests currently waiting: the sync-wait cap. */
  get size(): number {
    return this.count;
  }

  /**
   * Starts listening before the job is added, so a job that finishes at once is not missed. A job that goes
   * through delayed/wait several times (the worker re-queues it between steps) emits neither event until
   * its final run ends.
   */
  watch(jobId: string): Watch {
    let finished: { kind: 'finished'; returned: unknown } | undefined;
    let wake: (() => void) | undefined;
    const notify: Notify = (returned) => {
      finished = { kind: 'finished', returned };
      wake?.();
    };
    let set = this.waiting.get(jobId);
    if (!set) this.waiting.set(jobId, (set = new Set()));
    set.add(notify);
    this.count++;
    const cancel = () => {
      const s = this.waiting.get(jobId);
      // Not there any more once its job finished (onFinished counted it out) or close() released it.
      if (!s?.delete(notify)) return;
      this.count--;
      if (s.size === 0) this.waiting.delete(jobId);
    };
    return {
      cancel,
      wait: (ms) => {
        if (finished || ms <= 0) {
          cancel();
          return Promise.resolve(finished ?? { kind: 'timeout' });
        }
        return new Promise((resolve) => {
          const timer = setTimeout(() => {
            cancel();
            resolve({ kind: 'timeout' });
          }, ms);
          wake = () => {
            clearTimeout(timer);
            resolve(finished!);
          };
        });
      },
    };
  }

  close(): void {
    this.events.off('completed', this.onFinished);
    this.events.off('failed', this.onFinished);
    // Release whoever still waits: they read the store and answer with what is there.
    for (const set of this.waiting.values()) for (const notify of set) notify(undefined);
    this.waiting.clear();
    this.count = 0;
  }
}
