// The ops API on the ops listener, against the real Cassandra and Redis and a keyspace of its own (so the
// active index holds exactly this file's transfers): the active listing and its stuck filter, paging, one
// transfer with its history, retry-now, the shared operations credentials, and every call logged with the
// operator.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCassandraClient, migrate } from '@it/cassandra';
import { cassandraSettings } from '@it/config';
import { createLogger } from '@it/observability';
import { createRedisConnection, jobIdFor, TRANSFER_QUEUE, type TransferJobData } from '@it/queue';
import { openTransferStore, type TransferRecord } from '@it/store';
import { startApi, type RunningApi } from '../src/index.ts';
import { call, deletePrefix, OPS, REDIS_URL, testConfig } from './helpers.ts';

const keyspace = `ops_api_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
// The ledgers' URLs point where nothing listens: reconciliation can reach no ledger here.
const config = testConfig({
  CASSANDRA_KEYSPACE: keyspace, STUCK_AFTER_MS: '600000', OVERDUE_AFTER_MS: '30000',
  FUNDING_URL: 'http://127.0.0.1:9', TRADING_URL: 'http://127.0.0.1:9', ADAPTER_TIMEOUT_MS: '500',
});
const schemaDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../schema/transfer');
const admin = createCassandraClient(cassandraSettings(config));
const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
let api: RunningApi;
let ops: string;
let db: ReturnType<typeof openTransferStore>;
const connection = createRedisConnection(REDIS_URL, 'worker');
const queue = new Queue<TransferJobData>(TRANSFER_QUEUE, { connection, prefix: config.QUEUE_PREFIX });

beforeAll(async () => {
  await migrate(admin, { keyspace, replication: config.CASSANDRA_REPLICATION, dir: schemaDir });
  db = openTransferStore(cassandraSettings(config, keyspace));
  api = await startApi(config, { port: 0, metricsPort: 0, logger: createLogger('ops-api-test', 'info', sink), shutdownGraceMs: 1_000 });
  ops = `http://127.0.0.1:${api.metricsPort}`;
});
afterAll(async () => {
  await api?.close();
  await queue.close();
  connection.disconnect();
  await deletePrefix(config.QUEUE_PREFIX);
  await db?.client.shutdown();
  await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await admin.shutdown();
});

const auth = { authorization: `Basic ${Buffer.from(`${OPS.user}:${OPS.password}`).toString('base64')}` };
const get = (p: string) => call(`${ops}${p}`, { headers: auth });
const post = (p: string, body?: unknown) => call(`${ops}${p}`, { method: 'POST', headers: auth, ...(body !== undefined ? { body } : {}) });
const MIN = 60_000;
let user = BigInt(Date.now()) * 1000n + 900n;

/** A transfer created `ageMs` ago whose next attempt is `nextInMs` from now (negative: overdue). */
async function planted(ageMs: number, nextInMs: number, state?: 'source_pending' | 'failed'): Promise<TransferRecord> {
  const now = Date.now();
  const { record } = await db.store.create({
    reqId: randomUUID(), userId: user++, assetId: 1, amount: 100n, source: 'funding', target: 'trading',
    createdAt: new Date(now - ageMs), nextAttemptAt: new Date(now + nextInMs),
  });
  if (!state) return record;
  const moved = await db.store.compareAndSet({
    from: record, to: state, error: state === 'failed' ? 'insufficient_funds' : null, attempt: 0, nextAttemptAt: new Date(now + nextInMs),
  });
  if (!moved.applied) throw new Error('planting failed');
  return moved.record;
}

type Item = { req_id: string; state: string; stuck: string[]; age_seconds: number; overdue_seconds: number; next_attempt_at: string | null };
const ids = (items: unknown) => (items as Item[]).map((i) => i.req_id).sort();

describe('ops API', () => {
  const t: Record<string, TransferRecord> = {};
  beforeAll(async () => {
    t.fresh = await planted(0, 5 * MIN);
    t.old = await planted(20 * MIN, 5 * MIN);
    t.overdue = await planted(0, -2 * MIN);
    t.late = await planted(0, -10_000); // within the 30 s grace: not overdue yet
    t.pendingOverdue = await planted(MIN, -5 * MIN, 'source_pending');
    t.finished = await planted(30 * MIN, -30 * MIN, 'failed');
  });

  it('needs the operations credentials (the same as Bull Board)', async () => {
    expect((await call(`${ops}/ops/v1/transfers`)).status).toBe(401);
    const wrong = { authorization: `Basic ${Buffer.from(`${OPS.user}:nope`).toString('base64')}` };
    expect((await call(`${ops}/ops/v1/transfers`, { headers: wrong })).status).toBe(401);
    // Cross-origin writes are refused, as on Bull Board.
    const cross = await call(`${ops}/ops/v1/transfers/${t.fresh!.reqId}/retry`, { method: 'POST', headers: { ...auth, origin: 'https://evil.example' } });
    expect(cross.status).toBe(403);
  });

  it('lists exactly the active transfers, from the active index, with age, state, attempt, reason and next attempt', async () => {
    const res = await get('/ops/v1/transfers');
    expect(res.status).toBe(200);
    const active = [t.fresh, t.old, t.overdue, t.late, t.pendingOverdue].map((r) => r!.reqId).sort();
    expect(ids(res.body.items)).toEqual(active);
    expect(res.body.next_cursor).toBeNull();
    const old = (res.body.items as Item[]).find((i) => i.req_id === t.old!.reqId)!;
    expect(old).toMatchObject({ state: 'init', attempt: 0, last_reason: null, stuck: ['old'], overdue_seconds: 0 });
    expect(old.age_seconds).toBeGreaterThanOrEqual(20 * 60);
    expect(old.next_attempt_at).toBe(t.old!.nextAttemptAt!.toISOString());
  });

  it('stuck=true returns exactly the old or overdue ones, each with its reason', async () => {
    const res = await get('/ops/v1/transfers?stuck=true');
    expect(ids(res.body.items)).toEqual([t.old, t.overdue, t.pendingOverdue].map((r) => r!.reqId).sort());
    const byId = new Map((res.body.items as Item[]).map((i) => [i.req_id, i]));
    expect(byId.get(t.overdue!.reqId)!.stuck).toEqual(['overdue']);
    expect(byId.get(t.overdue!.reqId)!.overdue_seconds).toBeGreaterThanOrEqual(120);
    expect(byId.get(t.pendingOverdue!.reqId)!.stuck).toEqual(['overdue']);
    const inState = await get('/ops/v1/transfers?stuck=true&state=source_pending');
    expect(ids(inState.body.items)).toEqual([t.pendingOverdue!.reqId]);
  });

  it('pages with limit and cursor: every active transfer once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get(`/ops/v1/transfers?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status).toBe(200);
      expect((res.body.items as Item[]).length).toBeLessThanOrEqual(2);
      seen.push(...(res.body.items as Item[]).map((i) => i.req_id));
      cursor = res.body.next_cursor as string | null;
      pages++;
    } while (cursor && pages < 10);
    expect(seen.sort()).toEqual([t.fresh, t.old, t.overdue, t.late, t.pendingOverdue].map((r) => r!.reqId).sort());
  });

  it.each([
    ['state=committed', 'state: state must be an active state'],
    ['stuck=yes', 'stuck: stuck must be true or false'],
    ['limit=0', 'limit: limit must be an integer from 1 to 500'],
    ['cursor=forged', 'cursor: not a value this API returned'],
  ])('400 naming the parameter: %s', async (query, error) => {
    const res = await get(`/ops/v1/transfers?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
  });

  it('one transfer: the row and its full history, consistent with the row', async () => {
    const res = await get(`/ops/v1/transfers/${t.finished!.reqId}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ req_id: t.finished!.reqId, state: 'failed', version: 2, error: 'insufficient_funds', history_problems: [] });
    expect((res.body.history as { version: number; from: string | null; to: string }[]).map((h) => [h.version, h.from, h.to])).toEqual([
      [1, null, 'init'],
      [2, 'init', 'failed'],
    ]);
    expect((await get(`/ops/v1/transfers/${randomUUID()}`)).status).toBe(404);
    expect(await get('/ops/v1/transfers/not-a-uuid')).toMatchObject({ status: 400, body: { error: 'req_id must be a UUID' } });
  });

  it('retry: makes an active transfer due now and enqueues it, recording the operator; a finished one is refused', async () => {
    const target = t.fresh!;
    const res = await post(`/ops/v1/transfers/${target.reqId}/retry`);
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ req_id: target.reqId, state: 'init', action: 'enqueued', job_state: 'unknown', operator_retries: 1 });
    expect(await queue.getJobState(jobIdFor(target.reqId))).toBe('waiting');
    const row = await db.store.get(target.reqId);
    // Due now, nothing else changed: same state, version and history.
    expect(row!.nextAttemptAt!.getTime()).toBeLessThanOrEqual(Date.now());
    expect(row).toMatchObject({ state: 'init', version: target.version, operatorRetry: { times: 1, operator: OPS.user } });
    const again = await post(`/ops/v1/transfers/${target.reqId}/retry`);
    expect(again.body).toMatchObject({ action: 'already_queued', job_state: 'waiting', operator_retries: 2 });

    // A delayed job (the backoff of an unknown outcome) is promoted.
    await queue.add('step', { reqId: t.overdue!.reqId }, { jobId: jobIdFor(t.overdue!.reqId), delay: 10 * MIN });
    expect((await post(`/ops/v1/transfers/${t.overdue!.reqId}/retry`)).body).toMatchObject({ action: 'promoted', job_state: 'delayed' });
    expect(await queue.getJobState(jobIdFor(t.overdue!.reqId))).toBe('waiting');

    const done = await post(`/ops/v1/transfers/${t.finished!.reqId}/retry`);
    expect(done).toMatchObject({ status: 409, body: { state: 'failed', action: 'none' } });
    expect((await post(`/ops/v1/transfers/${randomUUID()}/retry`)).status).toBe(404);
  });

  it('logs every call with the operator, reads included, and each retry with what it did', () => {
    const calls = lines.filter((l) => l.msg === 'ops api call');
    expect(calls.length).toBeGreaterThanOrEqual(15);
    expect(calls.every((l) => l.operator === OPS.user && typeof l.status === 'number')).toBe(true);
    expect(calls.some((l) => l.method === 'GET' && l.path === '/ops/v1/transfers?stuck=true')).toBe(true);
    const retries = lines.filter((l) => l.msg === 'operator retry');
    expect(retries.map((l) => [l.operator, l.req_id, l.action])).toEqual([
      [OPS.user, t.fresh!.reqId, 'enqueued'],
      [OPS.user, t.fresh!.reqId, 'already_queued'],
      [OPS.user, t.overdue!.reqId, 'promoted'],
    ]);
    expect(JSON.stringify(lines)).not.toContain(OPS.password);
  });

  it('reconciliation: validated, and the latest run is exported as metrics', async () => {
    expect(await post('/ops/v1/reconciliations', { since: 'yesterday' })).toMatchObject({ status: 400, body: { error: 'since: since must be an ISO 8601 time' } });
    const until = new Date(Date.now() + 1_000).toISOString();
    expect(await post('/ops/v1/reconciliations', { since: until, until })).toMatchObject({ status: 400, body: { error: 'since must be before until' } });
    expect((await get('/ops/v1/reconciliations/latest')).status).toBe(404);
    const metricsBefore = await (await fetch(`${ops}/metrics`)).text();
    expect(metricsBefore).not.toMatch(/^internal_transfer_reconciliation_mismatches/m);
    // No ledger runs here: the one finished transfer cannot be verified, nothing is reported as a mismatch.
    const run = await post('/ops/v1/reconciliations', { since: new Date(Date.now() - 60 * MIN).toISOString(), until });
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ checked: 0, active: 5, unverified: 1, mismatch_count: 0, clean: false, mismatches: [] });
    expect((await get('/ops/v1/reconciliations/latest')).body).toMatchObject({ run_id: run.body.run_id, unverified: 1, actor: `ops-api ${OPS.user}` });
    // One read serves the gauges of a scrape (and of any scrape within 500 ms).
    await new Promise((r) => setTimeout(r, 600));
    const text = await (await fetch(`${ops}/metrics`)).text();
    expect(text).toMatch(/^internal_transfer_reconciliation_mismatches\{app="api"\} 0$/m);
    expect(text).toMatch(/^internal_transfer_reconciliation_unverified\{app="api"\} 1$/m);
    expect(text).toMatch(/^internal_transfer_reconciliation_last_run_timestamp_seconds\{app="api"\} \d+/m);
  });
});
