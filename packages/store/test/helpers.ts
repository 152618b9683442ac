import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCassandraClient, migrate } from '@it/cassandra';
import { cassandraSettings, loadBaseConfig } from '@it/config';
import { openTransferStore, type NewTransfer } from '../src/index.ts';

const schemaDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../schema/transfer');

/**
 * A store on a keyspace of its own (migrated from schema/transfer, dropped by `close`), so what one test
 * file counts in the active index is not disturbed by transfers other tests leave active. Pass `keyspace`
 * to open a second store on an existing one.
 */
export async function testStore(opts: { clock?: () => Date; keyspace?: string } = {}) {
  const keyspace = opts.keyspace ?? `store_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const config = loadBaseConfig({ ...process.env, NODE_ENV: 'test', CASSANDRA_KEYSPACE: keyspace });
  if (!opts.keyspace) {
    const admin = createCassandraClient(cassandraSettings(config));
    try {
      await migrate(admin, { keyspace, replication: config.CASSANDRA_REPLICATION, dir: schemaDir });
    } finally {
      await admin.shutdown();
    }
  }
  const { client, store } = openTransferStore(cassandraSettings(config, keyspace), opts.clock ? { clock: opts.clock } : {});
  return {
    client,
    store,
    config,
    keyspace,
    close: async () => {
      if (!opts.keyspace) await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
      await client.shutdown();
    },
  };
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

/** Runs fn(0..n-1) with at most `concurrency` calls in flight. */
export async function pool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}
