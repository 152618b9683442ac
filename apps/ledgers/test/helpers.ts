import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCassandraClient, migrate } from '@it/cassandra';
import { cassandraSettings, loadLedgerConfig, type LedgerConfig } from '@it/config';
import { createLogger } from '@it/observability';
import { startLedgers, type RunningLedgers, type StartLedgersOptions } from '../src/index.ts';

const schemaDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../schema/ledger');

export function testConfig(overrides: Record<string, string> = {}): LedgerConfig {
  return loadLedgerConfig({ ...process.env, NODE_ENV: 'test', ...overrides });
}

/** Applies schema/ledger (idempotent, checksummed), so this file also runs without `npm run migrate` first. */
export async function ensureLedgerSchema(config: LedgerConfig): Promise<void> {
  const client = createCassandraClient(cassandraSettings(config));
  try {
    await migrate(client, { keyspace: config.CASSANDRA_LEDGER_KEYSPACE, replication: config.CASSANDRA_REPLICATION, dir: schemaDir });
  } finally {
    await client.shutdown();
  }
}

/** Both ledgers in this process on free ports, logging only problems. */
export async function startTestLedgers(config = testConfig(), opts: StartLedgersOptions = {}): Promise<RunningLedgers> {
  await ensureLedgerSchema(config);
  return startLedgers(config, {
    fundingPort: 0,
    tradingPort: 0,
    logger: createLogger('ledgers', process.env.LEDGER_TEST_LOG_LEVEL ?? 'error'),
    shutdownGraceMs: 1_000,
    ...opts,
  });
}

let nextUser = BigInt(Date.now()) * 1_000_000n + BigInt(process.pid % 1000) * 1000n;
export function newUserId(): bigint {
  return nextUser++;
}
