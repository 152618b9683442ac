/** Input outside what the schema can hold (amount, asset id, user id, accounts). */
export class InvalidTransferError extends Error {
  override name = 'InvalidTransferError';
}
