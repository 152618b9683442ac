/** Input outside what the schema can hold (amount, asset id, user id, accounts). */
export class InvalidTransferError extends Error {
  override name = 'InvalidTransferError';
}

/** A paging cursor this store did not hand out (forged, truncated, or from another listing). */
export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError';
}
