// CORS for the exchange's web frontend: only the configured origins (CORS_ORIGINS, exact matches) get the
// headers that let a browser read the API's answers; with none configured, no CORS header is ever sent.
// No cookies are involved (the token travels in Authorization), so credentials stay off.
import cors from 'cors';
import type { RequestHandler } from 'express';

export const CORS_ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Idempotency-Key', 'Prefer', 'Last-Event-ID'];

export function corsFor(origins: readonly string[]): RequestHandler {
  return cors({
    origin: [...origins],
    methods: ['GET', 'POST'],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    // A 429 or 503 tells the frontend how long to wait; a POST whether respond-async was honoured.
    exposedHeaders: ['Retry-After', 'Preference-Applied'],
    // Browsers cap this (Chromium at 2 h); 10 min keeps a configuration change from lingering long.
    maxAge: 600,
  });
}
