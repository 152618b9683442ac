// Reconciliation against the reference ledgers (in this process, on the real Cassandra): transfers driven to
// every terminal state by the real coordinator over HTTP reconcile clean; then each kind of mismatch is
// planted in the ledgers' own tables and reported with its req_id, by the library and by `npm run reconcile`
// (exit status 1), while the untouched transfers stay clean.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpAdapter } from '@it/adapters';
import { createCassandraClient, migrate } from '@it/cassandra';
import { cassandraSettings, DEV_LEDGER_SERVICE_TOKEN, loadBaseConfig, loadLedgerConfig } from '@it/config';
import type { Account } from '@it/domain';
import { NO_FAULTS, startLedgers, type RunningLedgers } from '@it/ledgers';
import { createLogger } from '@it/observability';
import { openTransferStore, type TransferRecord } from '@it/store';
import { Coordinator } from '@it/worker';
import { reconcile, type Mismatch, type MismatchKind } from '../src/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const keyspace = `recon_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const base = loadBaseConfig({ ...process.env, NODE_ENV: 'test' });
const ledgerConfig = loadLedgerConfig({ ...process.env, NODE_ENV: 'test' });
const admin = createCassandraClient(cassandraSettings(base));
const ledgerDb = createCassandraClient(cassandraSettings(base, base.CASSANDRA_LEDGER_KEYSPACE));
let transfers: ReturnType<typeof openTransferStore>;
let ledgers: RunningLedgers;
let readers: Record<Account, ReturnType<typeof createHttpAdapter>>;
let coordinator: Coordinator;
const since = new Date(Date.now() - 1_000);

beforeAll(async () => {
  await migrate(admin, { keyspace, replication: base.CASSANDRA_REPLICATION, dir: path.join(root, 'schema/transfer') });
  await migrate(admin, { keyspace: base.CASSANDRA_LEDGER_KEYSPACE, replication: base.CASSANDRA_REPLICATION, dir: path.join(root, 'schema/ledger') });
  transfers = openTransferStore(cassandraSettings(base, keyspace));
  ledgers = await startLedgers(ledgerConfig, { fundingPort: 0, tradingPort: 0, logger: createLogger('ledgers', 'error'), shutdownGraceMs: 500 });
  const adapter = (name: Account) =>
    createHttpAdapter({ name, baseUrl: ledgers.urls[name], timeoutMs: 5_000, headers: { authorization: `Bearer ${DEV_LEDGER_SERVICE_TOKEN}` } });
  readers = { funding: adapter('funding'), trading: adapter('trading') };
  coordinator = new Coordinator(transfers.store, readers, {
    backoff: { baseMs: 10, maxMs: 20 }, leaseMs: 30_000, logger: createLogger('coordinator', 'silent'),
  });
});
afterAll(async () => {
  await Promise.all(Object.values(readers ?? {}).map((r) => r.close()));
  await ledgers?.close();
  await transfers?.client.shutdown();
  await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await Promise.all([admin.shutdown(), ledgerDb.shutdown()]);
});

let nextUser = BigInt(Date.now()) * 1000n + 300n;
const AMOUNT = 700n;

/** A transfer from `source`, funded (or not), driven by the coordinator to its terminal state. */
async function transfer(source: Account, opts: { funded?: boolean; targetRefuses?: boolean } = {}): Promise<TransferRecord> {
  const target: Account = source === 'funding' ? 'trading' : 'funding';
  const userId = nextUser++;
  if (opts.funded !== false) await ledgers.store.movement(source, 'credit', { reqId: randomUUID(), userId, assetId: 1, amount: 10_000n });
  const reqId = randomUUID();
  await transfers.store.create({ reqId, userId, assetId: 1, amount: AMOUNT, source, target, nextAttemptAt: new Date(Date.now() + 60_000) });
  if (opts.targetRefuses) ledgers.faults[target].set({ ...NO_FAULTS, refuseRate: 1 });
  try {
    for (let i = 0; i < 20; i++) {
      const r = await coordinator.step(reqId);
      if (r.kind === 'terminal') return r.record;
    }
  } finally {
    ledgers.faults[target].set(NO_FAULTS);
  }
  throw new Error(`${reqId} not terminal`);
}

async function run() {
  const found: Mismatch[] = [];
  const summary = await reconcile({
    since, until: new Date(Date.now() + 1_000), store: transfers.store, ledgers: readers, pageSize: 4, onMismatch: (m) => found.push(m),
  });
  return { summary, found };
}

// Plants in the ledgers' own tables (LWTs, as everything that writes them).
const lwt = { prepare: true, isIdempotent: false };
const setState = (ledger: Account, t: TransferRecord, state: string) =>
  ledgerDb.execute('UPDATE accounts SET state = ? WHERE ledger = ? AND user_id = ? AND asset_id = ? AND req_id = ? IF EXISTS', [state, ledger, t.userId, t.assetId, t.reqId], lwt);
const dropOpRow = (ledger: Account, t: TransferRecord) =>
  ledgerDb.execute('DELETE FROM accounts WHERE ledger = ? AND user_id = ? AND asset_id = ? AND req_id = ? IF EXISTS', [ledger, t.userId, t.assetId, t.reqId], lwt);
const dropClaim = (ledger: Account, t: TransferRecord) => ledgerDb.execute('DELETE FROM ops WHERE ledger = ? AND req_id = ? IF EXISTS', [ledger, t.reqId], lwt);
const setAmount = (ledger: Account, t: TransferRecord, amount: bigint) =>
  ledgerDb.execute('UPDATE ops SET amount = ? WHERE ledger = ? AND req_id = ? IF EXISTS', [amount, ledger, t.reqId], lwt);

describe('reconciliation', () => {
  const planted: { t: TransferRecord; kind: MismatchKind }[] = [];
  let clean: TransferRecord[] = [];

  it('transfers in every terminal state, both directions, reconcile clean', async () => {
    const committed = [];
    for (let i = 0; i < 8; i++) committed.push(await transfer(i % 2 === 0 ? 'funding' : 'trading'));
    const rolledBack = [await transfer('funding', { targetRefuses: true }), await transfer('trading', { targetRefuses: true }), await transfer('funding', { targetRefuses: true })];
    const failed = [await transfer('funding', { funded: false }), await transfer('trading', { funded: false })];
    expect(committed.map((t) => t.state)).toEqual(Array(8).fill('committed'));
    expect(rolledBack.map((t) => t.state)).toEqual(['rolled_back', 'rolled_back', 'rolled_back']);
    expect(failed.map((t) => t.state)).toEqual(['failed', 'failed']);
    // A transfer still running is counted, not compared.
    await transfers.store.create({
      reqId: randomUUID(), userId: nextUser++, assetId: 1, amount: 1n, source: 'funding', target: 'trading', nextAttemptAt: new Date(Date.now() + 60_000),
    });

    const { summary, found } = await run();
    expect(found).toEqual([]);
    expect(summary).toMatchObject({ checked: 13, active: 1, mismatches: 0, unverified: 0, missingRows: 0 });
    // 14 rows in pages of 4, over the 16 partitions of each hour the window touches.
    expect(summary.pages).toBeGreaterThanOrEqual(4);

    const [c1, c2, c3, c4, c5, c6, c7] = committed as [TransferRecord, TransferRecord, TransferRecord, TransferRecord, TransferRecord, TransferRecord, TransferRecord];
    const [r1, r2] = rolledBack as [TransferRecord, TransferRecord];
    const [f1] = failed as [TransferRecord];
    // Committed, but the source's freeze was never finalized (Funding still frozen).
    await setState(c1.source, c1, 'frozen');
    planted.push({ t: c1, kind: 'source_left_frozen' });
    // Committed, but the target has no record of the deposit.
    await dropOpRow(c2.target, c2);
    await dropClaim(c2.target, c2);
    planted.push({ t: c2, kind: 'target_deposit_missing' });
    await setState(c3.target, c3, 'refused');
    planted.push({ t: c3, kind: 'target_deposit_refused' });
    await dropOpRow(c4.source, c4);
    await dropClaim(c4.source, c4);
    planted.push({ t: c4, kind: 'source_withdraw_missing' });
    await setState(c5.source, c5, 'rolled_back');
    planted.push({ t: c5, kind: 'source_withdraw_undone' });
    await setAmount(c6.target, c6, AMOUNT + 1n);
    planted.push({ t: c6, kind: 'operation_differs' });
    // The claim without its applied row: the ledger says the deposit is still in flight.
    await dropOpRow(c7.target, c7);
    planted.push({ t: c7, kind: 'ledger_in_flight' });
    // Rolled back, but the source's withdraw stands (committed) and, for another, the target credited.
    await setState(r1.source, r1, 'committed');
    planted.push({ t: r1, kind: 'source_withdraw_standing' });
    // (Its refusal was recorded in the claim: replaced by a deposit that applied.)
    await dropClaim(r2.target, r2);
    await ledgers.store.movement(r2.target, 'deposit', { reqId: r2.reqId, userId: r2.userId, assetId: 1, amount: AMOUNT });
    planted.push({ t: r2, kind: 'target_deposit_standing' });
    // Failed, but the source holds a freeze/debit.
    await dropOpRow(f1.source, f1);
    await dropClaim(f1.source, f1);
    await ledgers.store.movement(f1.source, 'credit', { reqId: randomUUID(), userId: f1.userId, assetId: 1, amount: 10_000n });
    await ledgers.store.movement(f1.source, 'withdraw', { reqId: f1.reqId, userId: f1.userId, assetId: 1, amount: AMOUNT });
    planted.push({ t: f1, kind: 'source_left_frozen' });
    const touched = new Set(planted.map((p) => p.t.reqId));
    clean = [...committed, ...rolledBack, ...failed].filter((t) => !touched.has(t.reqId));
  });

  it('reports every planted mismatch with its req_id and kind, and nothing else', async () => {
    // A row this version cannot read is reported too (it cannot be checked).
    const corrupt = clean.pop()!;
    await transfers.client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF EXISTS', ['teleported', corrupt.reqId], lwt);
    const { summary, found } = await run();
    const expected = [...planted.map((p) => [p.t.reqId, p.kind]), [corrupt.reqId, 'corrupt_row']];
    expect(found.map((m) => [m.reqId, m.kind]).sort()).toEqual(expected.sort());
    expect(summary.mismatches).toBe(planted.length + 1);
    expect(summary.byKind).toMatchObject({ source_left_frozen: 2, corrupt_row: 1, ledger_in_flight: 1 });
    // Checked = compared with both ledgers, mismatched or not: every finished transfer but the unreadable one.
    expect(summary.checked).toBe(clean.length + planted.length);
    // Each mismatch names the ledger and what it holds.
    const frozen = found.find((m) => m.reqId === planted[0]!.t.reqId)!;
    expect(frozen).toMatchObject({ state: 'committed', ledger: planted[0]!.t.source });
    expect(frozen.detail).toContain('state frozen');
    expect(found.find((m) => m.kind === 'operation_differs')!.detail).toContain(`amount ${AMOUNT + 1n} ≠ ${AMOUNT}`);
    const stored = await transfers.store.lastReconciliation();
    // The library does not store; the CLI and the ops endpoint do (next test).
    expect(stored).toBeUndefined();
  });

  it('a ledger that does not answer leaves transfers unverified, never clean and never mismatched', async () => {
    ledgers.faults.trading.set({ ...NO_FAULTS, errorRate: 1 });
    try {
      const { summary, found } = await run();
      // Every transfer touches Trading: those with a mismatch on Funding's side are still reported (and
      // counted checked), every other one is unverified.
      expect(found.every((m) => m.ledger !== 'trading')).toBe(true);
      const mismatched = new Set(found.filter((m) => m.kind !== 'corrupt_row').map((m) => m.reqId));
      expect(mismatched.size).toBeGreaterThan(0);
      expect(summary.checked).toBe(mismatched.size);
      expect(summary.unverified).toBe(clean.length + planted.length - mismatched.size);
    } finally {
      ledgers.faults.trading.set(NO_FAULTS);
    }
  });

  it('npm run reconcile prints each mismatch and a summary, records the run, and exits 1', async () => {
    const env = {
      ...process.env, NODE_ENV: 'test', CASSANDRA_KEYSPACE: keyspace, LOG_LEVEL: 'silent',
      FUNDING_URL: ledgers.urls.funding, TRADING_URL: ledgers.urls.trading,
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/reconcile.ts', '--since', since.toISOString(), '--until', new Date(Date.now() + 1_000).toISOString()], { cwd: root, env });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(1);
    for (const p of planted) expect(out).toContain(`MISMATCH ${p.t.reqId} ${p.t.state} ${p.kind}`);
    expect(out).toMatch(/mismatches: 11\n/);
    expect(out).toContain(`checked (finished, both ledgers answered): ${clean.length + planted.length}`);
    const stored = await transfers.store.lastReconciliation();
    expect(stored).toMatchObject({ mismatches: 11, checked: clean.length + planted.length, active: 1, unverified: 0 });
    expect(stored!.actor).toMatch(/^reconcile-cli /);

    const usage = spawn(process.execPath, ['--import', 'tsx', 'scripts/reconcile.ts', '--since', 'yesterday'], { cwd: root, env });
    expect(await new Promise<number | null>((resolve) => usage.on('exit', resolve))).toBe(3);
  });
});
