import { randomUUID } from 'node:crypto';
import { loadBaseConfig } from '@it/config';
import { createCassandraClient, serialConsistency, TransferStore, type NewTransfer } from '../src/index.ts';

export function testStore(clock?: () => Date) {
  const config = loadBaseConfig({ ...process.env, NODE_ENV: 'test' });
  const client = createCassandraClient(config, config.CASSANDRA_KEYSPACE);
  const store = new TransferStore(client, { serialConsistency: serialConsistency(config), ...(clock ? { clock } : {}) });
  return { client, store, config };
}

let nextUser = BigInt(Date.now()) * 1000n;
export function newTransfer(overrides: Partial<NewTransfer> = {}): NewTransfer {
  return {
    reqId: randomUUID(),
    userId: nextUser++,
    assetId: 1,
    amount: 1000n,
    source: 'funding',
    target: 'trading',
    nextAttemptAt: new Date(Date.now() + 30_000),
    ...overrides,
  };
}
