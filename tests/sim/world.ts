// The simulated world's clock and scheduler: virtual milliseconds, one priority queue of events, processes that
// crash (every await they were stopped at is dropped, with their in-memory state) and pause (every
// continuation waits until the pause ends). Nothing here reads the real clock or Math.random: the seed decides
// every latency, fault and tie, so a run is replayed exactly from its seed.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Rng } from './rng.ts';

/** Virtual time zero, as the simulated Date clocks show it. */
export const EPOCH_MS = Date.UTC(2026, 0, 1);

interface Event {
  t: number;
  /** Random tie-break: events due at the same virtual time run in an order the seed picks. */
  k: number;
  fn: () => void;
}

/** A simulated OS process: a worker, a ledger service, the API. */
export class Proc {
  /** Bumped at every crash: continuations scheduled for an older incarnation are dropped. */
  incarnation = 0;
  alive = true;
  pausedUntil = 0;
  crashedAt = 0;
  pausedAt = 0;
  /** Run at a crash: a service resets the connections of the requests it was handling. */
  readonly onCrash = new Set<() => void>();

  constructor(readonly name: string) {}
}

export class World {
  now = 0;
  events = 0;
  /** Requests sent and not yet executed by their server: the world is quiet only when this is 0. */
  inFlight = 0;
  /** Continuations scheduled for a process and not yet run or dropped (a paused process keeps them). */
  deliveries = 0;
  /** How often each kind of adversity happened: what a run (or a search) covered. */
  readonly coverage = new Map<string, number>();
  private heap: Event[] = [];
  /** Set when the trace is printed (`npm run sim -- --seed S`); null keeps labels from being built at all. */
  trace: ((line: string) => void) | null = null;
  /** Chaos at an await: may crash or pause the process a continuation is about to resume in. */
  interrupt: ((proc: Proc) => void) | null = null;

  constructor(readonly rng: Rng) {}

  count(what: string): void {
    this.coverage.set(what, (this.coverage.get(what) ?? 0) + 1);
  }

  date(): Date {
    return new Date(EPOCH_MS + this.now);
  }

  epochMs(): number {
    return EPOCH_MS + this.now;
  }

  log(line: () => string): void {
    if (this.trace) this.trace(`${(this.now / 1000).toFixed(4).padStart(10)}s  ${line()}`);
  }

  /** Runs `fn` `delay` virtual ms from now. */
  at(delay: number, fn: () => void): void {
    const ev: Event = { t: this.now + Math.max(0, delay), k: this.rng.u32(), fn };
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(ev, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = ev;
  }

  /**
   * Runs `fn` in `proc` `delay` ms from now: dropped if it crashed meanwhile, deferred while it is paused.
   * `interrupt` may crash or pause the process right there: a process can be stopped at any await.
   * A reply to a request passes the incarnation that sent it: a restarted process never gets its
   * predecessor's replies.
   */
  deliver(proc: Proc, delay: number, fn: () => void, incarnation = proc.incarnation): void {
    let interrupted = false;
    this.deliveries++;
    const run = () => {
      if (proc.incarnation === incarnation && proc.alive && !interrupted && this.interrupt) {
        interrupted = true;
        this.interrupt(proc);
      }
      if (proc.incarnation !== incarnation || !proc.alive) {
        this.deliveries--;
        return;
      }
      if (proc.pausedUntil > this.now) {
        this.at(proc.pausedUntil - this.now, run);
        return;
      }
      this.deliveries--;
      fn();
    };
    this.at(delay, run);
  }

  /** An await in `proc` that resumes `ms` later (never, if the process crashes first). */
  sleep(proc: Proc, ms: number): Promise<void> {
    return new Promise((resolve) => this.deliver(proc, ms, resolve));
  }

  crash(proc: Proc): void {
    if (!proc.alive) return;
    proc.alive = false;
    proc.incarnation++;
    proc.crashedAt = this.now;
    this.count('process stopped at an await');
    this.log(() => `CRASH ${proc.name}: every await it was stopped at is gone`);
    const hooks = [...proc.onCrash];
    proc.onCrash.clear();
    for (const hook of hooks) hook();
  }

  restart(proc: Proc): void {
    proc.alive = true;
    proc.pausedUntil = 0;
    this.log(() => `RESTART ${proc.name}`);
  }

  pause(proc: Proc, ms: number): void {
    if (!proc.alive || proc.pausedUntil > this.now) return;
    proc.pausedAt = this.now;
    proc.pausedUntil = this.now + ms;
    this.count(ms >= 30_000 ? 'pause past the lock and lease' : 'short pause');
    this.log(() => `PAUSE ${proc.name} for ${ms} ms (stop-the-world: nothing in it runs, its locks are not renewed)`);
  }

  paused(proc: Proc): boolean {
    return proc.pausedUntil > this.now;
  }

  pending(): number {
    return this.heap.length;
  }

  /**
   * Runs events until `stop()` or the queue is empty. After each event the microtask queue is drained (one
   * macrotask turn), so every continuation the event woke has run up to its next simulated await before the
   * next event is picked: the interleaving is the scheduler's, never the host's.
   */
  async run(stop: () => boolean, afterEvent: () => void): Promise<void> {
    const h = this.heap;
    while (h.length && !stop()) {
      const ev = h[0]!;
      const last = h.pop()!;
      if (h.length) {
        let i = 0;
        const n = h.length;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= n) break;
          const r = l + 1;
          const c = r < n && before(h[r]!, h[l]!) ? r : l;
          if (!before(h[c]!, last)) break;
          h[i] = h[c]!;
          i = c;
        }
        h[i] = last;
      }
      this.now = ev.t;
      this.events++;
      ev.fn();
      await nextTurn();
      afterEvent();
    }
  }
}

function before(a: Event, b: Event): boolean {
  return a.t < b.t || (a.t === b.t && a.k < b.k);
}
