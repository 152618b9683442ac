export { startApi, type ApiOverrides, type RunningApi } from './app.ts';
export { createAuthenticator, type Authenticator, type AuthOutcome } from './auth.ts';
export { parseTransferBody, requestHash, type TransferRequest } from './validation.ts';
