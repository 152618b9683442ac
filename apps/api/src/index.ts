export { startApi, type ApiOverrides, type RunningApi } from './app.ts';
export { createAuthenticator, type Authenticator, type AuthOutcome } from './auth.ts';
export { parseTransferBody, requestHash, type TransferRequest } from './validation.ts';
export { DOCS_PATH, EVENTS_PATH, OPENAPI_PATH, openApiDocument, SSE_DATA_EXTENSION, type OpenApiDocument } from './openapi.ts';
