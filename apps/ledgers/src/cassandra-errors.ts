import cassandra from 'cassandra-driver';

const { types } = cassandra;

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

/**
 * Errors after which a conditional write certainly did not apply (same rule as @it/store's transfer store).
 * Everything else — timeouts above all — is an unknown outcome that must be settled by a SERIAL read.
 */
export function definitelyNotApplied(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: number }).code;
  const rc = types.responseErrorCodes;
  if (code === rc.unavailableException || code === rc.syntaxError || code === rc.invalid || code === rc.unauthorized) {
    return true;
  }
  if (err instanceof cassandra.errors.NoHostAvailableError) {
    return Object.values(err.innerErrors as Record<string, unknown>).every(
      (e) => e instanceof Error && 'requestNotWritten' in e && (e as { requestNotWritten?: boolean }).requestNotWritten === true,
    );
  }
  return false;
}
