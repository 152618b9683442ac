// `npm run migrate [transfer] [ledger]`: applies schema/transfer to the service's keyspace and schema/ledger to
// the reference ledgers' keyspace (both when none is named). Built as dist/migrate.js, it is the Kubernetes
// migration Job's command, which names `transfer` only: production's ledgers are the exchange's own services.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrateAll, type MigrationResult } from '@it/cassandra';
import { cassandraSettings, loadBaseConfig } from '@it/config';
import { errorMessage } from '@it/runtime';

const schemaRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../schema');

const schemas = ['transfer', 'ledger'] as const;
type Schema = (typeof schemas)[number];

export async function migrateProduct(env: NodeJS.ProcessEnv = process.env, only: readonly Schema[] = schemas): Promise<MigrationResult[]> {
  const config = loadBaseConfig(env);
  const keyspaces: Record<Schema, string> = { transfer: config.CASSANDRA_KEYSPACE, ledger: config.CASSANDRA_LEDGER_KEYSPACE };
  return migrateAll(
    cassandraSettings(config),
    config.CASSANDRA_REPLICATION,
    only.map((schema) => ({ keyspace: keyspaces[schema], dir: path.join(schemaRoot, schema) })),
  );
}

function schemasFromArgs(args: string[]): readonly Schema[] {
  const unknown = args.filter((a) => !(schemas as readonly string[]).includes(a));
  if (unknown.length) throw new Error(`unknown schema ${unknown.join(', ')}: expected ${schemas.join(' and/or ')}`);
  return args.length ? (args as Schema[]) : schemas;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  Promise.resolve()
    .then(() => migrateProduct(process.env, schemasFromArgs(process.argv.slice(2))))
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
