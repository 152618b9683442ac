// The product over HTTP, as separate processes: API, worker, reference ledgers, real Cassandra and Redis.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '@it/domain';
import { eventually } from '../support/processes.ts';
import { newUserId, Product, tokenFor } from '../support/product.ts';

const product = new Product({ basePort: 18180 });
beforeAll(() => product.start().then(() => undefined));
afterAll(() => product.stop());

async function fundedUser(ledger: Account, amount: bigint) {
  const user = newUserId();
  await product.credit(ledger, user, 1, amount);
  return { user, token: tokenFor(user) };
}

async function balances(user: string) {
  return { funding: await product.balance('funding', user, 1), trading: await product.balance('trading', user, 1) };
}

describe('runtime', () => {
  it('every process of the product runs on Node 24 (the binary each one was started from)', () => {
    const processes = [product.api, product.ledgers, ...product.workers];
    expect(processes).toHaveLength(3);
    for (const p of processes) {
      const exe = fs.readlinkSync(`/proc/${p.child.pid}/exe`);
      expect(execFileSync(exe, ['--version'], { encoding: 'utf8' }).trim(), p.name).toMatch(/^v24\./);
    }
  });
});

describe('happy paths', () => {
  it.each([
    ['funding', 'trading'],
    ['trading', 'funding'],
  ] as const)('%s → %s commits and moves exactly the amount', async (from, to) => {
    const { user, token } = await fundedUser(from, 10_000n);
    const before = await balances(user);
    const res = await product.transfer({ from, to, user_id: user, asset_id: 1, amount: '2500' }, { token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'committed', message: null });
    expect(res.body.req_id).toMatch(/^[0-9a-f-]{36}$/);
    const after = await balances(user);
    expect(after[from].available).toBe(before[from].available - 2500n);
    expect(after[to].available).toBe(before[to].available + 2500n);
    expect(after.funding.frozen).toBe(0n);
    expect(after.trading.frozen).toBe(0n);
    const got = await product.getTransfer(res.body.req_id, token);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      req_id: res.body.req_id, state: 'committed', source: from, target: to, user_id: user, asset_id: 1,
      amount: '2500', error: null, retry_count: 0,
    });
  });

  it('moves an amount beyond 2^53 exactly', async () => {
    const big = 2n ** 60n + 7n;
    const { user, token } = await fundedUser('trading', big);
    const res = await product.transfer({ from: 'trading', to: 'funding', user_id: user, asset_id: 1, amount: big.toString() }, { token });
    expect(res.body.status).toBe('committed');
    expect(await balances(user)).toEqual({ funding: { available: big, frozen: 0n }, trading: { available: 0n, frozen: 0n } });
  });
});

describe('refusals', () => {
  it('insufficient funds → failed, nothing moved', async () => {
    const { user, token } = await fundedUser('funding', 100n);
    const res = await product.transfer({ from: 'funding', to: 'trading', user_id: user, asset_id: 1, amount: '101' }, { token });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('failed');
    expect(res.body.message).toBeTruthy();
    expect(await balances(user)).toEqual({ funding: { available: 100n, frozen: 0n }, trading: { available: 0n, frozen: 0n } });
  });

  it.each([
    ['funding', 'trading'],
    ['trading', 'funding'],
  ] as const)('target refusal %s → %s: rolled_back and the source restored', async (from, to) => {
    const { user, token } = await fundedUser(from, 5_000n);
    await product.setFaults(to, { refuse_rate: 1 });
    try {
      const res = await product.transfer({ from, to, user_id: user, asset_id: 1, amount: '1200' }, { token });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('rolled_back');
      expect(res.body.message).toBeTruthy();
    } finally {
      await product.setFaults(to, { refuse_rate: 0 });
    }
    const after = await balances(user);
    expect(after[from]).toEqual({ available: 5_000n, frozen: 0n });
    expect(after[to]).toEqual({ available: 0n, frozen: 0n });
  });
});

describe('slow target', () => {
  it('answers 202 pending within the wait window, then commits', async () => {
    const { user, token } = await fundedUser('funding', 1_000n);
    await product.setFaults('trading', { latency_ms: 2_500 });
    let reqId: string;
    try {
      const t0 = Date.now();
      const res = await product.transfer({ from: 'funding', to: 'trading', user_id: user, asset_id: 1, amount: 400 }, { token });
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ status: 'pending', message: null });
      expect(Date.now() - t0).toBeLessThan(2_000 + 1_500);
      reqId = res.body.req_id;
      await eventually('commit', async () => (await product.getTransfer(reqId, token)).body.state === 'committed', 30_000);
    } finally {
      await product.setFaults('trading', { latency_ms: 0 });
    }
    expect(await balances(user)).toEqual({ funding: { available: 600n, frozen: 0n }, trading: { available: 400n, frozen: 0n } });
  });
});

describe('idempotency', () => {
  it('replays the same transfer for the same key and refuses another body', async () => {
    const { user, token } = await fundedUser('funding', 1_000n);
    const body = { from: 'funding', to: 'trading', user_id: user, asset_id: 1, amount: '300' };
    const headers = { 'idempotency-key': `k-${user}` };
    const first = await product.transfer(body, { token, headers });
    const again = await product.transfer(body, { token, headers });
    expect(first.body.status).toBe('committed');
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const other = await product.transfer({ ...body, amount: '301' }, { token, headers });
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ req_id: '', status: 'failed' });
    expect(await balances(user)).toEqual({ funding: { available: 700n, frozen: 0n }, trading: { available: 300n, frozen: 0n } });
  });
});

describe('validation and auth over HTTP', () => {
  const user = newUserId();
  const token = tokenFor(user);
  const ok = { from: 'funding', to: 'trading', user_id: user, asset_id: 1, amount: '10' };
  it.each([
    ['amount', { ...ok, amount: '0' }],
    ['amount', { ...ok, amount: -5 }],
    ['amount', { ...ok, amount: 1.5 }],
    ['amount', { ...ok, amount: 'ten' }],
    ['amount', { ...ok, amount: '9223372036854775808' }],
    ['to', { ...ok, to: 'funding' }],
    ['from', { ...ok, from: 'savings' }],
    ['asset_id', { ...ok, asset_id: undefined }],
    ['asset_id', { ...ok, asset_id: 'one' }],
  ])('400 naming %s', async (field, body) => {
    const res = await product.transfer(body, { token });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ req_id: '', status: 'failed' });
    expect(res.body.message).toContain(field);
  });

  it('401 without a token, 403 for another user_id, 404 for another user\'s transfer', async () => {
    expect((await product.transfer(ok)).status).toBe(401);
    expect((await product.transfer({ ...ok, user_id: newUserId() }, { token })).status).toBe(403);
    const owner = await fundedUser('funding', 50n);
    const res = await product.transfer({ ...ok, user_id: owner.user }, { token: owner.token });
    expect((await product.getTransfer(res.body.req_id, token)).status).toBe(404);
    expect((await product.getTransfer(res.body.req_id, owner.token)).status).toBe(200);
    expect((await product.getTransfer('not-a-uuid', token)).body).toEqual({ error: 'Invalid req_id format' });
  });
});
