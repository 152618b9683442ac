// One reference ledger's HTTP surface (docs/adapter-contract.md). Funding and Trading are the same app
// over different rows; the ledger name selects two-phase (freeze) or single-phase (debit) semantics.
import express from 'express';
import { createLedgerMetrics } from '@it/observability';
import { jsonBody, requestMetrics, serveMetrics } from '@it/runtime';
import { adminRoutes, type AdminOptions } from './admin.ts';
import { errorHandler, notFound } from './http-errors.ts';
import { contractRoutes, healthRoutes } from './routes.ts';

export interface LedgerAppOptions extends AdminOptions {
  /** What the orchestrator presents on every `/v1/*` endpoint but the admin ones (LEDGER_SERVICE_TOKEN). */
  serviceToken: string;
}

const BODY_LIMIT = '16kb';

export function createLedgerApp(opts: LedgerAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Each ledger is scraped on its own port, like the probes: request counts and latency by route and status.
  const metrics = createLedgerMetrics(opts.ledger);
  app.get('/metrics', serveMetrics(metrics.registry, opts.logger));
  app.use(requestMetrics(metrics.httpRequests));
  app.use(jsonBody(BODY_LIMIT));
  app.use(contractRoutes(opts));
  app.use(adminRoutes(opts));
  app.use(healthRoutes(opts));
  app.use(notFound);
  app.use(errorHandler(opts.logger, BODY_LIMIT));
  return app;
}
