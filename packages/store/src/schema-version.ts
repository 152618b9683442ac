// The newest schema/transfer migration this code reads and writes. A new release's pods can start before the
// migration Job has applied it (`kubectl apply -k` creates both): until it is recorded in schema_migrations
// the API answers not ready and the worker takes no job, so nothing runs statements the schema cannot serve.
// Adding a migration means raising this constant (a unit test compares it with schema/transfer).
import type { CassandraClient } from '@it/cassandra';

export const REQUIRED_TRANSFER_MIGRATION = '003_history_reconciliation.cql';

/**
 * Whether the session's keyspace has the required migration. Rejects when Cassandra cannot answer, or when no
 * migration ever ran there (no schema_migrations table): callers treat both as "not yet".
 */
export async function transferSchemaApplied(client: CassandraClient): Promise<boolean> {
  const rs = await client.execute('SELECT version FROM schema_migrations WHERE version = ?', [REQUIRED_TRANSFER_MIGRATION], {
    prepare: true,
    isIdempotent: true,
  });
  return rs.rowLength > 0;
}
