// Serves the example frontend (`npm start` runs it on EXAMPLE_PORT, default 8090): the page, its script (the
// typed client bundled for the browser by esbuild at start-up) and `config.json` (where the API is, and a
// development token for the demo user). Development only: it hands out a token, so it refuses to start
// unless NODE_ENV is development or test. The API must list this origin in CORS_ORIGINS.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { closeServer, listen } from '@it/runtime';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface ExampleSettings {
  host: string;
  /** 0 for any free port. */
  port: number;
  apiUrl: string;
  token: string;
  userId: string;
  assetId: number;
}

export interface ExampleServer {
  url: string;
  close(): Promise<void>;
}

async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(here, 'src/main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

export async function startExampleServer(settings: ExampleSettings): Promise<ExampleServer> {
  const files: Record<string, { type: string; body: string }> = {
    '/': { type: 'text/html; charset=utf-8', body: fs.readFileSync(path.join(here, 'index.html'), 'utf8') },
    '/style.css': { type: 'text/css; charset=utf-8', body: fs.readFileSync(path.join(here, 'style.css'), 'utf8') },
    '/app.js': { type: 'text/javascript; charset=utf-8', body: await bundle() },
    '/config.json': {
      type: 'application/json',
      body: JSON.stringify({ apiUrl: settings.apiUrl, token: settings.token, userId: settings.userId, assetId: settings.assetId }),
    },
  };
  // The page talks to nothing but itself and the API.
  const csp = `default-src 'self'; connect-src 'self' ${new URL(settings.apiUrl).origin}; frame-ancestors 'none'`;
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0]!;
    // Browsers ask for one; the example has none.
    if (url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const file = req.method === 'GET' ? files[url] : undefined;
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store', 'content-security-policy': csp });
    res.end(file.body);
  });
  const port = await listen(server, settings.port, settings.host);
  return { url: `http://${settings.host}:${port}/`, close: () => closeServer(server, 0) };
}

async function main(): Promise<void> {
  if (process.env.NODE_ENV !== 'development' && process.env.NODE_ENV !== 'test') {
    throw new Error('the example frontend hands out a development token: it runs only with NODE_ENV=development or test');
  }
  const env = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
  };
  const server = await startExampleServer({
    host: process.env.EXAMPLE_HOST ?? '127.0.0.1',
    port: Number(process.env.EXAMPLE_PORT ?? 8090),
    apiUrl: env('EXAMPLE_API_URL'),
    token: env('EXAMPLE_TOKEN'),
    userId: env('EXAMPLE_USER_ID'),
    assetId: Number(process.env.EXAMPLE_ASSET_ID ?? 1),
  });
  console.log(`[example] ${server.url}`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error('[example]', err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
