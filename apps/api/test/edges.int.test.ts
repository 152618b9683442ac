// Money safety at the API's edges (issue 10): an unknown create answers pending with its req_id, amounts are
// read without losing a digit, and a malformed path is a 400 (AUTH_MODE=none reads: degraded.int.test.ts).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serialConsistency, StoreUnavailableError, type CassandraClient } from '@it/cassandra';
import { cassandraSettings } from '@it/config';
import { createApiMetrics, createLogger } from '@it/observability';
import { openTransferStore, TransferStore } from '@it/store';
import { createTransferUseCase } from '../src/create-transfer.ts';
import { openQueueClient } from '../src/queue-client.ts';
import { backdoor, call, newUserId, REDIS_URL, startTestApi, testConfig, tokenFor, type TestApi } from './helpers.ts';

/** A driver error the way a lost reply looks to the client: a timeout, which classifies as an unknown outcome. */
function timeout(): Error {
  return Object.assign(new Error('Operation timed out (injected)'), { name: 'OperationTimedOutError' });
}

type Execute = CassandraClient['execute'];
type Fault = 'apply-then-lose-reply' | 'lose-request' | 'unavailable';

/**
 * The real client, except that the next statement matching `match` fails as `fault` and, with
 * `failSerialReads`, every SERIAL read fails too (the settling read of an unknown outcome).
 */
function faultyClient(
  real: CassandraClient,
  serialCode: number,
  plan: { match: RegExp; fault: Fault; failSerialReads: boolean },
): CassandraClient {
  let armed = true;
  const execute = (async (query: string, params?: unknown, options?: { consistency?: number }) => {
    const serial = options?.consistency === serialCode;
    if (plan.failSerialReads && serial && /^\s*SELECT/i.test(query)) throw timeout();
    if (armed && plan.match.test(query)) {
      armed = false;
      if (plan.fault === 'unavailable') throw Object.assign(new Error('Unavailable (injected)'), { code: 0x1000 });
      if (plan.fault === 'lose-request') throw timeout();
      await real.execute(query, params as unknown[], options);
      throw timeout();
    }
    return real.execute(query, params as unknown[], options);
  }) as Execute;
  return new Proxy(real, { get: (target, prop, receiver) => (prop === 'execute' ? execute : Reflect.get(target, prop, receiver) as unknown) });
}

describe('an unknown outcome of the create (issue 10, item 1)', () => {
  const config = testConfig();
  const settings = cassandraSettings(config, config.CASSANDRA_KEYSPACE);
  const { client, store: realStore } = openTransferStore(settings);
  const queueClient = openQueueClient(REDIS_URL, config.QUEUE_PREFIX, createLogger('edges-test', 'silent'));
  afterAll(async () => {
    await queueClient.close();
    await client.shutdown();
  });

  function useCase(plan: { match: RegExp; fault: Fault; failSerialReads: boolean }) {
    const serialCode = serialConsistency(settings);
    const store = new TransferStore(faultyClient(client, serialCode, plan), { serialConsistency: serialCode });
    return createTransferUseCase({
      store, queue: queueClient.queue, redisReady: queueClient.ready, waiter: queueClient.waiter,
      metrics: createApiMetrics(), logger: createLogger('edges-test', 'silent'), syncWaitMs: 0, idempotencyTtlSeconds: 600,
      // The limits are not under test here: none applies, nothing is tracked.
      syncWaitMaxWaiting: Number.MAX_SAFE_INTEGER,
      openTransfers: { opened: () => Promise.resolve(), settled: () => Promise.resolve() },
    });
  }
  const transfer = () => ({ source: 'funding', target: 'trading', userId: BigInt(newUserId()), assetId: 1, amount: 700n }) as const;

  it.each([
    ['the row was written, its reply and the settling read lost', 'apply-then-lose-reply', true],
    ['the request was lost, and the settling read too', 'lose-request', false],
  ] as const)('without a key: %s → pending with the req_id the row has (or would have)', async (_name, fault, written) => {
    let told = '';
    const out = await useCase({ match: /^INSERT INTO transfers \(/, fault, failSerialReads: true })({
      transfer: transfer(), idempotencyKey: undefined, startedAt: Date.now(), onReqId: (id) => (told = id),
    });
    expect(out).toEqual({ kind: 'result', result: { req_id: told, status: 'pending', message: null } });
    expect(told).toMatch(/^[0-9a-f-]{36}$/);
    const row = await realStore.get(told, { serial: true });
    expect(row?.state).toBe(written ? 'init' : undefined);
  });

  it('with a key: the claim written, its reply and the settling read lost → pending with the claimed req_id', async () => {
    let told = '';
    const t = transfer();
    const key = `edge-${randomUUID()}`;
    const out = await useCase({ match: /^INSERT INTO idempotency_keys/, fault: 'apply-then-lose-reply', failSerialReads: true })({
      transfer: t, idempotencyKey: key, startedAt: Date.now(), onReqId: (id) => (told = id),
    });
    expect(out).toEqual({ kind: 'result', result: { req_id: told, status: 'pending', message: null } });
    // The claim holds that req_id: a retry with the same key replays it, never a second transfer.
    const claim = await realStore.claimIdempotencyKey({
      userId: t.userId, key, reqId: randomUUID(), requestHash: 'other', createdAt: new Date(), ttlSeconds: 60,
    });
    expect(claim).toMatchObject({ claimed: false, reqId: told });
  });

  it('Unavailable (nothing can have been written) is still the 503 path: StoreUnavailableError', async () => {
    const run = useCase({ match: /^INSERT INTO transfers \(/, fault: 'unavailable', failSerialReads: false });
    let told = '';
    const err = await run({ transfer: transfer(), idempotencyKey: undefined, startedAt: Date.now(), onReqId: (id) => (told = id) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(await realStore.get(told, { serial: true })).toBeUndefined();
  });
});

describe('over HTTP', () => {
  let api: TestApi;
  let db: ReturnType<typeof backdoor>;
  beforeAll(async () => {
    api = await startTestApi(testConfig({ SYNC_WAIT_MS: '0' }));
    db = backdoor(api.config);
  });
  afterAll(async () => {
    await api?.close();
    await db?.close();
  });
  const raw = (user: string, amount: string, assetId = '1') =>
    `{"from":"funding","to":"trading","user_id":"${user}","asset_id":${assetId},"amount":${amount}}`;

  it.each([
    ['0.99999999999999999', 'amount'],
    ['1.0000000000000001', 'amount'],
    ['9007199254740990.6', 'amount'],
    ['9223372036854775808', 'amount'],
  ])('amount %s as a JSON number → 400 naming the field, nothing stored (issue 10, item 6)', async (amount, field) => {
    const user = newUserId();
    const res = await call(`${api.url}/api/v1/transfer`, { raw: raw(user, amount), token: await tokenFor(user) });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ req_id: '', status: 'failed' });
    expect(String(res.body.message)).toMatch(new RegExp(`^${field}`));
    expect(await db.rowsOfUser(user)).toBe(0);
  });

  it('asset_id 1.0000000000000001 as a JSON number → 400 naming asset_id', async () => {
    const user = newUserId();
    const res = await call(`${api.url}/api/v1/transfer`, { raw: raw(user, '5', '1.0000000000000001'), token: await tokenFor(user) });
    expect(res.status).toBe(400);
    expect(String(res.body.message)).toMatch(/^asset_id/);
  });

  it.each(['9007199254740993', '9223372036854775807'])('amount %s as a JSON number is taken exactly', async (amount) => {
    const user = newUserId();
    const token = await tokenFor(user);
    const res = await call(`${api.url}/api/v1/transfer`, { raw: raw(user, amount), token });
    expect(res.status).toBe(202);
    const read = await call(`${api.url}/api/v1/transfer/${String(res.body.req_id)}`, { token });
    expect(read.body.amount).toBe(amount);
    expect((await db.store.get(String(res.body.req_id)))?.amount).toBe(BigInt(amount));
  });

  it('duplicate keys are not a body this API reads → 400', async () => {
    const user = newUserId();
    const res = await call(`${api.url}/api/v1/transfer`, {
      raw: `{"from":"funding","to":"trading","user_id":"${user}","asset_id":1,"amount":"5","amount":"500"}`,
      token: await tokenFor(user),
    });
    expect(res.status).toBe(400);
    expect(String(res.body.message)).toMatch(/^body/);
  });

  it('a malformed percent-escape in the path → 400, not 500 (issue 10, item 9)', async () => {
    const user = newUserId();
    const res = await call(`${api.url}/api/v1/transfer/%E0%A4%A`, { token: await tokenFor(user) });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: "Failed to decode param '%E0%A4%A'" });
  });
});
