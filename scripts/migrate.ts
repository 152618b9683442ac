// `npm run migrate`: applies schema/transfer to the service's keyspace and schema/ledger to the reference
// ledgers' keyspace. Also the Kubernetes migration Job's command.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrateAll, type MigrationResult } from '@it/cassandra';
import { cassandraSettings, loadBaseConfig } from '@it/config';
import { errorMessage } from '@it/runtime';

const schemaRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../schema');

export async function migrateProduct(env: NodeJS.ProcessEnv = process.env): Promise<MigrationResult[]> {
  const config = loadBaseConfig(env);
  return migrateAll(cassandraSettings(config), config.CASSANDRA_REPLICATION, [
    { keyspace: config.CASSANDRA_KEYSPACE, dir: path.join(schemaRoot, 'transfer') },
    { keyspace: config.CASSANDRA_LEDGER_KEYSPACE, dir: path.join(schemaRoot, 'ledger') },
  ]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  migrateProduct()
    .then((results) => {
      for (const r of results) {
        console.log(`[migrate] ${r.keyspace}: applied ${r.applied.length ? r.applied.join(', ') : 'nothing'}; already had ${r.skipped.length}`);
      }
    })
    .catch((err: unknown) => {
      console.error('[migrate] failed:', errorMessage(err));
      process.exit(1);
    });
}
