// The adapter contract kit against the reference ledgers, through the real HTTP adapter and the real
// Cassandra: once with faults off, once with latency, errors before applying and lost responses.
import { afterAll, beforeAll, describe } from 'vitest';
import { createHttpAdapter } from '@it/adapters';
import { defineAdapterContract, type LedgerKind } from '@it/contract-kit';
import type { Account } from '@it/domain';
import { ledgerAdminClient, type FaultSettings, type RunningLedgers } from '../src/index.ts';
import { newUserId, startTestLedgers, testConfig } from './helpers.ts';

const config = testConfig();
let ledgers: RunningLedgers;
beforeAll(async () => {
  ledgers = await startTestLedgers(config);
});
afterAll(async () => {
  await ledgers?.close();
});

const admin = (ledger: Account) => ledgerAdminClient(ledgers.urls[ledger], config.LEDGER_ADMIN_TOKEN);

const CHAOS: Partial<FaultSettings> = {
  latencyMs: 20,
  latencyJitterMs: 30,
  errorRate: 0.1,
  dropResponseRate: 0.3,
  seed: 20_250_101,
};

const KINDS: Record<Account, LedgerKind> = { funding: 'two-phase', trading: 'single-phase' };

/** The HTTP adapter on one reference ledger: the saga's operations and the reconciliation read alike. */
const http = (ledger: Account) =>
  createHttpAdapter({
    name: ledger,
    baseUrl: ledgers.urls[ledger],
    timeoutMs: 3_000,
    headers: { authorization: `Bearer ${config.LEDGER_SERVICE_TOKEN}` },
  });

for (const faults of [false, true]) {
  for (const ledger of ['funding', 'trading'] as const) {
    describe(`${ledger} ledger, faults ${faults ? 'on' : 'off'}`, () => {
      beforeAll(async () => {
        await admin(ledger).setFaults(faults ? CHAOS : {});
      });
      afterAll(async () => {
        await admin(ledger).setFaults({});
      });

      defineAdapterContract({
        name: `reference ${ledger} over HTTP`,
        kind: KINDS[ledger],
        faults,
        unknownAssetId: 1_000_001,
        newUserId,
        makeAdapter: () => http(ledger),
        makeReader: () => http(ledger),
        credit: (u, a, amount) => admin(ledger).credit(u, a, amount),
        balance: (u, a) => admin(ledger).balance(u, a),
      });
    });
  }
}
