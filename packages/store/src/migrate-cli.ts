// `npm run migrate`: applies schema/transfer to the service's keyspace and schema/ledger to the reference
// ledgers' keyspace. Also the Kubernetes migration Job's command.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBaseConfig } from '@it/config';
import { createCassandraClient } from './client.ts';
import { migrate } from './migrate.ts';

const schemaRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../schema');

export async function migrateAll(env: NodeJS.ProcessEnv = process.env) {
  const config = loadBaseConfig(env);
  const client = createCassandraClient(config);
  try {
    await client.connect();
    const results = [];
    for (const [keyspace, dir] of [
      [config.CASSANDRA_KEYSPACE, 'transfer'],
      [config.CASSANDRA_LEDGER_KEYSPACE, 'ledger'],
    ] as const) {
      if (!fs.existsSync(path.join(schemaRoot, dir))) continue;
      results.push(
        await migrate(client, { keyspace, replication: config.CASSANDRA_REPLICATION, dir: path.join(schemaRoot, dir) }),
      );
    }
    return results;
  } finally {
    await client.shutdown();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  migrateAll()
    .then((results) => {
      for (const r of results) {
        console.log(`[migrate] ${r.keyspace}: applied ${r.applied.length ? r.applied.join(', ') : 'nothing'}; already had ${r.skipped.length}`);
      }
    })
    .catch((e: unknown) => {
      console.error('[migrate] failed:', e instanceof Error ? e.message : e);
      process.exit(1);
    });
}
