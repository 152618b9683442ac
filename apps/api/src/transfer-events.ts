// GET /api/v1/transfer/{req_id}/events: a transfer's live status as Server-Sent Events. The current state at
// once, then each state change, closing after a final state. Authenticated and authorised like the GET (a
// `fetch` with `Authorization: Bearer`: EventSource cannot send headers, and a token in the URL would end up
// in access logs and browser history). State changes arrive through Redis from the workers (TransitionHub);
// every heartbeat also re-reads the row from Cassandra, the source of truth, so a lost message or a Redis
// outage only delays a stream. The row's version orders everything: nothing older than what was sent is sent.
import express, { type Response } from 'express';
import { isState, isTerminal } from '@it/fsm';
import type { Logger } from '@it/observability';
import type { TransitionMessage } from '@it/queue';
import { throttledWarn } from '@it/runtime';
import type { TransferRecord, TransferStore } from '@it/store';
import { callerOf, requireCaller, type Authenticator } from './auth.ts';
import { STREAM_RETRY_AFTER_S, type StreamLease, type StreamLimits } from './stream-limits.ts';
import type { TransitionHub } from './transition-hub.ts';
import { parseReqId } from './validation.ts';
import { sendGetError, transferView } from './wire.ts';

export interface TransferEventsDeps {
  store: Pick<TransferStore, 'get'>;
  auth: Authenticator;
  hub: TransitionHub;
  limits: StreamLimits;
  heartbeatMs: number;
  logger: Logger;
}

export interface TransferEvents {
  router: express.Router;
  /** Ends every open stream (shutdown): clients reconnect, to another replica. */
  close(): void;
}

/** `Last-Event-ID` of a reconnecting client: the version it last saw. */
function lastEventId(value: string | undefined): number {
  return value !== undefined && /^[0-9]{1,15}$/.test(value) ? Number(value) : -1;
}

export function transferEventsRouter(deps: TransferEventsDeps): TransferEvents {
  const { store, hub, limits } = deps;
  const warn = throttledWarn(deps.logger);
  const open = new Set<() => void>();
  let closed = false;
  const router = express.Router();

  router.get('/api/v1/transfer/:req_id/events', requireCaller(deps.auth, 'read'), async (req, res) => {
    const reqId = parseReqId(req.params.req_id);
    if (reqId === undefined) return sendGetError(res, 400, 'Invalid req_id format');
    res.locals.reqId = reqId;
    if (closed || !limits.enterProcess()) {
      res.set('retry-after', String(STREAM_RETRY_AFTER_S));
      return sendGetError(res, 503, closed ? 'shutting down, retry later' : 'too many open event streams on this server, retry later');
    }

    let latest: TransferRecord | undefined;
    let sentVersion = lastEventId(req.get('last-event-id'));
    let sentState: string | undefined;
    let early: TransitionMessage | undefined;
    let lease: StreamLease | undefined;
    let unlisten: (() => void) | undefined;
    let heartbeat: NodeJS.Timeout | undefined = undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(heartbeat);
      unlisten?.();
      lease?.release();
      limits.leaveProcess();
      open.delete(end);
    };
    const end = () => {
      finish();
      if (!res.writableEnded) res.end();
    };
    open.add(end);
    res.on('close', finish);

    /** Sends `next` if it is newer than what was sent and in another state; ends the stream at a final state. */
    const offer = (next: TransferRecord) => {
      if (done || (latest && next.version <= latest.version)) return;
      latest = next;
      // A reconnecting client (Last-Event-ID) is not sent again what it saw.
      if (next.version > sentVersion) {
        sentVersion = next.version;
        if (next.state !== sentState) {
          sentState = next.state;
          send(res, next);
        }
      }
      if (isTerminal(next.state)) end();
    };
    const onMessage = (m: TransitionMessage) => {
      if (!isState(m.state)) return warn(new Error(`unknown state ${m.state}`), 'transition message ignored');
      if (!latest) {
        // Before the first read: kept (the newest) and applied on top of it.
        if (!early || m.version > early.version) early = m;
        return;
      }
      offer({ ...latest, state: m.state, version: m.version, error: m.error, attempt: m.attempt, updatedAt: m.updatedAt });
    };

    let first: TransferRecord;
    try {
      // Listening before reading: a transition between the read and the subscription cannot be missed.
      const stop = await hub.listen(reqId, onMessage);
      if (done) return stop(); // the client left meanwhile
      unlisten = stop;
      const record = await store.get(reqId);
      const { userId } = callerOf(res);
      // Another user's transfer is indistinguishable from a missing one, as on GET.
      if (!record || (userId !== undefined && record.userId !== userId)) {
        finish();
        return sendGetError(res, 404, 'Transfer not found');
      }
      const admitted = await limits.admitUser(record.userId);
      if (!admitted) {
        finish();
        res.set('retry-after', String(STREAM_RETRY_AFTER_S));
        return sendGetError(res, 429, 'too many open event streams for this user');
      }
      if (done) return admitted.release();
      lease = admitted;
      first = record;
    } catch (err) {
      // The error handler answers (503 storage unavailable, 500): nothing was streamed yet.
      finish();
      throw err;
    }

    res.status(200).set({ 'content-type': 'text/event-stream; charset=utf-8', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    offer(first);
    if (early) onMessage(early);
    if (done) return;
    let resyncing = false;
    heartbeat = setInterval(() => {
      res.write(': heartbeat\n\n');
      lease?.refresh();
      if (resyncing) return;
      resyncing = true;
      store
        .get(reqId)
        .then((r) => (r ? offer(r) : end()), (err: unknown) => warn(err, 'event stream: resync from Cassandra failed'))
        .finally(() => (resyncing = false));
    }, deps.heartbeatMs);
  });

  return {
    router,
    close() {
      closed = true;
      for (const end of [...open]) end();
    },
  };
}

function send(res: Response, record: TransferRecord): void {
  res.write(`event: state\nid: ${record.version}\ndata: ${JSON.stringify(transferView(record))}\n\n`);
}
