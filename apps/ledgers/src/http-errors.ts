// What a failed request becomes on the wire. Nothing a client sends may crash the process, and no reply
// leaks a driver message: 400/413 name the client's mistake, 500 is a corrupt row, 503 is store trouble.
import type { ErrorRequestHandler, Request, Response } from 'express';
import type { z } from 'zod';
import { CorruptRowError, StoreUnavailableError } from '@it/cassandra';
import type { Logger } from '@it/observability';
import { clientError } from '@it/runtime';
import { describeIssues } from './schemas.ts';

/** A request that fails validation; its message names the field. */
export class BadRequest extends Error {}

export function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new BadRequest(describeIssues(r.error));
  return r.data;
}

export function notFound(req: Request, res: Response): void {
  res.status(404).json({ status: 'not_found', error: `no route ${req.method} ${req.path}` });
}

/** Express 5 routes rejected promises here. `bodyLimit` is the JSON parser's, for the 413 message. */
export function errorHandler(logger: Logger, bodyLimit: string): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    if (err instanceof BadRequest) {
      res.status(400).json({ status: 'invalid', error: err.message });
      return;
    }
    const mistake = clientError(err, bodyLimit);
    if (mistake) {
      res.status(mistake.status).json({ status: 'invalid', error: mistake.message });
      return;
    }
    // Set by the fault wrapper: route params and body are not reliable here.
    const reqId: unknown = res.locals.reqId;
    if (err instanceof CorruptRowError) {
      logger.error({ req_id: reqId, err }, 'corrupt ledger row: operation stopped');
      res.status(500).json({ status: 'error', error: 'internal error' });
      return;
    }
    logger.error({ req_id: reqId, err }, err instanceof StoreUnavailableError ? 'store unavailable' : 'request failed');
    res.status(503).set('retry-after', '1').json({ status: 'error', error: 'ledger temporarily unavailable' });
  };
}
