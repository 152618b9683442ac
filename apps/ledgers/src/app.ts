// One reference ledger's HTTP surface (docs/adapter-contract.md). Funding and Trading are the same app
// over different rows; the ledger name selects two-phase (freeze) or single-phase (debit) semantics.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { CorruptLedgerRowError, LedgerUnavailableError } from './cassandra-errors.ts';
import { faultSettingsBody, faultsToWire, type Faults } from './faults.ts';
import { REASONS, type LedgerAnswer, type LedgerName, type LedgerStore, type OpView } from './ledger-store.ts';
import { balanceParams, creditBody, describeIssues, movementBody, reqIdBody, reqIdSchema } from './schemas.ts';

export interface LedgerAppOptions {
  ledger: LedgerName;
  store: LedgerStore;
  faults: Faults;
  adminToken: string;
  logger: Logger;
}

class BadRequest extends Error {}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new BadRequest(describeIssues(r.error));
  return r.data;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

function sendAnswer(res: Response, reqId: string, a: LedgerAnswer): void {
  switch (a.status) {
    case 'success':
      res.status(200).json({ req_id: reqId, status: 'success', state: a.state });
      return;
    case 'failed':
      res.status(a.reason === REASONS.conflict ? 409 : 422).json({ req_id: reqId, status: 'failed', reason: a.reason });
      return;
    case 'not_found':
      res.status(404).json({ req_id: reqId, status: 'not_found' });
      return;
    case 'in_flight':
      res.status(503).set('retry-after', '1').json({ req_id: reqId, status: 'pending', reason: 'withdraw_in_flight' });
      return;
  }
}

function viewToWire(v: OpView) {
  return {
    req_id: v.reqId,
    kind: v.kind,
    status: v.status,
    state: v.state,
    ...(v.reason !== null ? { reason: v.reason } : {}),
    user_id: v.userId?.toString() ?? null,
    asset_id: v.assetId,
    amount: v.amount?.toString() ?? null,
  };
}

export function createLedgerApp(opts: LedgerAppOptions): express.Express {
  const { ledger, store, faults, logger } = opts;
  const adminDigest = sha256(opts.adminToken);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json({ limit: '16kb' }));

  /**
   * Fault injection around one operation (validated already, so a malformed request is answered 400 whatever
   * the faults): latency, an error before anything is applied, and, after the operation applied, a lost
   * response (the socket is destroyed: the caller sees a reset).
   */
  async function withFaults(
    req: Request,
    res: Response,
    apply: (refuse: string | undefined) => Promise<(res: Response) => void>,
  ): Promise<void> {
    // For the error handler's log line: route params and body are not reliable there.
    res.locals.reqId = (req.body as { req_id?: unknown } | undefined)?.req_id ?? req.params.req_id;
    const draw = faults.draw();
    if (draw.delayMs > 0) await sleep(draw.delayMs);
    if (draw.error) {
      res.status(503).json({ status: 'error', error: 'injected error: nothing was applied' });
      return;
    }
    const reply = await apply(draw.refuse ? REASONS.injected : undefined);
    if (draw.drop) {
      logger.debug({ path: req.path }, 'fault: applied, dropping the response');
      req.socket.destroy();
      return;
    }
    reply(res);
  }

  app.post('/v1/withdraw', async (req, res) => {
    const b = parse(movementBody, req.body);
    const m = { reqId: b.req_id, userId: b.user_id, assetId: b.asset_id, amount: b.amount };
    await withFaults(req, res, async (refuse) => {
      const a = await store.movement(ledger, 'withdraw', m, refuse ? { refuse } : {});
      logger.debug({ req_id: m.reqId, op: 'withdraw', answer: a }, 'withdraw');
      return (r) => sendAnswer(r, m.reqId, a);
    });
  });

  app.post('/v1/deposit', async (req, res) => {
    const b = parse(movementBody, req.body);
    const m = { reqId: b.req_id, userId: b.user_id, assetId: b.asset_id, amount: b.amount };
    await withFaults(req, res, async (refuse) => {
      const a = await store.movement(ledger, 'deposit', m, refuse ? { refuse } : {});
      logger.debug({ req_id: m.reqId, op: 'deposit', answer: a }, 'deposit');
      return (r) => sendAnswer(r, m.reqId, a);
    });
  });

  for (const action of ['commit', 'rollback'] as const) {
    app.post(`/v1/${action}`, async (req, res) => {
      const { req_id: reqId } = parse(reqIdBody, req.body);
      // Refusal faults are for new withdraws and deposits only: a ledger that refuses to commit or roll back
      // a freeze it holds is broken, not busy.
      await withFaults(req, res, async () => {
        const a = await (action === 'commit' ? store.commit(ledger, reqId) : store.rollback(ledger, reqId));
        logger.debug({ req_id: reqId, op: action, answer: a }, action);
        return (r) => sendAnswer(r, reqId, a);
      });
    });
  }

  app.get('/v1/ops/:req_id', async (req, res) => {
    const reqId = parse(reqIdSchema, req.params.req_id);
    await withFaults(req, res, async () => {
      const view = await store.query(ledger, reqId);
      return (r) => {
        if (view) r.status(200).json(viewToWire(view));
        else r.status(404).json({ req_id: reqId, status: 'not_found' });
      };
    });
  });

  app.get('/v1/balances/:user_id/:asset_id', async (req, res) => {
    const p = parse(balanceParams, req.params);
    const b = await store.balance(ledger, p.user_id, p.asset_id);
    res.json({
      ledger,
      user_id: p.user_id.toString(),
      asset_id: p.asset_id,
      available: b.available.toString(),
      frozen: b.frozen.toString(),
    });
  });

  // ---- admin ------------------------------------------------------------------------------------------

  function requireAdmin(req: Request, res: Response, next: NextFunction) {
    const m = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    // Compare digests: constant time, and the token's length is not revealed either.
    if (!m?.[1] || !timingSafeEqual(sha256(m[1]), adminDigest)) {
      res.status(401).set('www-authenticate', 'Bearer').json({ status: 'unauthorized', error: 'admin bearer token required' });
      return;
    }
    next();
  }

  app.post('/v1/admin/credit', requireAdmin, async (req, res) => {
    const b = parse(creditBody, req.body);
    const reqId = b.req_id ?? randomUUID();
    const a = await store.movement(ledger, 'credit', { reqId, userId: b.user_id, assetId: b.asset_id, amount: b.amount });
    logger.info({ req_id: reqId, user_id: b.user_id.toString(), asset_id: b.asset_id, amount: b.amount.toString(), answer: a }, 'admin credit');
    sendAnswer(res, reqId, a);
  });

  app.get('/v1/admin/faults', requireAdmin, (_req, res) => {
    res.json({ ledger, ...faultsToWire(faults.get()) });
  });

  app.put('/v1/admin/faults', requireAdmin, (req, res) => {
    const b = parse(faultSettingsBody, req.body);
    faults.set({
      latencyMs: b.latency_ms,
      latencyJitterMs: b.latency_jitter_ms,
      errorRate: b.error_rate,
      dropResponseRate: b.drop_response_rate,
      refuseRate: b.refuse_rate,
      seed: b.seed ?? faults.get().seed,
    });
    logger.warn({ faults: faults.get() }, 'fault injection changed');
    res.json({ ledger, ...faultsToWire(faults.get()) });
  });

  app.get('/v1/admin/stats', requireAdmin, (_req, res) => {
    res.json({ ...store.counters });
  });

  // ---- health -----------------------------------------------------------------------------------------

  // Liveness: the process answers. `/healthz` is the same, for tools that expect that name.
  app.get(['/livez', '/healthz'], (_req, res) => {
    res.json({ status: 'ok', ledger });
  });

  app.get('/readyz', async (_req, res) => {
    try {
      await store.ping();
      res.json({ status: 'ready', ledger });
    } catch {
      res.status(503).json({ status: 'unavailable', ledger });
    }
  });

  app.use((req, res) => {
    res.status(404).json({ status: 'not_found', error: `no route ${req.method} ${req.path}` });
  });

  // Express 5 routes rejected promises here. Nothing a client sends may crash the process or leak internals.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    if (err instanceof BadRequest) {
      res.status(400).json({ status: 'invalid', error: err.message });
      return;
    }
    const bodyError = err as { type?: unknown; status?: unknown };
    if (typeof bodyError.type === 'string' && typeof bodyError.status === 'number' && bodyError.status < 500) {
      const message =
        bodyError.type === 'entity.parse.failed'
          ? 'body: not valid JSON'
          : bodyError.type === 'entity.too.large'
            ? 'body: larger than 16kb'
            : `body: ${bodyError.type}`;
      res.status(bodyError.status).json({ status: 'invalid', error: message });
      return;
    }
    const reqId: unknown = res.locals.reqId;
    if (err instanceof CorruptLedgerRowError) {
      logger.error({ req_id: reqId, err }, 'corrupt ledger row: operation stopped');
      res.status(500).json({ status: 'error', error: 'internal error' });
      return;
    }
    logger.error({ req_id: reqId, err }, err instanceof LedgerUnavailableError ? 'store unavailable' : 'request failed');
    res.status(503).set('retry-after', '1').json({ status: 'error', error: 'ledger temporarily unavailable' });
  });

  return app;
}
