// The ledgers started in this process with a production configuration: fault injection is refused (at
// start-up and on the admin endpoint) and only the configured service token is accepted.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DEV_LEDGER_SERVICE_TOKEN, loadLedgerConfig } from '@it/config';
import { ledgerAdminClient, type RunningLedgers } from '../src/index.ts';
import { ensureLedgerSchema, newUserId, startTestLedgers, testConfig } from './helpers.ts';

const SERVICE_TOKEN = 'production-test-service-token';
const ADMIN_TOKEN = 'production-test-admin-token';
const production = (env: Record<string, string> = {}) =>
  loadLedgerConfig({
    ...process.env,
    NODE_ENV: 'production',
    // Only migrations read the replication; the keyspace itself is the test one, created by testConfig().
    CASSANDRA_REPLICATION: 'NetworkTopologyStrategy:datacenter1=3',
    LEDGER_ADMIN_TOKEN: ADMIN_TOKEN,
    LEDGER_SERVICE_TOKEN: SERVICE_TOKEN,
    ...env,
  });

let ledgers: RunningLedgers;
beforeAll(async () => {
  await ensureLedgerSchema(testConfig());
  ledgers = await startTestLedgers(production());
});
afterAll(async () => {
  await ledgers?.close();
});

const json = { 'content-type': 'application/json' };

describe('reference ledgers with NODE_ENV=production', () => {
  it('PUT /v1/admin/faults: 403, and the faults stay off', async () => {
    const res = await fetch(`${ledgers.urls.funding}/v1/admin/faults`, {
      method: 'PUT',
      headers: { ...json, authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ error_rate: 1 }),
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      status: 'forbidden',
      error: 'fault injection is only available with NODE_ENV development or test',
    });
    expect(ledgers.faults.funding.active).toBe(false);
    const read = await fetch(`${ledgers.urls.funding}/v1/admin/faults`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(await read.json()).toMatchObject({ error_rate: 0 });
  });

  it('accepts the configured service token, not the development one', async () => {
    const u = newUserId();
    await ledgerAdminClient(ledgers.urls.trading, ADMIN_TOKEN).credit(u, 1, 10n);
    const withdraw = (token: string) =>
      fetch(`${ledgers.urls.trading}/v1/withdraw`, {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${token}` },
        body: JSON.stringify({ req_id: randomUUID(), user_id: u.toString(), asset_id: 1, amount: '4' }),
      });
    expect((await withdraw(DEV_LEDGER_SERVICE_TOKEN)).status).toBe(401);
    expect((await withdraw(SERVICE_TOKEN)).status).toBe(200);
    expect(await ledgerAdminClient(ledgers.urls.trading, ADMIN_TOKEN).balance(u, 1)).toEqual({ available: 6n, frozen: 0n });
  });

  it('start-up with a FAULT_* setting fails with a ConfigError, before connecting', async () => {
    await expect(startTestLedgers(production({ FAULT_DROP_RESPONSE_RATE: '0.5' }))).rejects.toThrow(ConfigError);
    await expect(startTestLedgers(production(), { latencyJitterMs: 10 })).rejects.toThrow(/FAULT_LATENCY_JITTER_MS: fault injection/);
  });
});
