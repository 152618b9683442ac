// The HTTP adapter: talks the contract in docs/adapter-contract.md to any Funding or Trading service.
// Only a well-formed business refusal is `failed`; everything the adapter cannot prove is `pending`.
import { Pool } from 'undici';
import { z } from 'zod';
import { failed, pending, success, type Movement, type Outcome } from '@it/domain';
import { errorMessage, sleep } from '@it/runtime';
import type { LedgerAdapter, LedgerReader } from './types.ts';

export interface HttpAdapterOptions {
  /** 'funding', 'trading' or a custom service's name, for logs and metrics. */
  name: string;
  /** The service's base URL, e.g. `http://127.0.0.1:8081` or `https://ledger.internal/funding`. */
  baseUrl: string;
  /** Deadline of one adapter call, retries included. */
  timeoutMs: number;
  /** Extra attempts inside one call after an error that is safe and cheap to retry at once. Default 1, max 3. */
  retries?: number;
  /** Keep-alive connections to the service. Default 32. */
  connections?: number;
  /** Sent with every request, e.g. an Authorization header for a real service. */
  headers?: Record<string, string>;
}

/** Replies bigger than this are not a reply of this contract. */
const MAX_REPLY_BYTES = 64 * 1024;
const RETRY_DELAY_MS = 25;

const reasonSchema = z.string().min(1).max(500);
const opReplySchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('success') }),
  z.object({ status: z.literal('failed'), reason: reasonSchema }),
]);
/** The query reply read in full (docs/adapter-contract.md, Reconciliation). */
const int64String = z.string().regex(/^[1-9][0-9]{0,18}$/).transform((v) => BigInt(v));
const lookupReplySchema = z.object({
  kind: z.string().min(1).max(40),
  status: z.enum(['success', 'failed', 'pending']),
  state: z.string().min(1).max(40).nullable().optional(),
  reason: z.string().min(1).max(500).nullable().optional(),
  user_id: int64String.nullable().optional(),
  asset_id: z.number().int().positive().nullable().optional(),
  amount: int64String.nullable().optional(),
});
const queryReplySchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('success') }),
  z.object({ status: z.literal('failed'), reason: reasonSchema }),
  z.object({ status: z.literal('pending') }),
]);

/** Status codes with which a service states a definite business refusal (with a `failed` body). */
const REFUSAL_CODES = new Set([409, 422]);
/** Errors after which the request was certainly not processed, or a gateway/overload answer: retried at once. */
const RETRY_CODES = new Set([502, 503, 504]);
const RETRY_ERRORS = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  // A reset can also hit a request the service processed (its reply lost); a retry is still safe because
  // every operation is idempotent by req_id and the service answers a replay with the same definite result.
  'ECONNRESET',
  'UND_ERR_SOCKET',
  'EPIPE',
]);

type Attempt =
  | { kind: 'reply'; status: number; body: unknown; raw: string }
  | { kind: 'error'; code: string; message: string };

class ReplyTooLarge extends Error {}

export function createHttpAdapter(opts: HttpAdapterOptions): LedgerAdapter & LedgerReader {
  const url = new URL(opts.baseUrl);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${opts.name}: baseUrl must be http(s)`);
  if (!(opts.timeoutMs > 0)) throw new Error(`${opts.name}: timeoutMs must be positive`);
  const retries = Math.min(Math.max(opts.retries ?? 1, 0), 3);
  const prefix = url.pathname.replace(/\/+$/, '');
  const pool = new Pool(url.origin, {
    connections: opts.connections ?? 32,
    keepAliveTimeout: 10_000,
    connect: { timeout: Math.min(opts.timeoutMs, 5_000) },
    // The call's own deadline (an AbortSignal) bounds everything; these only stop a stuck socket.
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
  });

  async function once(method: 'GET' | 'POST', path: string, body: string | undefined, signal: AbortSignal): Promise<Attempt> {
    try {
      const res = await pool.request({
        method,
        path: prefix + path,
        headers: {
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
        ...(body !== undefined ? { body } : {}),
        signal,
      });
      let raw = '';
      try {
        let size = 0;
        const chunks: Buffer[] = [];
        for await (const chunk of res.body) {
          const buf = chunk as Buffer;
          size += buf.length;
          if (size > MAX_REPLY_BYTES) throw new ReplyTooLarge();
          chunks.push(buf);
        }
        raw = Buffer.concat(chunks).toString('utf8');
      } catch (err) {
        res.body.destroy();
        if (err instanceof ReplyTooLarge) return { kind: 'reply', status: res.statusCode, body: undefined, raw: '<too large>' };
        throw err;
      }
      let parsed: unknown;
      try {
        parsed = raw ? JSON.parse(raw) : undefined;
      } catch {
        parsed = undefined;
      }
      return { kind: 'reply', status: res.statusCode, body: parsed, raw };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return {
        kind: 'error',
        code: signal.aborted ? 'TIMEOUT' : typeof code === 'string' ? code : 'UNKNOWN',
        message: errorMessage(err),
      };
    }
  }

  async function call(method: 'GET' | 'POST', path: string, payload: unknown): Promise<Attempt> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
    const body = payload === undefined ? undefined : JSON.stringify(payload);
    try {
      let attempt = await once(method, path, body, controller.signal);
      for (let i = 0; i < retries && !controller.signal.aborted; i++) {
        const retry =
          attempt.kind === 'error' ? RETRY_ERRORS.has(attempt.code) : RETRY_CODES.has(attempt.status);
        if (!retry) break;
        await sleep(RETRY_DELAY_MS * (1 + Math.random()));
        if (controller.signal.aborted) break;
        attempt = await once(method, path, body, controller.signal);
      }
      return attempt;
    } finally {
      clearTimeout(timer);
    }
  }

  function notDefinite(a: Attempt): Outcome {
    if (a.kind === 'error') {
      return a.code === 'TIMEOUT'
        ? pending(`${opts.name}: no reply within ${opts.timeoutMs} ms`, 'timeout')
        : pending(`${opts.name}: ${a.code} ${a.message}`, 'connection_error');
    }
    // 400 means this caller sent something the service could not read: a bug on our side, not a refusal of
    // the operation, which the service never considered. Retrying later (after a fix) is the only safe path.
    return pending(`${opts.name}: unexpected reply HTTP ${a.status}: ${a.raw.slice(0, 200)}`, a.status >= 500 ? 'server_error' : 'bad_reply');
  }

  async function op(path: string, payload: object): Promise<Outcome> {
    const a = await call('POST', path, payload);
    if (a.kind !== 'reply') return notDefinite(a);
    const parsed = opReplySchema.safeParse(a.body);
    if (!parsed.success) return notDefinite(a);
    const reply = parsed.data;
    // The status code and the body must agree: a proxy's 200 or 422 page is not the service's answer.
    if (a.status === 200 && reply.status === 'success') return success();
    if (REFUSAL_CODES.has(a.status) && reply.status === 'failed') return failed(reply.reason);
    return notDefinite(a);
  }

  const movement = (o: Movement) => ({
    req_id: o.reqId,
    user_id: o.userId.toString(),
    asset_id: o.assetId,
    amount: o.amount.toString(),
  });

  return {
    name: opts.name,
    withdraw: (o) => op('/v1/withdraw', movement(o)),
    deposit: (o) => op('/v1/deposit', movement(o)),
    commit: (reqId) => op('/v1/commit', { req_id: reqId }),
    rollback: (reqId) => op('/v1/rollback', { req_id: reqId }),
    async query(reqId) {
      const a = await call('GET', `/v1/ops/${encodeURIComponent(reqId)}`, undefined);
      if (a.kind !== 'reply' || a.status !== 200) return notDefinite(a);
      const parsed = queryReplySchema.safeParse(a.body);
      if (!parsed.success) return notDefinite(a);
      const reply = parsed.data;
      switch (reply.status) {
        case 'success':
          return success();
        case 'failed':
          return failed(reply.reason);
        case 'pending':
          return pending(`${opts.name}: ${reqId} is still in flight`, 'in_flight');
      }
    },
    async lookup(reqId) {
      const a = await call('GET', `/v1/ops/${encodeURIComponent(reqId)}`, undefined);
      if (a.kind === 'reply' && a.status === 404 && (a.body as { status?: unknown } | undefined)?.status === 'not_found') {
        return { kind: 'not_found' };
      }
      const parsed = a.kind === 'reply' && a.status === 200 ? lookupReplySchema.safeParse(a.body) : undefined;
      if (!parsed?.success) {
        const outcome = notDefinite(a);
        return { kind: 'unknown', detail: outcome.kind === 'pending' ? outcome.detail : 'no answer' };
      }
      const r = parsed.data;
      return {
        kind: 'found',
        op: {
          opKind: r.kind, status: r.status, state: r.state ?? null, reason: r.reason ?? null,
          userId: r.user_id ?? null, assetId: r.asset_id ?? null, amount: r.amount ?? null,
        },
      };
    },
    async close() {
      await pool.close();
    },
  };
}
