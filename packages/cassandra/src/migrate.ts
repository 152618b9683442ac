// Versioned, idempotent CQL migrations. Each `NNN_name.cql` file in a schema directory is applied once per
// keyspace, in order, and recorded in `<keyspace>.schema_migrations` with a checksum so an edited,
// already-applied file is refused instead of silently skipped.
import fs from 'node:fs';
import path from 'node:path';
import { sha256, sleep } from '@it/runtime';
import { createCassandraClient, type CassandraClient, type CassandraSettings } from './client.ts';

export interface MigrationResult {
  keyspace: string;
  applied: string[];
  skipped: string[];
}

/** A keyspace and the directory of the migrations it receives. */
export interface SchemaTarget {
  keyspace: string;
  dir: string;
}

export function splitStatements(cql: string): string[] {
  return cql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `NetworkTopologyStrategy:dc1=3:dc2=3` or `SimpleStrategy:1` → the CQL replication map. */
export function replicationMap(spec: string): Record<string, string | number> {
  const [strategy, ...rest] = spec.split(':');
  if (strategy === 'SimpleStrategy') return { class: 'SimpleStrategy', replication_factor: Number(rest[0]) };
  const map: Record<string, string | number> = { class: 'NetworkTopologyStrategy' };
  for (const part of rest) {
    const [dc, rf] = part.split('=');
    if (dc && rf) map[dc] = Number(rf);
  }
  return map;
}

/**
 * The driver waits for schema agreement after each DDL statement, but only up to
 * maxSchemaAgreementWaitSeconds and without failing; a busy cluster needs longer, so wait here until every
 * node reports the same schema version.
 */
async function waitForSchemaAgreement(client: CassandraClient, timeoutMs = 120_000): Promise<void> {
  const metadata = client.metadata as unknown as { checkSchemaAgreement(): Promise<boolean> };
  const deadline = Date.now() + timeoutMs;
  while (!(await metadata.checkSchemaAgreement())) {
    if (Date.now() > deadline) throw new Error('schema versions did not converge across the cluster');
    await sleep(250);
  }
}

export async function migrate(
  client: CassandraClient,
  opts: SchemaTarget & { replication: string },
): Promise<MigrationResult> {
  const { keyspace, dir } = opts;
  const replication = JSON.stringify(replicationMap(opts.replication)).replaceAll('"', "'");
  await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = ${replication}`);
  await client.execute(
    `CREATE TABLE IF NOT EXISTS ${keyspace}.schema_migrations (version text PRIMARY KEY, checksum text, applied_at timestamp)`,
  );
  await waitForSchemaAgreement(client);
  await client.execute(`USE ${keyspace}`);

  const applied = new Map<string, string>();
  const rows = await client.execute(`SELECT version, checksum FROM ${keyspace}.schema_migrations`);
  for (const r of rows.rows) applied.set(r.get('version') as string, r.get('checksum') as string);

  const files = fs.readdirSync(dir).filter((f) => /^\d+_.+\.cql$/.test(f)).sort();
  const result: MigrationResult = { keyspace, applied: [], skipped: [] };
  for (const file of files) {
    const cql = fs.readFileSync(path.join(dir, file), 'utf8');
    const checksum = sha256(cql).toString('hex');
    const done = applied.get(file);
    if (done !== undefined) {
      if (done !== checksum) throw new Error(`migration ${file} changed after it was applied to ${keyspace}`);
      result.skipped.push(file);
      continue;
    }
    for (const statement of splitStatements(cql)) {
      await client.execute(statement);
    }
    await waitForSchemaAgreement(client);
    await client.execute(
      `INSERT INTO ${keyspace}.schema_migrations (version, checksum, applied_at) VALUES (?, ?, ?)`,
      [file, checksum, new Date()],
      { prepare: true },
    );
    result.applied.push(file);
  }
  return result;
}

/** Applies each target's migrations to its keyspace, in order, over one connection of its own. */
export async function migrateAll(
  settings: Omit<CassandraSettings, 'keyspace'>,
  replication: string,
  targets: SchemaTarget[],
): Promise<MigrationResult[]> {
  const client = createCassandraClient(settings);
  try {
    await client.connect();
    const results: MigrationResult[] = [];
    for (const target of targets) results.push(await migrate(client, { ...target, replication }));
    return results;
  } finally {
    await client.shutdown();
  }
}
