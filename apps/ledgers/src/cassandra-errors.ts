/** Cassandra could not be reached, or a write's outcome could not be settled: the request did not complete. */
export class LedgerUnavailableError extends Error {
  override name = 'LedgerUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A stored row holds a value this code does not know. Never mapped to a default. */
export class CorruptLedgerRowError extends Error {
  override name = 'CorruptLedgerRowError';
}

// The rule for conditional writes is the transfer store's: one definition for both.
export { definitelyNotApplied } from '@it/store';
