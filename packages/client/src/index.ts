// The typed client of the public API, for browsers and Node alike: openapi-fetch over the types that
// openapi-typescript generated from the API's OpenAPI document (schema.ts), plus `watchTransfer`, which
// reads a transfer's live status stream with fetch (EventSource cannot send the Authorization header).
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import type { components, paths } from './schema.ts';

export type { components, operations, paths } from './schema.ts';
export type Transfer = components['schemas']['Transfer'];
export type TransferState = Transfer['state'];
export type TransferRequest = components['schemas']['TransferRequest'];
export type TransferOutcome = components['schemas']['TransferOutcome'];
export type TransferPending = components['schemas']['TransferPending'];
export type TransferRefusal = components['schemas']['TransferRefusal'];
export type TransferPage = components['schemas']['TransferPage'];
export type TransferClient = Client<paths>;

export const FINAL_STATES: readonly TransferState[] = ['committed', 'rolled_back', 'failed'];

export interface ClientOptions {
  /** Where the API is, e.g. `https://api.exchange.example` (no trailing slash needed). */
  baseUrl: string;
  /** The bearer token, or a function giving the current one (called per request, so it may refresh). */
  token?: string | (() => string | Promise<string>);
  /** Another fetch (tests, instrumentation). */
  fetch?: typeof globalThis.fetch;
}

async function tokenOf(token: ClientOptions['token']): Promise<string | undefined> {
  return typeof token === 'function' ? token() : token;
}

/**
 * The API's operations, typed from the document:
 * `client.POST('/api/v1/transfer', { body, params: { header: { 'Idempotency-Key': key } } })`,
 * `client.GET('/api/v1/transfer/{req_id}', { params: { path: { req_id } } })`, …
 */
export function createTransferClient(options: ClientOptions, ...middleware: Middleware[]): TransferClient {
  const fetchImpl = options.fetch;
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    ...(fetchImpl ? { fetch: (request: Request) => fetchImpl(request) } : {}),
  });
  if (options.token !== undefined) {
    const token = options.token;
    client.use({
      async onRequest({ request }) {
        const value = await tokenOf(token);
        if (value !== undefined) request.headers.set('authorization', `Bearer ${value}`);
        return request;
      },
    });
  }
  client.use(...middleware);
  return client;
}

/** A refusal of the events stream (400, 401, 404, 429…): reconnecting would not help. */
export class TransferEventsError extends Error {
  override name = 'TransferEventsError';
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`events stream refused: HTTP ${status}`);
  }
}

export interface WatchOptions {
  signal?: AbortSignal;
  /** The id of the last event already seen (a previous watch's): that state is not sent again. */
  lastEventId?: string;
  /** Pause before reconnecting after a dropped connection; default 1 s. */
  reconnectMs?: number;
}

const sleep = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    }, { once: true });
  });

/** Seconds of a Retry-After header as milliseconds, bounded; `fallback` when absent or unreadable. */
function retryAfterMs(response: Response, fallback: number): number {
  const seconds = Number(response.headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 60) * 1000 : fallback;
}

/**
 * The transfer's states as they happen: the current one at once, then each change, ending after a final
 * state (`committed`, `rolled_back`, `failed`). A dropped connection or a server that is shutting down or
 * full (503) is reconnected to, with `Last-Event-ID`, so nothing is seen twice; any other refusal throws a
 * TransferEventsError.
 */
export async function* watchTransfer(options: ClientOptions, reqId: string, watch: WatchOptions = {}): AsyncGenerator<Transfer, void> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const url = `${options.baseUrl.replace(/\/+$/, '')}/api/v1/transfer/${encodeURIComponent(reqId)}/events`;
  const reconnectMs = watch.reconnectMs ?? 1_000;
  const { signal } = watch;
  let lastEventId = watch.lastEventId;
  for (;;) {
    const headers = new Headers({ accept: 'text/event-stream' });
    const token = await tokenOf(options.token);
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    if (lastEventId !== undefined) headers.set('last-event-id', lastEventId);
    let response: Response;
    try {
      response = await fetchImpl(url, { headers, signal });
    } catch (err) {
      if (signal?.aborted) throw err;
      await sleep(reconnectMs, signal);
      continue;
    }
    if (response.status === 503) {
      await response.body?.cancel();
      await sleep(retryAfterMs(response, reconnectMs), signal);
      continue;
    }
    if (!response.ok || !response.body) {
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
      throw new TransferEventsError(response.status, body);
    }
    // A reader rather than `for await` over the stream, which not every browser supports yet.
    const reader = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
    try {
      for (;;) {
        const { done, value: event } = await reader.read();
        if (done) break;
        if (event.event !== 'state') continue;
        if (event.id !== undefined) lastEventId = event.id;
        const transfer = JSON.parse(event.data) as Transfer;
        yield transfer;
        if (FINAL_STATES.includes(transfer.state)) return;
      }
    } catch (err) {
      if (signal?.aborted) throw err;
      // The connection dropped mid-stream: reconnect below.
    } finally {
      // Also when the caller stops iterating early: the connection is released.
      reader.cancel().catch(() => undefined);
    }
    await sleep(reconnectMs, signal);
  }
}
