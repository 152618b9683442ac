// What can go wrong talking to Cassandra, as typed errors. Driver error codes are read here and nowhere else.
import cassandra from 'cassandra-driver';
import { Int64RangeError } from './client.ts';

/** Cassandra could not be reached or did not answer in time; the caller's request did not complete. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A conditional write whose outcome could not be settled: the write timed out and the SERIAL read that
 * should have told whether it applied failed too. The row must be read again before anything else.
 */
export class UnknownOutcomeError extends StoreUnavailableError {
  override name = 'UnknownOutcomeError';
}

/** A paging state the caller sent back is not one Cassandra issued for this query (forged or stale). */
export class InvalidPagingStateError extends Error {
  override name = 'InvalidPagingStateError';
  constructor(options?: { cause?: unknown }) {
    super('paging state is not one this query returned', options);
  }
}

/** A row holds a value this code does not know (a state, a kind, a service name). Never mapped to a default. */
export class CorruptRowError extends Error {
  override name = 'CorruptRowError';
}

/**
 * Errors after which a conditional write certainly did not apply: the statement was refused before it ran, or
 * never left the client. Everything else is an unknown outcome. Unavailable is not in the list: on a Paxos v1
 * cluster the commit phase can fail after a proposal was accepted, which a later round then completes.
 */
export function definitelyNotApplied(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  // Refused by our own range check before encoding: nothing was sent.
  if (err instanceof Int64RangeError) return true;
  const code = (err as { code?: number }).code;
  const rc = cassandra.types.responseErrorCodes;
  if (code === rc.syntaxError || code === rc.invalid || code === rc.unauthorized) return true;
  // The driver found no host to send to: nothing left the client when every host either refused the request
  // before writing it or could not even be connected to.
  if (err instanceof cassandra.errors.NoHostAvailableError) {
    return Object.values(err.innerErrors as Record<string, unknown>).every((e) => {
      const inner = e as { requestNotWritten?: unknown; syscall?: unknown } | null;
      return e instanceof Error && (inner?.requestNotWritten === true || inner?.syscall === 'connect');
    });
  }
  return false;
}

/**
 * The statement named a keyspace or table that does not exist (yet): a schema that was never migrated, not an
 * outage. Cassandra answers "Invalid" with the name in its message.
 */
export function isMissingSchema(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err as { code?: number }).code === cassandra.types.responseErrorCodes.invalid &&
    /^(keyspace|table) \S+ does not exist|unconfigured table/i.test(err.message)
  );
}

/**
 * The typed error for a failed statement: errors already typed pass through; a paged read refused as a
 * protocol error means the paging state was not Cassandra's; anything else is unavailability.
 */
export function storeError(err: unknown, what: string, opts: { paged?: boolean } = {}): Error {
  // An out-of-range value is a bug to see (a 500), never "storage unavailable, retry".
  if (
    err instanceof StoreUnavailableError || err instanceof CorruptRowError || err instanceof InvalidPagingStateError ||
    err instanceof Int64RangeError
  ) {
    return err;
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  if (opts.paged && code === cassandra.types.responseErrorCodes.protocolError) return new InvalidPagingStateError({ cause: err });
  return new StoreUnavailableError(`cassandra: ${what} failed`, { cause: err });
}
