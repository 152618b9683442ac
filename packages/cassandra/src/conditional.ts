// The one way this product writes conditionally (LWT): send once, never retry blind, and settle an unknown
// outcome with a SERIAL read, which completes any Paxos round in flight and shows what the row holds now.
import type { ResultSet } from './client.ts';
import { CorruptRowError, definitelyNotApplied, storeError, UnknownOutcomeError } from './errors.ts';

export type ConditionalResult<T> =
  /** Cassandra answered: `applied` says whether the condition held (and `rs` holds the current row if not). */
  | { settled: false; applied: boolean; rs: ResultSet }
  /** The outcome was unknown; `value` is what the SERIAL read found, from which the caller tells who won. */
  | { settled: true; value: T };

/**
 * `[applied]` as Cassandra sent it, or undefined when the reply does not say (no row, no such column, not a
 * boolean). The driver's `wasApplied()` answers true in those cases; a money service must not.
 */
export function appliedOf(rs: ResultSet): boolean | undefined {
  const row = rs.first() as { get(name: string): unknown } | null;
  const applied = row?.get('[applied]');
  return typeof applied === 'boolean' ? applied : undefined;
}

/**
 * Runs `write`. An error after which it certainly did not apply is a StoreUnavailableError; any other error,
 * or a reply that does not say whether it applied, is an unknown outcome, settled by `settle` (a SERIAL read).
 * If that read fails too, UnknownOutcomeError; a corrupt row met while settling passes through unchanged.
 */
export async function conditionalWrite<T>(
  write: () => Promise<ResultSet>,
  settle: () => Promise<T>,
  what: string,
): Promise<ConditionalResult<T>> {
  let cause: unknown;
  try {
    const rs = await write();
    const applied = appliedOf(rs);
    if (applied !== undefined) return { settled: false, applied, rs };
    cause = new Error(`${what}: the reply does not say whether it applied`);
  } catch (err) {
    if (definitelyNotApplied(err)) throw storeError(err, what);
    cause = err;
  }
  try {
    return { settled: true, value: await settle() };
  } catch (settleErr) {
    if (settleErr instanceof CorruptRowError) throw settleErr;
    throw new UnknownOutcomeError(`outcome of ${what} is unknown`, { cause: [cause, settleErr] });
  }
}
