// The one way this product writes conditionally (LWT): send once, never retry blind, and settle an unknown
// outcome with a SERIAL read, which completes any Paxos round in flight and shows what the row holds now.
import type { ResultSet } from './client.ts';
import { CorruptRowError, definitelyNotApplied, storeError, UnknownOutcomeError } from './errors.ts';

export type ConditionalResult<T> =
  /** Cassandra answered: `rs.wasApplied()` says whether the condition held (and `rs` holds the current row if not). */
  | { settled: false; rs: ResultSet }
  /** The outcome was unknown; `value` is what the SERIAL read found, from which the caller tells who won. */
  | { settled: true; value: T };

/**
 * Runs `write`. An error after which it certainly did not apply is a StoreUnavailableError; any other error is
 * an unknown outcome, settled by `settle` (a SERIAL read). If that read fails too, UnknownOutcomeError; a corrupt row met while settling passes through unchanged.
 */
export async function conditionalWrite<T>(
  write: () => Promise<ResultSet>,
  settle: () => Promise<T>,
  what: string,
): Promise<ConditionalResult<T>> {
  try {
    return { settled: false, rs: await write() };
  } catch (err) {
    if (definitelyNotApplied(err)) throw storeError(err, what);
    try {
      return { settled: true, value: await settle() };
    } catch (settleErr) {
      if (settleErr instanceof CorruptRowError) throw settleErr;
      throw new UnknownOutcomeError(`outcome of ${what} is unknown`, { cause: [err, settleErr] });
    }
  }
}
