// The newest schema/transfer migration this code reads and writes. A new release's pods can start before the
// migration Job has applied it (`kubectl apply -k` creates both): until it is recorded in schema_migrations
// the API answers not ready and the worker takes no job, so nothing runs statements the schema cannot serve.
// Adding a migration means raising this constant (a unit test compares it with schema/transfer).
import { isMissingSchema, type CassandraClient } from '@it/cassandra';

export const REQUIRED_TRANSFER_MIGRATION = '003_history_reconciliation.cql';

/**
 * Whether the session's keyspace has the required migration: false too when no migration ever ran there (no
 * keyspace or no schema_migrations table yet). Rejects only when Cassandra cannot answer.
 */
export async function transferSchemaApplied(client: CassandraClient): Promise<boolean> {
  try {
    const rs = await client.execute('SELECT version FROM schema_migrations WHERE version = ?', [REQUIRED_TRANSFER_MIGRATION], {
      prepare: true,
      isIdempotent: true,
    });
    return rs.rowLength > 0;
  } catch (err) {
    if (isMissingSchema(err)) return false;
    throw err;
  }
}
