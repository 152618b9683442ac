// Request metrics label a request by the route template it matched, never by its raw path.
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiMetrics } from '@it/observability';
import { requestMetrics } from '../src/request-metrics.ts';

const metrics = createApiMetrics();
let base = '';
let close: () => void = () => undefined;

beforeAll(async () => {
  const app = express();
  app.use(requestMetrics(metrics.httpRequests));
  const router = express.Router();
  router.get('/items/:id', (_req, res) => {
    res.json({ ok: true });
  });
  router.get(['/livez', '/healthz'], (_req, res) => {
    res.end('ok');
  });
  router.post('/boom', () => {
    throw new Error('boom');
  });
  app.use(router);
  app.use('/nested', express.Router().get('/thing', (_req, res) => res.status(202).end()));
  app.use((_req, res) => {
    res.status(404).end();
  });
  app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).end();
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
});
afterAll(() => close());

async function counts(): Promise<Record<string, number>> {
  const { values } = await metrics.httpRequests.get();
  return Object.fromEntries(
    values
      .filter((v) => v.metricName?.endsWith('_count'))
      .map((v) => [`${String(v.labels.method)} ${String(v.labels.route)} ${String(v.labels.status)}`, v.value]),
  );
}

describe('requestMetrics', () => {
  it('counts by method, route template and status; unmatched paths share one series', async () => {
    for (const path of ['/items/1', '/items/2', '/livez', '/healthz', '/nested/thing', '/nope', '/other/nope']) await (await fetch(base + path)).text();
    await (await fetch(`${base}/boom`, { method: 'POST' })).text();
    // The observation is made when the response closes, just after the client has it.
    await new Promise((r) => setTimeout(r, 50));
    // Each route seen gets its 500 and 503 series at zero (a first server error then counts in rate()).
    expect(await counts()).toEqual({
      'GET /items/:id 200': 2,
      'GET /items/:id 500': 0,
      'GET /items/:id 503': 0,
      'GET /livez|/healthz 200': 2,
      'GET /livez|/healthz 500': 0,
      'GET /livez|/healthz 503': 0,
      'GET /nested/thing 202': 1,
      'GET /nested/thing 500': 0,
      'GET /nested/thing 503': 0,
      'GET unmatched 404': 2,
      'GET unmatched 500': 0,
      'GET unmatched 503': 0,
      'POST /boom 500': 1,
      'POST /boom 503': 0,
    });
  });
});
