// Operator tools over real processes: a chaos run (faults on both ledgers, a worker killed mid-run) finished with
// the ops API's retry-now, every transfer's history consistent with its row, and reconciliation clean both from
// the ops API and from `npm run reconcile`; then a transfer stuck behind a long backoff moved by retry-now once
// its ledger answers again.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '@it/domain';
import { eventually, root } from '../support/processes.ts';
import { metricValue, newUserId, Product, SERVICE_TOKEN, tokenFor } from '../support/product.ts';

const OPS_USER = 'operator';
const OPS_PASSWORD = 'e2e-ops-password-0123456789';
const TERMINAL = ['committed', 'rolled_back', 'failed'];
const product = new Product({
  basePort: 18780,
  workers: 2,
  // An unknown outcome waits 30–60 s before its retry: only an operator's retry-now finishes these tests quickly.
  workerEnv: { BACKOFF_BASE_MS: '60000', BACKOFF_MAX_MS: '120000', WORKER_LOCK_MS: '4000', STEP_LEASE_MS: '3000', SWEEPER_CRON: '*/2 * * * * *' },
  apiEnv: { OPS_USER, OPS_PASSWORD, SYNC_WAIT_MS: '0' },
});
const started = new Date(Date.now() - 1_000);
beforeAll(() => product.start().then(() => undefined));
afterAll(() => product.stop());

const auth = { authorization: `Basic ${Buffer.from(`${OPS_USER}:${OPS_PASSWORD}`).toString('base64')}` };
async function ops<T = Record<string, unknown>>(path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${product.opsUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as T };
}

type Item = { req_id: string; state: string; next_attempt_at: string | null };
type Detail = {
  state: string;
  history: { to: string; call: string | null; retries: number }[];
  history_problems: string[];
  operator_retry: { times: number; operator: string } | null;
};

/** Retries (now) every active transfer waiting for a later attempt, until all are finished. */
async function finishWithRetries(ids: string[]): Promise<number> {
  let retries = 0;
  await eventually('every transfer finished', async () => {
    const active = await ops<{ items: Item[] }>('/ops/v1/transfers?limit=500');
    for (const item of active.body.items) {
      if (item.next_attempt_at && Date.parse(item.next_attempt_at) > Date.now() + 2_000) {
        const r = await ops(`/ops/v1/transfers/${item.req_id}/retry`, {});
        if (r.status === 202) retries++;
      }
    }
    const states = await Promise.all(ids.map(async (id) => (await ops<Detail>(`/ops/v1/transfers/${id}`)).body.state));
    return states.every((s) => TERMINAL.includes(s)) || undefined;
  }, 120_000, 1_000);
  return retries;
}

function runCli(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/reconcile.ts', ...args], {
    cwd: root,
    env: {
      ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'silent', CASSANDRA_KEYSPACE: product.keyspace,
      FUNDING_URL: product.ledgerUrl.funding, TRADING_URL: product.ledgerUrl.trading, FUNDING_TOKEN: SERVICE_TOKEN, TRADING_TOKEN: SERVICE_TOKEN,
    },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

describe('operator tools', () => {
  it('a chaos run, finished by retry-now: histories agree with their rows, reconciliation is clean (ops API and CLI)', async () => {
    const users = Array.from({ length: 8 }, () => newUserId());
    // Every other user is funded: the others' transfers from an empty account fail.
    for (const [i, u] of users.entries()) {
      if (i % 2 === 0) continue;
      await product.credit('funding', u, 1, 5_000n);
      await product.credit('trading', u, 1, 5_000n);
    }
    const chaos = { latency_ms: 5, latency_jitter_ms: 30, error_rate: 0.15, drop_response_rate: 0.15, refuse_rate: 0.1 };
    await product.setFaults('funding', { ...chaos, seed: 11 });
    await product.setFaults('trading', { ...chaos, seed: 12 });
    const posts = await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const u = users[i % users.length]!;
        const from: Account = i % 3 === 0 ? 'trading' : 'funding';
        return product.transfer(
          { from, to: from === 'funding' ? 'trading' : 'funding', user_id: u, asset_id: 1, amount: String(100 + i) },
          { token: tokenFor(u) },
        );
      }),
    );
    expect(posts.every((p) => p.status === 202)).toBe(true);
    const ids = posts.map((p) => p.body.req_id);
    // A worker dies mid-run; another takes its place.
    await new Promise((r) => setTimeout(r, 1_500));
    await product.workers.shift()!.kill('SIGKILL');
    await product.startWorker();
    await new Promise((r) => setTimeout(r, 1_500));
    await product.setFaults('funding', {});
    await product.setFaults('trading', {});

    const retries = await finishWithRetries(ids);
    expect(retries).toBeGreaterThan(0);
    expect((await ops<{ items: Item[] }>('/ops/v1/transfers')).body.items).toEqual([]);

    const details = await Promise.all(ids.map(async (id) => (await ops<Detail>(`/ops/v1/transfers/${id}`)).body));
    const states = new Set(details.map((d) => d.state));
    expect(states.has('committed') && states.has('failed')).toBe(true);
    for (const d of details) {
      expect(d.history_problems).toEqual([]);
      expect(d.history.at(-1)!.to).toBe(d.state);
    }
    // Unknown outcomes were met, and folded into the entries that ended them.
    expect(details.some((d) => d.history.some((h) => h.retries > 0))).toBe(true);

    // Money: nothing frozen, nothing created or lost.
    let sum = 0n;
    for (const u of users) {
      const f = await product.balance('funding', u, 1);
      const t = await product.balance('trading', u, 1);
      expect([f.frozen, t.frozen]).toEqual([0n, 0n]);
      sum += f.available + t.available;
    }
    expect(sum).toBe(BigInt(users.length / 2) * 10_000n);

    const until = new Date(Date.now() + 1_000).toISOString();
    const run = await ops('/ops/v1/reconciliations', { since: started.toISOString(), until });
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ checked: 40, active: 0, unverified: 0, mismatch_count: 0, clean: true, mismatches: [] });
    const cli = await runCli(['--since', started.toISOString(), '--until', until]);
    expect(cli.code, cli.out).toBe(0);
    expect(cli.out).toContain('checked (finished, both ledgers answered): 40');
    expect(cli.out).toContain('mismatches: 0');
    await new Promise((r) => setTimeout(r, 600));
    const metrics = await (await fetch(`${product.opsUrl}/metrics`)).text();
    expect(metricValue(metrics, 'internal_transfer_reconciliation_mismatches')).toBe(0);
    expect(metricValue(metrics, 'internal_transfer_reconciliation_checked')).toBe(40);
  });

  it('retry-now moves a transfer stuck behind its backoff once its ledger answers again', async () => {
    const user = newUserId();
    await product.credit('funding', user, 1, 1_000n);
    await product.setFaults('trading', { error_rate: 1 });
    const res = await product.transfer({ from: 'funding', to: 'trading', user_id: user, asset_id: 1, amount: '250' }, { token: tokenFor(user) });
    const reqId = res.body.req_id;
    // The deposit's unknown outcome is recorded: the next attempt is 30–60 s away.
    const listed = await eventually('deferred in target_pending', async () => {
      const page = await ops<{ items: (Item & { attempt: number; last_reason: string | null })[] }>('/ops/v1/transfers?state=target_pending');
      return page.body.items.find((i) => i.req_id === reqId && i.attempt >= 1);
    }, 30_000, 200);
    expect(Date.parse(listed.next_attempt_at!)).toBeGreaterThan(Date.now() + 20_000);
    expect(listed.last_reason).toMatch(/^pending: trading: unexpected reply HTTP 503/);
    await product.setFaults('trading', {});

    const retry = await ops(`/ops/v1/transfers/${reqId}/retry`, {});
    expect(retry).toMatchObject({ status: 202, body: { state: 'target_pending', action: 'promoted', job_state: 'delayed' } });
    const done = await eventually('committed', async () => {
      const d = (await ops<Detail>(`/ops/v1/transfers/${reqId}`)).body;
      return d.state === 'committed' ? d : undefined;
    }, 15_000, 100);
    expect(done.operator_retry).toMatchObject({ times: 1, operator: OPS_USER });
    expect(done.history.find((h) => h.call === 'trading.deposit')!.retries).toBeGreaterThanOrEqual(1);
    expect(done.history_problems).toEqual([]);
    expect(await product.balance('trading', user, 1)).toEqual({ available: 250n, frozen: 0n });
    expect(await product.balance('funding', user, 1)).toEqual({ available: 750n, frozen: 0n });
  });
});
