import cassandra from 'cassandra-driver';

/** Cassandra could not be reached or did not answer in time; the caller's request did not complete. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A conditional write whose outcome could not be settled: the write timed out and the SERIAL read that
 * should have told us whether it applied failed too. The transfer must be re-read before anything else.
 */
export class UnknownOutcomeError extends StoreUnavailableError {
  override name = 'UnknownOutcomeError';
}

/** A row holds a value this code does not know (a state, a service name). Never mapped to a default. */
export class CorruptRowError extends Error {
  override name = 'CorruptRowError';
}

/** Input outside what the schema can hold (amount, asset id, user id). */
export class InvalidTransferError extends Error {
  override name = 'InvalidTransferError';
}

/** Errors after which a conditional write certainly did not apply. Everything else is an unknown outcome. */
export function definitelyNotApplied(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: number }).code;
  const rc = cassandra.types.responseErrorCodes;
  if (code === rc.unavailableException || code === rc.syntaxError || code === rc.invalid || code === rc.unauthorized) {
    return true;
  }
  // The driver found no host to send to: nothing left the client.
  if (err instanceof cassandra.errors.NoHostAvailableError) {
    return Object.values(err.innerErrors as Record<string, unknown>).every(
      (e) => e instanceof Error && 'requestNotWritten' in e && (e as { requestNotWritten?: boolean }).requestNotWritten === true,
    );
  }
  return false;
}
