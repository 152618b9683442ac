// The chaos run's seeded choices (which fault, when, on what; which user, which way, how much), from the same
// PRNG the ledgers' fault injection uses. Real processes keep their own timing, so a seed replays the
// schedule and the load, not every interleaving.
import { mulberry32 } from '../../apps/ledgers/src/faults.ts';

export class Random {
  private readonly next: () => number;

  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform in [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** A 32-bit seed for something else (a ledger's fault PRNG). */
  seedFor(): number {
    return Math.floor(this.next() * 2 ** 32);
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}
