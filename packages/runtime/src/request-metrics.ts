// Request metrics for every Express app of the product: one histogram observation per request, labelled by
// the route template it matched (never the raw path, which would make one series per req_id).
import type { NextFunction, Request, Response } from 'express';
import type { HttpRequestMetric } from '@it/observability';

/**
 * The server errors the product answers. Their series are created at zero the first time a route is seen, so
 * rate() counts a route's first 500 or 503 too (a series born at 1 shows no increase).
 */
const SERVER_ERRORS = ['500', '503'];

/** The matched route's template, e.g. `/api/v1/transfer/:req_id`; `unmatched` when no route answered. */
export function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  // A route declared for several paths (`['/livez', '/healthz']`) is one route.
  const template = Array.isArray(path) && path.every((p) => typeof p === 'string') ? path.join('|') : path;
  return typeof template === 'string' ? `${req.baseUrl}${template}` : 'unmatched';
}

export function requestMetrics(histogram: HttpRequestMetric) {
  const seen = new Set<string>();
  return (req: Request, res: Response, next: NextFunction) => {
    const end = histogram.startTimer();
    // `close` also fires when the client goes away first (and at the end of a long-lived stream).
    res.once('close', () => {
      const route = routeOf(req);
      const key = `${req.method} ${route}`;
      if (!seen.has(key)) {
        seen.add(key);
        for (const status of SERVER_ERRORS) histogram.zero({ method: req.method, route, status });
      }
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}
