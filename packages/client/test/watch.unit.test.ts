// watchTransfer against a scripted local server: states in order until a final one, a dropped connection
// resumed with Last-Event-ID, a busy server (503) retried after Retry-After, a refusal thrown with its body,
// and a caller that stops early releasing the connection.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TransferEventsError, watchTransfer, type Transfer } from '../src/index.ts';

const REQ_ID = '0b45e5e0-8f17-4c58-b5f5-c9982981e7a3';
type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
let server: http.Server | undefined;
const seen: http.IncomingHttpHeaders[] = [];

async function serve(...script: Handler[]): Promise<string> {
  seen.length = 0;
  server = http.createServer((req, res) => {
    seen.push(req.headers);
    const next = script.shift();
    if (!next) throw new Error('unscripted request');
    next(req, res);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

const event = (version: number, state: string) =>
  `event: state\nid: ${version}\ndata: ${JSON.stringify({ req_id: REQ_ID, state })}\n\n`;
const stream = (res: http.ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream' });

async function collect(it: AsyncGenerator<Transfer, void>): Promise<string[]> {
  const states: string[] = [];
  for await (const t of it) states.push(t.state);
  return states;
}

describe('watchTransfer', () => {
  it('yields each state until a final one, sending the token; heartbeats are not events', async () => {
    const base = await serve((_req, res) => {
      stream(res);
      res.write(': heartbeat\n\n' + event(1, 'init') + event(2, 'source_pending'));
      setTimeout(() => res.end(event(5, 'committed')), 20);
    });
    expect(await collect(watchTransfer({ baseUrl: `${base}/`, token: () => 'tok' }, REQ_ID))).toEqual(['init', 'source_pending', 'committed']);
    expect(seen[0]).toMatchObject({ authorization: 'Bearer tok', accept: 'text/event-stream' });
  });

  it('resumes a dropped stream with Last-Event-ID, and retries a busy server after Retry-After', async () => {
    const base = await serve(
      (_req, res) => {
        stream(res);
        res.write(event(3, 'target_pending'));
        setTimeout(() => res.destroy(), 20);
      },
      (_req, res) => res.writeHead(503, { 'retry-after': '1', 'content-type': 'application/json' }).end('{"error":"shutting down, retry later"}'),
      (_req, res) => {
        stream(res);
        res.end(event(4, 'finalizing') + event(5, 'committed'));
      },
    );
    expect(await collect(watchTransfer({ baseUrl: base }, REQ_ID, { reconnectMs: 10 }))).toEqual(['target_pending', 'finalizing', 'committed']);
    expect(seen.map((h) => h['last-event-id'])).toEqual([undefined, '3', '3']);
  });

  it('throws a refusal with its status and body', async () => {
    const base = await serve((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Transfer not found"}'));
    const err = await collect(watchTransfer({ baseUrl: base }, REQ_ID)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransferEventsError);
    expect(err).toMatchObject({ status: 404, body: { error: 'Transfer not found' } });
  });

  it('releases the connection when the caller stops early', async () => {
    let closed!: () => void;
    const hungUp = new Promise<void>((resolve) => (closed = resolve));
    const base = await serve((req, res) => {
      stream(res);
      res.write(event(1, 'init'));
      req.socket.on('close', closed);
    });
    for await (const t of watchTransfer({ baseUrl: base }, REQ_ID)) {
      expect(t.state).toBe('init');
      break;
    }
    await hungUp;
  });
});
