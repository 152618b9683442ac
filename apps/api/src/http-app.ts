// The public Express app: request log, probes, the transfer routes, and one error handler that turns every
// failure into the route's error shape without leaking internals. Operations surfaces are on the ops listener.
import express, { type NextFunction, type Request, type Response } from 'express';
import { CorruptRowError, InvalidPagingStateError, StoreUnavailableError } from '@it/cassandra';
import type { HttpRequestMetric, Logger } from '@it/observability';
import { clientError, requestMetrics } from '@it/runtime';
import { InvalidTransferError } from '@it/store';
import { corsFor } from './cors.ts';
import { sendGetError, sendPostError } from './wire.ts';

const STORAGE_UNAVAILABLE = 'storage unavailable, retry later';

export interface HttpAppParts {
  health: express.Router;
  transfers: express.Router;
  /** GET /api/v1/transfer/{req_id}/events (transfer-events.ts). */
  events: express.Router;
  /** GET /api/v1/openapi.json and /api/docs (api-docs.ts). */
  docs: express.Router;
  /** CORS_ORIGINS: browser origins allowed to call /api; empty: CORS off. */
  corsOrigins: readonly string[];
  bodyLimit: string;
  logger: Logger;
  /** `internal_transfer_http_request_duration_seconds`: every request, by route template and status. */
  httpRequests: HttpRequestMetric;
}

/** One line per request: warn on 5xx, debug otherwise. Responses are never cached. */
function requestLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const t0 = process.hrtime.bigint();
    res.set('cache-control', 'no-store');
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const line = { method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms), req_id: res.locals.reqId as unknown };
      if (res.statusCode >= 500) logger.warn(line, 'request');
      else logger.debug(line, 'request');
    });
    next();
  };
}

/**
 * Express 5 routes rejected promises here. Nothing a client sends may crash the process or leak internals:
 * the details go to the log, with the transfer's req_id when there is one.
 */
function errorHandler(bodyLimit: string, logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const send = (status: number, message: string) =>
      req.method === 'POST' ? sendPostError(res, status, message) : sendGetError(res, status, message);
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    const mistake = clientError(err, bodyLimit);
    if (mistake) return send(mistake.status, mistake.message);
    if (err instanceof InvalidTransferError) return send(400, err.message);
    if (err instanceof InvalidPagingStateError) return send(400, 'cursor is not a value this API returned');
    const log = logger.child({ req_id: res.locals.reqId as unknown, method: req.method, path: req.path });
    if (err instanceof StoreUnavailableError) {
      log.error({ err }, 'storage unavailable');
      res.set('retry-after', '1');
      return send(503, STORAGE_UNAVAILABLE);
    }
    log.error({ err }, err instanceof CorruptRowError ? 'corrupt transfer row' : 'request failed');
    send(500, 'internal error');
  };
}

export function createHttpApp(parts: HttpAppParts): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(requestMetrics(parts.httpRequests));
  app.use(requestLog(parts.logger));
  if (parts.corsOrigins.length) app.use('/api', corsFor(parts.corsOrigins));
  app.use(parts.health);
  app.use(parts.transfers);
  app.use(parts.events);
  app.use(parts.docs);
  app.use((req, res) => {
    if (req.method === 'POST') sendPostError(res, 404, `no route ${req.method} ${req.path}`);
    else sendGetError(res, 404, 'Not found');
  });
  app.use(errorHandler(parts.bodyLimit, parts.logger));
  return app;
}
