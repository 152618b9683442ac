// Listening and closing HTTP servers, the probe/metrics listener, and what a body parser's error means.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@it/observability';

/** Binds `server`; resolves with the port it got (tests pass 0). */
export function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting, lets requests in flight finish for up to graceMs, then cuts what is left. */
export function closeServer(server: http.Server, graceMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    // Keep-alive connections that finish their request become idle: close them as they do.
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    cut.unref();
    server.close(() => {
      clearInterval(idle);
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** What the probe server needs of a prom-client registry. */
export interface MetricsSource {
  contentType: string;
  metrics(): Promise<string>;
}

/** `GET /metrics` as a plain request handler: the probe server's and any Express ops app's. */
export function serveMetrics(registry: MetricsSource, logger: Logger): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (_req, res) => {
    registry.metrics().then(
      (text) => {
        res.setHeader('content-type', registry.contentType);
        res.end(text);
      },
      (err: unknown) => {
        logger.error({ err }, 'metrics collection failed');
        res.statusCode = 500;
        res.end();
      },
    );
  };
}

/**
 * The operations listener of a process: `GET /metrics`, and with `ready`, the probes `/livez` (the process
 * answers) and `/readyz` (it can do its work).
 */
export function createProbeServer(opts: { registry: MetricsSource; logger: Logger; ready?: () => boolean }): http.Server {
  const { ready } = opts;
  const metrics = serveMetrics(opts.registry, opts.logger);
  return http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      metrics(req, res);
      return;
    }
    if (req.method === 'GET' && ready && path === '/livez') {
      res.end('ok');
      return;
    }
    if (req.method === 'GET' && ready && path === '/readyz') {
      const isReady = ready();
      res.statusCode = isReady ? 200 : 503;
      res.end(isReady ? 'ready' : 'not ready');
      return;
    }
    res.statusCode = 404;
    res.end();
  });
}

/**
 * The client's mistake behind an error Express or a body parser raised (http-errors carry a 4xx `status`: a
 * body too large or not JSON, a malformed percent-escape in the path…), as a status and a message naming what
 * was wrong; undefined for any other error, which is the server's.
 */
export function clientError(err: unknown, bodyLimit: string): { status: number; message: string } | undefined {
  const e = err as { type?: unknown; status?: unknown; expose?: unknown; message?: unknown } | null | undefined;
  if (typeof e?.status !== 'number' || e.status < 400 || e.status >= 500) return undefined;
  switch (e.type) {
    case 'entity.too.large':
      return { status: 413, message: `body is larger than ${bodyLimit}` };
    case 'entity.parse.failed':
      return { status: 400, message: 'body: not valid JSON' };
    case undefined:
      // The router's own (e.g. "Failed to decode param …"): its message is meant for the client.
      return { status: e.status, message: typeof e.message === 'string' && e.expose !== false ? e.message : 'bad request' };
    default:
      return { status: e.status === 415 ? 415 : 400, message: `body could not be read (${String(e.type)})` };
  }
}
