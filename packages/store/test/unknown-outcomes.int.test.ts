// The transfer store's conditional writes when Cassandra's answer is lost, on the real Cassandra: a client
// wrapper loses the reply of a write that applied, loses a request before it is sent, reports Unavailable,
// answers without a boolean [applied], or lets a rival's write land first. A write certainly not applied (no
// host took it) is reported unavailable at once; any other failure, Unavailable included (Paxos v1 can fail
// its commit after acceptance), is settled by a SERIAL read, and only our own marker counts as applied.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serialConsistency, StoreUnavailableError, UnknownOutcomeError } from '@it/cassandra';
import { cassandraSettings } from '@it/config';
import { TransferStore, type TransferRecord } from '../src/index.ts';
import { FaultyClient, type StatementOptions } from './faulty-client.ts';
import { newTransfer, testStore } from './helpers.ts';

const { client, store, config, keyspace, close } = await testStore();
afterAll(() => close());
const SERIAL = serialConsistency(cassandraSettings(config, keyspace));

let faulty: FaultyClient;
let lossy: TransferStore;
beforeEach(() => {
  faulty = new FaultyClient(client);
  lossy = new TransferStore(faulty.asClient(), { serialConsistency: SERIAL });
});
afterEach(() => {
  expect(faulty.idle).toBe(true);
});

const TRANSFER_INSERT = (q: string) => q.startsWith('INSERT INTO transfers (');
const TRANSFER_UPDATE = (q: string) => q.startsWith('UPDATE transfers SET');
const CLAIM = (q: string) => q.startsWith('INSERT INTO idempotency_keys');
const SERIAL_READ = (q: string, o: StatementOptions) => q.startsWith('SELECT') && o.consistency === SERIAL;

/** Whether the store settled an outcome: it sent a SERIAL read after the faulted write. */
function settledBySerialRead(write: (q: string) => boolean): boolean {
  const i = faulty.statements.findIndex((s) => write(s.query));
  return i >= 0 && faulty.statements.slice(i + 1).some((s) => SERIAL_READ(s.query, s.options));
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.fail('expected the store to throw'),
    (err: unknown) => err,
  );
}

describe('create', () => {
  it('applied, reply lost: the SERIAL read finds our transition marker, so it was created', async () => {
    const t = newTransfer();
    faulty.failNext(TRANSFER_INSERT, 'reply lost');
    const res = await lossy.create(t);
    expect(settledBySerialRead(TRANSFER_INSERT)).toBe(true);
    const stored = await store.get(t.reqId);
    expect(res.created).toBe(true);
    expect(stored).toMatchObject({ state: 'init', version: 1, transitionId: res.record.transitionId });
  });

  it('lost before it was sent: settled as not applied, unavailable, no row; a retry creates it', async () => {
    const t = newTransfer();
    faulty.failNext(TRANSFER_INSERT, 'request lost');
    const err = await failure(lossy.create(t));
    expect(settledBySerialRead(TRANSFER_INSERT)).toBe(true);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err).not.toBeInstanceOf(UnknownOutcomeError);
    expect(await store.get(t.reqId)).toBeUndefined();
    expect((await lossy.create(t)).created).toBe(true);
  });

  it('no host took it: certainly not applied, so unavailable without settling, and nothing written', async () => {
    const t = newTransfer();
    faulty.failNext(TRANSFER_INSERT, 'not sent');
    const err = await failure(lossy.create(t));
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err).not.toBeInstanceOf(UnknownOutcomeError);
    expect(settledBySerialRead(TRANSFER_INSERT)).toBe(false);
    expect(await store.get(t.reqId, { serial: true })).toBeUndefined();
  });

  it('Unavailable is settled by a SERIAL read (not certain on Paxos v1): nothing there, so unavailable', async () => {
    const t = newTransfer();
    faulty.failNext(TRANSFER_INSERT, 'unavailable');
    const err = await failure(lossy.create(t));
    expect(settledBySerialRead(TRANSFER_INSERT)).toBe(true);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(await store.get(t.reqId, { serial: true })).toBeUndefined();
  });

  it('a reply without a boolean [applied] is settled by a SERIAL read, which finds our row', async () => {
    const t = newTransfer();
    faulty.failNext(TRANSFER_INSERT, 'reply without [applied]');
    const res = await lossy.create(t);
    expect(settledBySerialRead(TRANSFER_INSERT)).toBe(true);
    expect(res.created).toBe(true);
    expect(await store.get(t.reqId)).toMatchObject({ state: 'init', transitionId: res.record.transitionId });
  });

  it('reply lost and the SERIAL read fails too: unknown outcome (the row did land)', async () => {
    const t = newTransfer();
    faulty.failNext(TRANSFER_INSERT, 'reply lost');
    faulty.failNext(SERIAL_READ, 'unavailable');
    await expect(lossy.create(t)).rejects.toBeInstanceOf(UnknownOutcomeError);
    expect(await store.get(t.reqId)).toMatchObject({ state: 'init', version: 1 });
  });

  it("a rival's create won, reply lost: not created, and the rival's row is returned", async () => {
    const t = newTransfer();
    let rival: TransferRecord | undefined;
    faulty.failNext(TRANSFER_INSERT, 'reply lost', async () => {
      rival = (await store.create({ ...t, amount: 7n })).record;
    });
    const res = await lossy.create(t);
    expect(settledBySerialRead(TRANSFER_INSERT)).toBe(true);
    expect(res.created).toBe(false);
    expect(res.record).toMatchObject({ amount: 7n, transitionId: rival?.transitionId });
  });
});

describe('compareAndSet', () => {
  async function created(): Promise<TransferRecord> {
    return (await store.create(newTransfer())).record;
  }
  const begin = (from: TransferRecord) => ({
    from,
    to: 'source_pending' as const,
    error: null,
    attempt: 0,
    nextAttemptAt: new Date(Date.now() + 30_000),
  });

  it('applied, reply lost: settled as applied by our transition marker', async () => {
    const from = await created();
    faulty.failNext(TRANSFER_UPDATE, 'reply lost');
    const res = await lossy.compareAndSet(begin(from));
    expect(settledBySerialRead(TRANSFER_UPDATE)).toBe(true);
    expect(res.applied).toBe(true);
    const stored = await store.get(from.reqId);
    expect(stored).toMatchObject({ state: 'source_pending', version: 2 });
    expect(res.applied && res.record.transitionId).toBe(stored?.transitionId);
  });

  it('lost before it was sent: settled as not applied; the row is as it was', async () => {
    const from = await created();
    faulty.failNext(TRANSFER_UPDATE, 'request lost');
    const res = await lossy.compareAndSet(begin(from));
    expect(settledBySerialRead(TRANSFER_UPDATE)).toBe(true);
    expect(res).toEqual({ applied: false, current: from });
    expect(await store.get(from.reqId)).toEqual(from);
  });

  it('no host took it: StoreUnavailableError, not an unknown outcome, and the row is unchanged', async () => {
    const from = await created();
    faulty.failNext(TRANSFER_UPDATE, 'not sent');
    const err = await failure(lossy.compareAndSet(begin(from)));
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err).not.toBeInstanceOf(UnknownOutcomeError);
    expect(settledBySerialRead(TRANSFER_UPDATE)).toBe(false);
    expect(await store.get(from.reqId, { serial: true })).toEqual(from);
  });

  it('Unavailable is settled by a SERIAL read: the row unchanged, so not applied', async () => {
    const from = await created();
    faulty.failNext(TRANSFER_UPDATE, 'unavailable');
    const res = await lossy.compareAndSet(begin(from));
    expect(settledBySerialRead(TRANSFER_UPDATE)).toBe(true);
    expect(res).toEqual({ applied: false, current: from });
  });

  it('a reply without a boolean [applied] is settled by a SERIAL read, which finds our transition', async () => {
    const from = await created();
    faulty.failNext(TRANSFER_UPDATE, 'reply without [applied]');
    const res = await lossy.compareAndSet(begin(from));
    expect(settledBySerialRead(TRANSFER_UPDATE)).toBe(true);
    expect(res).toMatchObject({ applied: true, record: { state: 'source_pending', version: 2 } });
  });

  it('reply lost and the SERIAL read fails too: UnknownOutcomeError (the write did apply)', async () => {
    const from = await created();
    faulty.failNext(TRANSFER_UPDATE, 'reply lost');
    faulty.failNext(SERIAL_READ, 'unavailable');
    await expect(lossy.compareAndSet(begin(from))).rejects.toBeInstanceOf(UnknownOutcomeError);
    expect(await store.get(from.reqId)).toMatchObject({ state: 'source_pending', version: 2 });
  });

  it("a rival's write won, reply lost: not applied, and the rival's row is returned", async () => {
    const from = await created();
    let rival: TransferRecord | undefined;
    faulty.failNext(TRANSFER_UPDATE, 'reply lost', async () => {
      const r = await store.compareAndSet({ ...begin(from), to: 'failed', error: 'rival' });
      if (r.applied) rival = r.record;
    });
    const res = await lossy.compareAndSet(begin(from));
    expect(settledBySerialRead(TRANSFER_UPDATE)).toBe(true);
    expect(rival).toBeDefined();
    expect(res).toEqual({ applied: false, current: rival });
    expect(await store.get(from.reqId)).toMatchObject({ state: 'failed', version: 2, error: 'rival' });
  });
});

describe('claimIdempotencyKey', () => {
  let nextUser = BigInt(Date.now()) * 1000n + 700n;
  const claim = () => ({
    userId: nextUser++,
    key: `key-${randomUUID()}`,
    reqId: randomUUID(),
    requestHash: 'hash-ours',
    createdAt: new Date(),
    ttlSeconds: 600,
  });
  async function stored(c: { userId: bigint; key: string }): Promise<string | undefined> {
    const rs = await client.execute(
      'SELECT req_id FROM idempotency_keys WHERE user_id = ? AND idem_key = ?',
      [c.userId, c.key],
      { prepare: true, consistency: SERIAL },
    );
    const row = rs.first();
    return row ? String(row.get('req_id')) : undefined;
  }

  it('applied, reply lost: the key read back is ours, so it is claimed', async () => {
    const c = claim();
    faulty.failNext(CLAIM, 'reply lost');
    expect(await lossy.claimIdempotencyKey(c)).toEqual({ claimed: true });
    expect(settledBySerialRead(CLAIM)).toBe(true);
    expect(await stored(c)).toBe(c.reqId);
  });

  it('lost before it was sent: settled as not applied, unavailable, nothing claimed', async () => {
    const c = claim();
    faulty.failNext(CLAIM, 'request lost');
    const err = await failure(lossy.claimIdempotencyKey(c));
    expect(settledBySerialRead(CLAIM)).toBe(true);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err).not.toBeInstanceOf(UnknownOutcomeError);
    expect(await stored(c)).toBeUndefined();
  });

  it('Unavailable is settled by a SERIAL read: nothing claimed, so unavailable', async () => {
    const c = claim();
    faulty.failNext(CLAIM, 'unavailable');
    const err = await failure(lossy.claimIdempotencyKey(c));
    expect(settledBySerialRead(CLAIM)).toBe(true);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(await stored(c)).toBeUndefined();
  });

  it('no host took it: StoreUnavailableError without settling, nothing claimed', async () => {
    const c = claim();
    faulty.failNext(CLAIM, 'not sent');
    const err = await failure(lossy.claimIdempotencyKey(c));
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err).not.toBeInstanceOf(UnknownOutcomeError);
    expect(settledBySerialRead(CLAIM)).toBe(false);
    expect(await stored(c)).toBeUndefined();
  });

  it('reply lost and the SERIAL read fails too: UnknownOutcomeError (the claim did land)', async () => {
    const c = claim();
    faulty.failNext(CLAIM, 'reply lost');
    faulty.failNext(SERIAL_READ, 'unavailable');
    await expect(lossy.claimIdempotencyKey(c)).rejects.toBeInstanceOf(UnknownOutcomeError);
    expect(await stored(c)).toBe(c.reqId);
  });

  it("a rival's claim won, reply lost: not claimed, and the rival's request is returned", async () => {
    const c = claim();
    const rival = { ...c, reqId: randomUUID(), requestHash: 'hash-rival' };
    faulty.failNext(CLAIM, 'reply lost', () => store.claimIdempotencyKey(rival));
    expect(await lossy.claimIdempotencyKey(c)).toEqual({
      claimed: false,
      reqId: rival.reqId,
      requestHash: 'hash-rival',
      createdAt: c.createdAt,
    });
    expect(settledBySerialRead(CLAIM)).toBe(true);
  });
});
