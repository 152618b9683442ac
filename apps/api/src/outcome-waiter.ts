// The synchronous wait of POST /transfer: one QueueEvents per process (one blocking XREAD connection), two
// listeners (`completed`, `failed`) dispatching to the requests waiting on that job id. An event only says
// "look now": the answer is always read back from Cassandra, the source of truth.
import type { QueueEvents } from 'bullmq';

export interface Watch {
  /** Resolves when the job finished or `ms` passed, whichever comes first; never rejects. */
  wait(ms: number): Promise<'finished' | 'timeout'>;
  cancel(): void;
}

export class OutcomeWaiter {
  private readonly waiting = new Map<string, Set<() => void>>();
  /** Kept alongside the map: read on every POST (SYNC_WAIT_MAX_WAITING), so it must not walk the map. */
  private count = 0;
  private readonly onFinished = ({ jobId }: { jobId: string }) => {
    const set = this.waiting.get(jobId);
    if (!set) return;
    this.waiting.delete(jobId);
    this.count -= set.size;
    for (const notify of set) notify();
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
    let finished = false;
    let wake: (() => void) | undefined;
    const notify = () => {
      finished = true;
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
          return Promise.resolve(finished ? 'finished' : 'timeout');
        }
        return new Promise((resolve) => {
          const timer = setTimeout(() => {
            cancel();
            resolve('timeout');
          }, ms);
          wake = () => {
            clearTimeout(timer);
            resolve('finished');
          };
        });
      },
    };
  }

  close(): void {
    this.events.off('completed', this.onFinished);
    this.events.off('failed', this.onFinished);
    // Release whoever still waits: they read the store and answer with what is there.
    for (const set of this.waiting.values()) for (const notify of set) notify();
    this.waiting.clear();
    this.count = 0;
  }
}
